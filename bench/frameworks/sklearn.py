"""scikit-learn on the local runtime beside scikit-learn run directly: the AWS blog's Iris
DecisionTree script (``dags/scripts/scikit_learn_iris.py``) trained, deployed and invoked with
100-row CSV payloads. The demonstration case of ``_harness`` (scikit-learn runs in the runtime's
own interpreter, so there is no environment to build).

Usage: ``python bench/frameworks/sklearn.py [--quick] [--runs N]``.
"""

from __future__ import annotations

import io
from pathlib import Path

from _harness import REPO, FrameworkCase, run

SOURCE_DIR = REPO / "dags" / "scripts"


def make_data(folder: Path) -> None:
    """Iris as the blog's CSV: the label in the first column, no header."""
    from sklearn.datasets import load_iris

    data = load_iris()
    rows = [",".join([str(label), *(f"{value:g}" for value in features)])
            for features, label in zip(data.data, data.target, strict=True)]
    (folder / "iris.csv").write_text("\n".join(rows) + "\n")


def load(model_dir: str):
    import joblib

    return joblib.load(Path(model_dir) / "model.joblib")


def predict(model, payload: bytes):
    import numpy as np

    return model.predict(np.loadtxt(io.BytesIO(payload), delimiter=",", ndmin=2))


def _payload() -> bytes:
    from sklearn.datasets import load_iris

    features = load_iris().data[:100]
    return ("\n".join(",".join(f"{value:g}" for value in row) for row in features) + "\n").encode()


CASE = FrameworkCase(
    name="sklearn", framework="sklearn", framework_version="1.2-1", py_version="py3",
    source_dir=SOURCE_DIR, entry_point="scikit_learn_iris.py", make_data=make_data,
    hyperparameters={"max_leaf_nodes": 30}, payload=_payload(), content_type="text/csv", accept="text/csv",
    load=load, predict=predict, check_answer=lambda body: len(body.split()) == 100,
)

if __name__ == "__main__":
    raise SystemExit(run(CASE))
