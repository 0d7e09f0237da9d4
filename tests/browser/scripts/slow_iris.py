"""The Iris DecisionTree of dags/scripts/scikit_learn_iris.py, slowed down for the browser tests:
training prints a progress line every half second for ``--seconds`` (so a page can watch a
running job's log grow) and a final ``accuracy`` line (the job's metric); the model server's
predict_fn takes ``SLOW_PREDICT_SECONDS`` per request (so a transform job stays in progress)."""

import argparse
import os
import time

import joblib
import pandas as pd
from sklearn import tree


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    time.sleep(float(os.environ.get("SLOW_PREDICT_SECONDS", "0.5")))
    return model.predict(data)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_leaf_nodes", type=int, default=-1)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()

    frames = [pd.read_csv(os.path.join(args.train, name), header=None) for name in sorted(os.listdir(args.train))]
    data = pd.concat(frames)
    labels, features = data.iloc[:, 0], data.iloc[:, 1:]
    model = tree.DecisionTreeClassifier(max_leaf_nodes=args.max_leaf_nodes).fit(features, labels)
    started, step = time.monotonic(), 0
    while time.monotonic() - started < args.seconds:
        step += 1
        print(f"step {step}: still training on {len(data)} rows", flush=True)
        time.sleep(0.5)
    print(f"accuracy {model.score(features, labels):.4f}", flush=True)
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
