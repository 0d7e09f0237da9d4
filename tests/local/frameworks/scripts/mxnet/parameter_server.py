"""Digits with a Gluon Trainer on MXNet's distributed kvstore (``dist_sync``), as a script run
with ``distribution={"parameter_server": {"enabled": True}}``: the MXNet container starts a
scheduler and a server and runs this script as a worker (``DMLC_*`` variables)."""

import argparse
import os
from pathlib import Path

import mxnet as mx
import numpy as np
from gluon_digits import network
from mxnet import autograd, gluon, nd

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()
    store = mx.kv.create("dist_sync")
    print(f"kvstore={store.type} role={os.environ['DMLC_ROLE']} rank={store.rank} workers={store.num_workers}")
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2)
                            for path in sorted(Path(args.train).glob("*.csv"))]).astype("float32")
    features, labels = table[:, 1:], table[:, 0]
    mx.random.seed(0)
    net = network()
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01}, kvstore=store)
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(features, labels), batch_size=64, shuffle=True,
                                   last_batch="discard")  # dist_sync keeps one batch size
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for epoch in range(args.epochs):
        for data, label in loader:
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(data.shape[0])
    accuracy = float((net(nd.array(features)).argmax(axis=1).asnumpy() == labels).mean())
    print(f"train_accuracy={accuracy:.4f}")
    net.save_parameters(os.path.join(args.model_dir, "model.params"))
