"""scikit-learn's digits with a PyTorch module, for SageMaker's PyTorch containers, served by the
PyTorch inference toolkit's defaults: training saves TorchScript to ``model.pt`` and the script
defines no serving function.

Training reads ``*.csv`` (label first, no header) from ``SM_CHANNEL_TRAIN``; hyperparameters
``--epochs``, ``--hidden``, ``--lr``. It writes ``training-run.json`` beside the model: what the
script saw (its arguments and the ``SM_*`` variables the toolkit sets), for the tests.
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn


class DigitsNet(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, pixels):
        return self.layers(pixels / 16.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    arguments = parser.parse_args()

    files = sorted(Path(arguments.train).glob("*.csv"))
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    pixels = torch.tensor(table[:, 1:], dtype=torch.float32)
    labels = torch.tensor(table[:, 0], dtype=torch.long)
    torch.manual_seed(0)
    model = DigitsNet(arguments.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=arguments.lr)
    for epoch in range(arguments.epochs):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(pixels), labels)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(pixels).argmax(dim=1) == labels).float().mean().item()
    print(f"train_accuracy={accuracy:.4f}")
    torch.jit.save(torch.jit.script(model), os.path.join(arguments.model_dir, "model.pt"))
    seen = {"epochs": arguments.epochs, "hidden": arguments.hidden, "rows": len(table), "torch": torch.__version__,
            **{name: value for name, value in os.environ.items() if name.startswith("SM_")}}
    Path(arguments.model_dir, "training-run.json").write_text(json.dumps(seen))


if __name__ == "__main__":
    main()
