"""Iris with MXNet Gluon, for SageMaker's MXNet containers (script mode; the shape of the
SageMaker Python SDK's MXNet Gluon example).

Training: reads ``iris.csv`` (label first, no header) from ``SM_CHANNEL_TRAIN``, fits a small
multi-layer perceptron (full-batch Adam), prints ``train_accuracy=...`` and saves the net's
parameters to ``SM_MODEL_DIR/model.params`` (a Gluon net is saved by its own code, as the SDK's
MXNet page says). Serving (the MXNet model server): ``model_fn`` builds the net and loads them;
the container's default ``input_fn`` reads JSON or NPY rows of the four features into an
NDArray; ``predict_fn`` returns the class index of each row.
"""

import argparse
import os
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd


def network() -> gluon.nn.HybridSequential:
    net = gluon.nn.HybridSequential()
    with net.name_scope():
        net.add(gluon.nn.Dense(16, activation="relu"), gluon.nn.Dense(3))
    return net


def train(arguments) -> None:
    files = sorted(Path(arguments.train).glob("*.csv"))
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    features = nd.array(table[:, 1:])
    labels = nd.array(table[:, 0])
    mx.random.seed(0)
    net = network()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": arguments.lr})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for epoch in range(arguments.epochs):
        with autograd.record():
            loss = loss_fn(net(features), labels).mean()
        loss.backward()
        trainer.step(1)
        if epoch % 25 == 0 or epoch == arguments.epochs - 1:
            print(f"epoch={epoch} loss={loss.asscalar():.4f}")
    accuracy = (net(features).argmax(axis=1) == labels).mean().asscalar()
    print(f"train_accuracy={accuracy:.4f}")
    net.save_parameters(os.path.join(arguments.model_dir, "model.params"))


def model_fn(model_dir):
    net = network()
    net.load_parameters(os.path.join(model_dir, "model.params"), ctx=mx.cpu())
    return net


def predict_fn(rows, net):
    return net(rows).argmax(axis=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    train(parser.parse_args())
