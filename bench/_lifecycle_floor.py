"""The floor of the lifecycle benchmark: the Iris lifecycle's work done directly in one Python
process — import the libraries, fit the blog's DecisionTree on the training CSV and save it,
load it, predict the blog's 29 rows, score the batch CSV file into an output file.

Run: ``python bench/_lifecycle_floor.py TRAIN_CSV FEATURES_CSV WORK_DIR``; prints the seconds of
each step as JSON (the caller adds interpreter start-up from its own wall clock).
"""

from __future__ import annotations

import json
import sys
import time

begin = time.perf_counter()
steps: dict[str, float] = {}

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn import tree  # noqa: E402

steps["import libraries"] = time.perf_counter() - begin


def main() -> None:
    train_csv, features_csv, work_dir = sys.argv[1:4]
    mark = time.perf_counter()
    data = pd.read_csv(train_csv, header=None, engine="python")
    model = tree.DecisionTreeClassifier(max_leaf_nodes=30).fit(data.iloc[:, 1:], data.iloc[:, 0])
    joblib.dump(model, f"{work_dir}/model.joblib")
    steps["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    model = joblib.load(f"{work_dir}/model.joblib")
    steps["deploy"] = time.perf_counter() - mark

    mark = time.perf_counter()
    features = np.loadtxt(features_csv, delimiter=",", ndmin=2)
    model.predict(features)
    steps["first prediction"] = time.perf_counter() - mark

    mark = time.perf_counter()
    predictions = model.predict(np.loadtxt(features_csv, delimiter=",", ndmin=2))
    with open(f"{work_dir}/scored.csv.out", "w") as handle:
        handle.write("\n".join(map(str, predictions.tolist())) + "\n")
    steps["transform"] = time.perf_counter() - mark
    steps["delete"] = 0.0
    print(json.dumps(steps))


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # fitted on a DataFrame, predicting on arrays
    main()
