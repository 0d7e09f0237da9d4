"""Amazon SageMaker PCA, emulated with NumPy.

As AWS's algorithm ("How PCA Works", SageMaker developer guide): ``algorithm_mode`` ``regular``
computes the exact decomposition (here the SVD of the centred data), ``randomized`` a randomized
one with ``num_components + extra_components`` directions (``extra_components`` -1: AWS's
default, max(10, num_components)); ``subtract_mean`` centres the data first.

Model: ``model_algo-1``, an NDArray file (:mod:`.ndarray`) holding a dict, as AWS's, which ``mx.ndarray.load`` reads:
``mean`` ``(1, feature_dim)`` (zeros when subtract_mean is false), ``v`` ``(feature_dim,
num_components)`` the principal directions as columns, ``s`` ``(num_components,)`` the singular
values, both in ascending order of ``s`` (AWS's examples take the last columns as the top
components). Each direction's sign makes its largest coordinate positive. Inference:
``projection = (x - mean) @ v``.
"""

from __future__ import annotations

import numpy as np

from smflow.local.containers.algorithms.hyperparameters import CustomerError, Param

NAME = "pca"
TITLE = "PCA"
DEFAULT_CONTENT_TYPE = "application/x-recordio-protobuf"
CONTENT_TYPES = ("application/x-recordio-protobuf", "recordio-protobuf", "text/csv", "csv")
OTHER_CHANNELS = ("test",)  # besides "train"; the first is passed to train()
SUPERVISED = False
MODEL_FILE = "model_algo-1"

PARAMS = (
    Param("feature_dim", "int", required=True, minimum=1),
    Param("mini_batch_size", "int", required=True, minimum=1, used=False),
    Param("num_components", "int", required=True, minimum=1),
    Param("algorithm_mode", "str", default="regular", choices=("regular", "randomized")),
    Param("extra_components", "int", default=-1, minimum=-1),
    Param("subtract_mean", "bool", default=True),
)


def fit(features: np.ndarray, hp, log) -> dict[str, np.ndarray]:
    data = features.astype(np.float64)
    rows, dim = data.shape
    components = hp["num_components"]
    if components > dim:
        raise CustomerError(
            f"num_components ({components}) is larger than feature_dim ({dim}): use at most {dim} components"
        )
    mean = data.mean(0, keepdims=True) if hp["subtract_mean"] else np.zeros((1, dim))
    centred = data - mean
    if hp["algorithm_mode"] == "randomized":
        extra = hp["extra_components"]
        extra = max(10, components) if extra == -1 else extra
        size = min(dim, rows, components + extra)
        rng = np.random.default_rng(0)
        sketch = centred @ rng.standard_normal((dim, size))
        for _ in range(4):  # power iterations sharpen the spectrum
            sketch, _r = np.linalg.qr(centred @ (centred.T @ sketch))
        basis, _r = np.linalg.qr(sketch)
        _u, singular, vt = np.linalg.svd(basis.T @ centred, full_matrices=False)
    else:
        _u, singular, vt = np.linalg.svd(centred, full_matrices=False)
    singular = singular[:components]
    directions = vt[:components].T  # (dim, components), descending
    signs = np.sign(directions[np.abs(directions).argmax(0), np.arange(directions.shape[1])])
    directions = directions * np.where(signs == 0, 1, signs)
    order = np.argsort(singular, kind="stable")  # ascending, as AWS's model
    log(f"#train_score (algo-1) : ('explained_variance', {float((singular ** 2).sum() / max(rows - 1, 1))})")
    return {
        "mean": mean.astype(np.float32),
        "v": np.ascontiguousarray(directions[:, order]).astype(np.float32),
        "s": singular[order].astype(np.float32),
    }


def train(train_set, test_set, hp, log) -> dict:
    from smflow.local.containers.algorithms import ndarray

    return {MODEL_FILE: ndarray.dumps(fit(train_set.features, hp, log))}


def load(model_dir) -> dict[str, np.ndarray]:
    from smflow.local.containers.algorithms import ndarray

    arrays = ndarray.load(f"{model_dir}/{MODEL_FILE}")
    if not isinstance(arrays, dict) or "v" not in arrays:
        raise ValueError(f"{MODEL_FILE} is not a PCA model: it must hold the arrays 'mean', 'v' and 's'")
    return arrays


def feature_dim(model) -> int:
    return int(model["v"].shape[0])


def predict(model: dict[str, np.ndarray], features: np.ndarray) -> list[dict]:
    mean = model.get("mean")
    centred = features.astype(np.float64) - (mean.reshape(1, -1) if mean is not None and mean.size else 0.0)
    projections = centred @ model["v"].astype(np.float64)
    return [{"projection": [float(value) for value in row]} for row in projections]


OUTPUT_KEYS = ("projection",)
RESULT_KEY = "projections"
