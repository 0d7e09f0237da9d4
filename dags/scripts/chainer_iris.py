"""Iris with Chainer, for SageMaker's Chainer containers (the shape of the SageMaker Python SDK's
"Using Chainer" page).

Training: reads ``iris.csv`` (label first, no header) from ``SM_CHANNEL_TRAIN``, fits a small
multi-layer perceptron (``chainer.links.Classifier``), prints ``train_accuracy=...`` and saves the
predictor's weights with ``chainer.serializers.save_npz`` to ``SM_MODEL_DIR/model.npz``.
Serving (the Chainer model server): ``model_fn`` (required by the container) loads the weights;
the container's default ``input_fn`` reads JSON, CSV or NPY rows of the four features;
``predict_fn`` returns the class index of each row.
"""

import argparse
import os
from pathlib import Path

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np


class MLP(chainer.Chain):
    def __init__(self, hidden=16, classes=3):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(4, hidden)
            self.l2 = L.Linear(hidden, classes)

    def forward(self, x):
        return self.l2(F.relu(self.l1(x)))


def train(arguments) -> None:
    files = sorted(Path(arguments.train).glob("*.csv"))
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    features = table[:, 1:].astype(np.float32)
    labels = table[:, 0].astype(np.int32)
    np.random.seed(0)
    classifier = L.Classifier(MLP())
    optimizer = chainer.optimizers.Adam(alpha=arguments.lr)
    optimizer.setup(classifier)
    for epoch in range(arguments.epochs):
        classifier.cleargrads()
        loss = classifier(features, labels)
        loss.backward()
        optimizer.update()
        if epoch % 25 == 0 or epoch == arguments.epochs - 1:
            print(f"epoch={epoch} loss={float(loss.array):.4f}")
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        accuracy = float((classifier.predictor(features).array.argmax(axis=1) == labels).mean())
    print(f"train_accuracy={accuracy:.4f}")
    chainer.serializers.save_npz(os.path.join(arguments.model_dir, "model.npz"), classifier.predictor)


def model_fn(model_dir):
    model = MLP()
    chainer.serializers.load_npz(os.path.join(model_dir, "model.npz"), model)
    return model


def predict_fn(rows, model):
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        scores = model(np.asarray(rows, dtype=np.float32).reshape(-1, 4))
    return scores.array.argmax(axis=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    train(parser.parse_args())
