"""The Iris DecisionTree training and inference script of the AWS blog post
("Amazon SageMaker adds Scikit-Learn support"), in modern pandas/scikit-learn.

Training (SageMaker's training contract): hyperparameters arrive as command-line arguments,
the data in ``SM_CHANNEL_TRAIN`` (CSV files, label in the first column), the model goes to
``SM_MODEL_DIR`` as ``model.joblib``. Hosting: ``model_fn`` loads it; the model server's default
``input_fn`` / ``predict_fn`` / ``output_fn`` do the rest (see the SageMaker Python SDK docs).
"""

import argparse
import os

import joblib
import pandas as pd
from sklearn import tree


def model_fn(model_dir):
    """Load the DecisionTreeClassifier saved by training."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    # Hyperparameters sent by the client are passed as command-line arguments to the script.
    parser.add_argument("--max_leaf_nodes", type=int, default=None)
    # SageMaker specific arguments. Defaults are set in the environment variables.
    parser.add_argument("--output-data-dir", type=str, default=os.environ.get("SM_OUTPUT_DATA_DIR"))
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    args, _ = parser.parse_known_args()

    input_files = [os.path.join(args.train, name) for name in sorted(os.listdir(args.train))]
    if not input_files:
        raise ValueError(
            f"There are no files in {args.train}.\n"
            "This usually indicates that the channel (train) was incorrectly specified,\n"
            "the data specification in S3 was incorrectly specified or the role specified\n"
            "does not have permission to access the data."
        )
    train_data = pd.concat(pd.read_csv(name, header=None, engine="python") for name in input_files)

    # labels are in the first column
    train_y = train_data.iloc[:, 0]
    train_X = train_data.iloc[:, 1:]

    clf = tree.DecisionTreeClassifier(max_leaf_nodes=args.max_leaf_nodes)
    clf = clf.fit(train_X, train_y)
    print(f"Trained a DecisionTreeClassifier on {len(train_X)} rows, "
          f"training accuracy {clf.score(train_X, train_y):.3f}, {clf.get_n_leaves()} leaves")

    joblib.dump(clf, os.path.join(args.model_dir, "model.joblib"))
