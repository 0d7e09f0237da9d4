"""Iris with XGBoost, for SageMaker's XGBoost container in script mode.

Training: reads ``iris.csv`` (label first, no header) from ``SM_CHANNEL_TRAIN``, trains a booster
(``multi:softprob``, ``num_round`` rounds of trees of depth ``max_depth``), prints the training
accuracy and saves the booster to ``SM_MODEL_DIR/xgboost-model`` (the file name AWS's container
uses). Serving (the container's handlers): ``model_fn`` loads the booster, ``input_fn`` reads
JSON rows of the four features (a list of rows, or ``{"instances": rows}``) or CSV, and the
container's default ``predict_fn`` and ``output_fn`` answer each row's class probabilities.
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np
import xgboost as xgb


def train(arguments) -> None:
    files = sorted(Path(arguments.train).glob("*.csv"))
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    data = xgb.DMatrix(table[:, 1:], label=table[:, 0])
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": arguments.max_depth,
              "eta": arguments.eta, "seed": 0}
    booster = xgb.train(params, data, num_boost_round=arguments.num_round, evals=[(data, "train")],
                        verbose_eval=max(1, arguments.num_round // 5))
    accuracy = float((booster.predict(data).argmax(axis=1) == table[:, 0]).mean())
    print(f"train_accuracy={accuracy:.4f}")
    booster.save_model(str(Path(arguments.model_dir) / "xgboost-model"))


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(str(Path(model_dir) / "xgboost-model"))
    return booster


def input_fn(body, content_type):
    if isinstance(body, (bytes, bytearray)):
        body = body.decode()
    if content_type == "application/json":
        rows = json.loads(body)
        rows = rows.get("instances", rows) if isinstance(rows, dict) else rows
        return xgb.DMatrix(np.asarray(rows, dtype=np.float32).reshape(-1, 4))
    if content_type == "text/csv":
        return xgb.DMatrix(np.loadtxt(body.splitlines(), delimiter=",", ndmin=2).astype(np.float32))
    raise ValueError(f"unsupported content type {content_type!r}: send application/json or text/csv")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_round", type=int, default=50)
    parser.add_argument("--max_depth", type=int, default=3)
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    train(parser.parse_args())
