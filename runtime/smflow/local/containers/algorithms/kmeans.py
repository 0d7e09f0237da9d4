"""Amazon SageMaker K-Means, emulated with NumPy.

AWS's algorithm ("How K-Means Clustering Works", SageMaker developer guide) is a web-scale
(mini-batch) k-means: it streams the data in mini-batches for ``epochs`` passes, keeping
``k * extra_center_factor`` centres, then reduces them to ``k`` with a local Lloyd's k-means on
the centres weighted by the points they took (``local_lloyd_*``). This module does the same:

1. the first mini-batch seeds the extra centres (``init_method``: ``random`` picks points,
   ``kmeans++`` spreads them);
2. each mini-batch moves every centre towards the mean of its points with a per-centre
   learning rate of ``1 / points seen`` (``half_life_time_size`` > 0 decays past counts:
   a centre's count halves every ``half_life_time_size`` points);
3. a weighted Lloyd's k-means (``local_lloyd_init_method``, ``local_lloyd_num_trials`` runs
   keeping the lowest weighted sum of squared distances, ``local_lloyd_max_iter``,
   ``local_lloyd_tol``) gives the ``k`` centroids.

Model: ``model_algo-1``, an NDArray file (:mod:`.ndarray`) holding a list with holding the centroids ``(k, feature_dim)``
float32, which ``mx.ndarray.load('model_algo-1')[0]`` reads as AWS's documentation shows.
Inference: ``closest_cluster`` (index of the nearest centroid) and ``distance_to_cluster``
(Euclidean distance to it). ``eval_metrics`` ``msd`` / ``ssd`` of a ``test`` channel are logged as
``#test_score (algo-1) : ('msd', <value>)``.
"""

from __future__ import annotations

import math

import numpy as np

from smflow.local.containers.algorithms.hyperparameters import CustomerError, Param

NAME = "kmeans"
TITLE = "K-Means"
DEFAULT_CONTENT_TYPE = "application/x-recordio-protobuf"
CONTENT_TYPES = ("application/x-recordio-protobuf", "recordio-protobuf", "text/csv", "csv")
OTHER_CHANNELS = ("test",)  # besides "train"; the first is passed to train()
SUPERVISED = False
MODEL_FILE = "model_algo-1"


def _eval_metrics(value) -> str | None:
    if not isinstance(value, list) or not value or any(item not in ("msd", "ssd") for item in value):
        return 'use a JSON list of "msd" and "ssd", e.g. ["msd", "ssd"]'
    return None


PARAMS = (
    Param("k", "int", required=True, minimum=1),
    Param("feature_dim", "int", required=True, minimum=1),
    Param("epochs", "int", default=1, minimum=1),
    Param("eval_metrics", "json", default=["msd"], check=_eval_metrics),
    Param("extra_center_factor", "int", auto=True, minimum=1),
    Param("half_life_time_size", "int", default=0, minimum=0),
    Param("init_method", "str", default="random", choices=("random", "kmeans++")),
    Param("local_lloyd_init_method", "str", default="kmeans++", choices=("random", "kmeans++")),
    Param("local_lloyd_max_iter", "int", default=300, minimum=1),
    Param("local_lloyd_num_trials", "int", auto=True, minimum=1),
    Param("local_lloyd_tol", "float", default=0.0001, minimum=0),
    Param("mini_batch_size", "int", default=5000, minimum=1),
    Param("force_dense", "bool", default=True, used=False),
)


