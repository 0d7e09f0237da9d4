"""XGBoost (script mode) on the local runtime beside XGBoost run directly: the Iris script
``dags/scripts/xgboost_iris.py`` (``multi:softprob``, 50 rounds of depth-3 trees) trained,
deployed and invoked with 100-row CSV payloads answered as JSON class probabilities, in the
``sagemaker-xgboost:1.7-1`` image's local environment (xgboost 1.7.6).

Usage: ``python bench/frameworks/xgboost.py [--quick] [--runs N] [--skip-cold]``.
"""

from __future__ import annotations

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
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(Path(model_dir) / "xgboost-model"))
    booster.set_param("nthread", 1)  # as the model server (AWS's container): one thread per request
    return booster


def predict(model, payload: bytes):
    import io

    import numpy as np
    import xgboost as xgb

    rows = np.loadtxt(io.BytesIO(payload), delimiter=",", ndmin=2).astype(np.float32)
    return model.predict(xgb.DMatrix(rows, nthread=1))


def _payload() -> bytes:
    from sklearn.datasets import load_iris

    features = load_iris().data[:100]
    return ("\n".join(",".join(f"{value:g}" for value in row) for row in features) + "\n").encode()


def _check(body: bytes) -> bool:
    import json

    answer = json.loads(body)
    return len(answer) == 100 and len(answer[0]) == 3


CASE = FrameworkCase(
    name="xgboost", framework="xgboost", framework_version="1.7-1", py_version="py3",
    source_dir=SOURCE_DIR, entry_point="xgboost_iris.py", make_data=make_data,
    hyperparameters={"num_round": 50, "max_depth": 3}, payload=_payload(), content_type="text/csv",
    accept="application/json", load=load, predict=predict, check_answer=_check,
)

if __name__ == "__main__":
    raise SystemExit(run(CASE))
