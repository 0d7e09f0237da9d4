"""scikit-learn's digits with Chainer, in the shape of the SageMaker Python SDK's "Using Chainer"
page: training saves the network with ``chainer.serializers.save_npz`` to ``model.npz``; serving
defines only ``model_fn`` (the Chainer model server requires it) and leaves input, prediction
(``model(data)``) and output to the container's defaults.

Training reads ``*.csv`` (label first, no header) from ``SM_CHANNEL_TRAIN``; hyperparameters
``--epochs``, ``--hidden``, ``--lr``. It writes ``training-run.json`` beside the model: what the
script saw (its arguments and the ``SM_*`` variables the toolkit sets), for the tests.
"""

import argparse
import json
import os
from pathlib import Path

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

HIDDEN = 32


class DigitsNet(chainer.Chain):
    def __init__(self, hidden=HIDDEN):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(64, hidden)
            self.l2 = L.Linear(hidden, 10)

    def forward(self, pixels):
        return self.l2(F.relu(self.l1(pixels / 16.0)))


def model_fn(model_dir):
    model = DigitsNet()
    chainer.serializers.load_npz(os.path.join(model_dir, "model.npz"), model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    arguments = parser.parse_args()

    files = sorted(Path(arguments.train).glob("*.csv"))
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    pixels, labels = table[:, 1:].astype(np.float32), table[:, 0].astype(np.int32)
    np.random.seed(0)
    classifier = L.Classifier(DigitsNet(arguments.hidden))
    optimizer = chainer.optimizers.Adam(alpha=arguments.lr)
    optimizer.setup(classifier)
    for epoch in range(arguments.epochs):
        classifier.cleargrads()
        classifier(pixels, labels).backward()
        optimizer.update()
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        accuracy = float((classifier.predictor(pixels).array.argmax(axis=1) == labels).mean())
    print(f"train_accuracy={accuracy:.4f}")
    chainer.serializers.save_npz(os.path.join(arguments.model_dir, "model.npz"), classifier.predictor)
    seen = {"epochs": arguments.epochs, "hidden": arguments.hidden, "rows": len(table), "chainer": chainer.__version__,
            **{name: value for name, value in os.environ.items() if name.startswith("SM_")}}
    Path(arguments.model_dir, "training-run.json").write_text(json.dumps(seen))


if __name__ == "__main__":
    main()
