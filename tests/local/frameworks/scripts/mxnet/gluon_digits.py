"""Handwritten digits with MXNet Gluon, for SageMaker's MXNet images (script mode).

The shape of the SageMaker Python SDK README's MXNet Gluon example: a Gluon network trained on
the ``train`` channel (``digits.csv``: the label, then 64 pixel values in [0, 1]; no header),
saved as the README says for Gluon (the net's parameters, ``model.params``), and a ``model_fn``
that builds the net and loads them. Training also exports the hybridized net
(``model-symbol.json``, ``model-0000.params``) with ``model-shapes.json``: the files the MXNet
model server's default model_fn loads as a Module.
"""

import argparse
import json
import os
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd

FEATURES = 64
CLASSES = 10


def network() -> gluon.nn.HybridSequential:
    net = gluon.nn.HybridSequential()
    with net.name_scope():
        net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(CLASSES))
    return net


def train(args) -> gluon.nn.HybridSequential:
    files = sorted(Path(args.train).glob("*.csv"))
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files]).astype("float32")
    features, labels = table[:, 1:], table[:, 0]
    mx.random.seed(0)
    np.random.seed(0)
    net = network()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(features, labels), batch_size=args.batch_size,
                                   shuffle=True)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": args.lr})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for epoch in range(args.epochs):
        total = 0.0
        for data, label in loader:
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(data.shape[0])
            total += loss.sum().asscalar()
        print(f"epoch={epoch} loss={total / len(labels):.4f}")
    accuracy = float((net(nd.array(features)).argmax(axis=1).asnumpy() == labels).mean())
    print(f"train_accuracy={accuracy:.4f}")
    return net


def save(net, model_dir: str) -> None:
    net.save_parameters(os.path.join(model_dir, "model.params"))
    net.hybridize()
    net(nd.zeros((1, FEATURES)))
    net.export(os.path.join(model_dir, "model"), epoch=0)
    with open(os.path.join(model_dir, "model-shapes.json"), "w") as shapes:
        json.dump([{"name": "data", "shape": [1, FEATURES]}], shapes)


def model_fn(model_dir):
    net = network()
    net.load_parameters(os.path.join(model_dir, "model.params"), ctx=mx.cpu())
    return net


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    arguments = parser.parse_args()
    save(train(arguments), arguments.model_dir)