def _squared_distances(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    points = points.astype(np.float64, copy=False)
    centers = centers.astype(np.float64, copy=False)
    distances = (points * points).sum(1)[:, None] - 2.0 * points @ centers.T + (centers * centers).sum(1)[None, :]
    return np.maximum(distances, 0.0)


def _seed(points: np.ndarray, count: int, method: str, rng: np.random.Generator,
          weights: np.ndarray | None = None) -> np.ndarray:
    """``count`` initial centres among ``points``: uniformly (``random``, weighted by
    ``weights``) or by k-means++ (D^2 weighting)."""
    n = len(points)
    probabilities = None if weights is None else weights / weights.sum()
    if method == "random":
        chosen = rng.choice(n, size=count, replace=n < count, p=probabilities)
        return points[chosen].astype(np.float64)
    first = rng.choice(n, p=probabilities)
    centers = [points[first].astype(np.float64)]
    closest = _squared_distances(points, np.asarray(centers))[:, 0]
    for _ in range(1, count):
        scores = closest * (weights if weights is not None else 1.0)
        total = scores.sum()
        index = rng.choice(n, p=scores / total) if total > 0 else rng.choice(n, p=probabilities)
        centers.append(points[index].astype(np.float64))
        closest = np.minimum(closest, _squared_distances(points, points[index: index + 1])[:, 0])
    return np.asarray(centers)


def _lloyd(points: np.ndarray, weights: np.ndarray, k: int, method: str, max_iter: int, tol: float,
           rng: np.random.Generator) -> tuple[np.ndarray, float]:
    centers = _seed(points, k, method, rng, weights)
    for _ in range(max_iter):
        assignment = _squared_distances(points, centers).argmin(1)
        moved = centers.copy()
        for cluster in range(k):
            mask = assignment == cluster
            mass = weights[mask].sum()
            if mass > 0:
                moved[cluster] = (points[mask] * weights[mask, None]).sum(0) / mass
        shift = float(((moved - centers) ** 2).sum())
        centers = moved
        if shift <= tol:
            break
    cost = float((_squared_distances(points, centers).min(1) * weights).sum())
    return centers, cost


def fit(features: np.ndarray, hp, log) -> np.ndarray:
    """The ``(k, feature_dim)`` centroids of ``features``."""
    k = hp["k"]
    n = len(features)
    if k > n:
        raise CustomerError(f"k ({k}) is larger than the number of training records ({n}): use a smaller k")
    rng = np.random.default_rng(0)
    factor = hp["extra_center_factor"]
    if factor is None:  # auto: enough extra centres for the local Lloyd step to choose from
        factor = max(2, math.ceil(math.log(max(n, 2))))
    extra = min(n, k * factor)
    batch_size = hp["mini_batch_size"]
    half_life = hp["half_life_time_size"]
    centers = None
    counts = np.zeros(extra)
    for epoch in range(hp["epochs"]):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            batch = features[order[start: start + batch_size]].astype(np.float64)
            if centers is None:
                centers = _seed(batch if len(batch) >= extra else features, extra, hp["init_method"], rng)
            assignment = _squared_distances(batch, centers).argmin(1)
            if half_life:
                counts *= 0.5 ** (len(batch) / half_life)
            for cluster in np.unique(assignment):
                members = batch[assignment == cluster]
                counts[cluster] += len(members)
                rate = len(members) / counts[cluster]
                centers[cluster] += rate * (members.mean(0) - centers[cluster])
        log(f"#progress_metric: epoch {epoch + 1}/{hp['epochs']} done")
    used = counts > 0
    weights = counts[used]
    candidates = centers[used]
    if len(candidates) < k:
        candidates, weights = centers, np.maximum(counts, 1e-12)
    trials = hp["local_lloyd_num_trials"] or max(1, min(10, math.ceil(math.log(k + 1))))
    best, best_cost = None, math.inf
    for _ in range(trials):
        result, cost = _lloyd(candidates, weights, k, hp["local_lloyd_init_method"], hp["local_lloyd_max_iter"],
                              hp["local_lloyd_tol"], rng)
        if cost < best_cost:
            best, best_cost = result, cost
    return best.astype(np.float32)


def train(train_set, test_set, hp, log) -> dict:
    """Fit, log the metrics; returns the model files ``{name: bytes or arrays}``."""
    from smflow.local.containers.algorithms import ndarray

    centroids = fit(train_set.features, hp, log)
    for name, dataset in (("train", train_set), ("test", test_set)):
        if dataset is None:
            continue
        distances = _squared_distances(dataset.features, centroids).min(1)
        for metric in hp["eval_metrics"]:
            value = float(distances.mean() if metric == "msd" else distances.sum())
            log(f"#{name}_score (algo-1) : ({metric!r}, {value})")
    return {MODEL_FILE: ndarray.dumps([centroids])}


def load(model_dir) -> np.ndarray:
    """The centroids of a model folder (``model_algo-1``)."""
    from smflow.local.containers.algorithms import ndarray

    arrays = ndarray.load(f"{model_dir}/{MODEL_FILE}")
    centroids = arrays[0] if isinstance(arrays, list) else next(iter(arrays.values()))
    return np.asarray(centroids, dtype=np.float32)


def feature_dim(model) -> int:
    return int(model.shape[1])


def predict(model: np.ndarray, features: np.ndarray) -> list[dict]:
    """``[{"closest_cluster": float, "distance_to_cluster": float}, ...]`` (AWS answers floats)."""
    distances = _squared_distances(features, model)
    closest = distances.argmin(1)
    nearest = np.sqrt(distances[np.arange(len(features)), closest])
    return [{"closest_cluster": float(c), "distance_to_cluster": float(d)} for c, d in zip(closest, nearest)]


OUTPUT_KEYS = ("closest_cluster", "distance_to_cluster")
RESULT_KEY = "predictions"
