"""The Iris blog's entry point ("Amazon SageMaker adds Scikit-Learn support"): training under the main guard, model_fn only.

Serving relies on the model server's default input_fn, predict_fn and output_fn.
"""

import argparse
import os

import joblib
import pandas as pd
from sklearn import tree


def model_fn(model_dir):
    clf = joblib.load(os.path.join(model_dir, "model.joblib"))
    return clf


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_leaf_nodes", type=int, default=-1)
    parser.add_argument("--output-data-dir", type=str, default=os.environ.get("SM_OUTPUT_DATA_DIR"))
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()

    input_files = [os.path.join(args.train, file) for file in os.listdir(args.train)]
    train_data = pd.concat([pd.read_csv(file, header=None, engine="python") for file in input_files])
    train_y = train_data.iloc[:, 0]
    train_X = train_data.iloc[:, 1:]
    clf = tree.DecisionTreeClassifier(max_leaf_nodes=args.max_leaf_nodes if args.max_leaf_nodes > 0 else None)
    clf = clf.fit(train_X, train_y)
    joblib.dump(clf, os.path.join(args.model_dir, "model.joblib"))
