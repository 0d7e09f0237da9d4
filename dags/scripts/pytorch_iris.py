"""Iris with PyTorch, for SageMaker's PyTorch containers (script mode).

Training: reads ``iris.csv`` (label first, no header) from ``SM_CHANNEL_TRAIN``, fits a small
multi-layer perceptron, saves its weights to ``SM_MODEL_DIR/model.pth``. Serving (the SageMaker
PyTorch inference toolkit's handlers): ``model_fn`` loads the weights, ``input_fn`` reads CSV, NPY
or JSON rows of the four features (a list of rows, or TensorFlow Serving's ``{"instances": rows}``),
``predict_fn`` returns the class index of each row.
"""

import argparse
import io
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn


def network() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def train(arguments) -> None:
    files = sorted(Path(arguments.train).glob("*.csv"))
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    features = torch.tensor(table[:, 1:], dtype=torch.float32)
    labels = torch.tensor(table[:, 0], dtype=torch.long)
    torch.manual_seed(0)
    model = network()
    optimizer = torch.optim.Adam(model.parameters(), lr=arguments.lr)
    for epoch in range(arguments.epochs):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(features), labels)
        loss.backward()
        optimizer.step()
        if epoch % 50 == 0 or epoch == arguments.epochs - 1:
            print(f"epoch={epoch} loss={loss.item():.4f}")
    accuracy = (model(features).argmax(dim=1) == labels).float().mean().item()
    print(f"train_accuracy={accuracy:.4f}")
    torch.save(model.state_dict(), Path(arguments.model_dir) / "model.pth")


def model_fn(model_dir):
    model = network()
    model.load_state_dict(torch.load(Path(model_dir) / "model.pth", map_location="cpu"))
    return model.eval()


def input_fn(body, content_type):
    if content_type == "application/x-npy":
        return torch.tensor(np.load(io.BytesIO(body), allow_pickle=False), dtype=torch.float32)
    if isinstance(body, (bytes, bytearray)):
        body = body.decode()
    if content_type == "application/json":
        rows = json.loads(body)
        rows = rows.get("instances", rows) if isinstance(rows, dict) else rows
        return torch.tensor(rows, dtype=torch.float32)
    if content_type == "text/csv":
        return torch.tensor(np.loadtxt(body.splitlines(), delimiter=",", ndmin=2), dtype=torch.float32)
    raise ValueError(f"unsupported content type {content_type!r}: send text/csv, application/json or "
                     "application/x-npy")


def predict_fn(rows, model):
    with torch.no_grad():
        return model(rows).argmax(dim=1).numpy()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    train(parser.parse_args())
