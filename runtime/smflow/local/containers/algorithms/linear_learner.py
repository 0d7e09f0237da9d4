"""Amazon SageMaker Linear Learner, emulated with NumPy.

As AWS's algorithm ("How Linear Learner Works", SageMaker developer guide): a linear model
``x @ W + b`` trained by mini-batch stochastic gradient descent for ``epochs`` passes
(``optimizer`` ``auto``/``adam``, ``sgd`` with ``momentum``, ``rmsprop``; ``mini_batch_size``;
``learning_rate``; ``wd`` (L2) and ``l1``), on features standardised with the statistics of the
first ``num_point_for_scaler`` records (``normalize_data``) and, for a regressor, a standardised
label (``normalize_label``). Like AWS's, it trains several models at once (``num_models``;
``auto`` here: 8, with learning rates from 0.1 to 0.0001 when ``learning_rate`` is ``auto``) and
keeps the best one on the ``validation`` channel when there is one, otherwise on the training
data; ``early_stopping_patience`` / ``early_stopping_tolerance`` stop on the validation loss.
A binary classifier then picks its decision threshold by
``binary_classifier_model_selection_criteria`` (``accuracy``, ``f_beta``,
``precision_at_target_recall``, ``recall_at_target_precision``; ``loss_function``: 0.5).

Losses (``loss`` ``auto``: logistic, softmax_loss or squared_loss by ``predictor_type``):
logistic, hinge_loss, softmax_loss, squared_loss, absolute_loss, huber_loss, quantile_loss,
eps_insensitive_squared_loss, eps_insensitive_absolute_loss.

Inference (AWS's response format): a binary classifier answers ``score`` (the probability of
label 1 for the logistic loss, the raw margin for the hinge loss) and ``predicted_label``; a
multiclass classifier ``score`` (one probability per class) and ``predicted_label``; a regressor
``score``.

Model: ``model_algo-1`` is a zip archive, like AWS's, holding ``mx-mod-0000.params`` (an
NDArray dict, :mod:`.ndarray`: ``arg:fc0_weight`` ``(outputs, feature_dim)`` and ``arg:fc0_bias`` ``(outputs,)``,
acting on the raw features: the scaling is folded in) and ``additional-params.json``
(predictor_type, num_classes, loss, threshold). AWS's archive also holds the network's
symbol file, which this one does not.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np

from smflow.local.containers.algorithms.hyperparameters import CustomerError, Param

NAME = "linear-learner"
TITLE = "Linear Learner"
DEFAULT_CONTENT_TYPE = "application/x-recordio-protobuf"
CONTENT_TYPES = ("application/x-recordio-protobuf", "recordio-protobuf", "text/csv", "csv")
OTHER_CHANNELS = ("validation", "test")  # besides "train"; the first is passed to train()
SUPERVISED = True
MODEL_FILE = "model_algo-1"
_LOSSES = ("auto", "logistic", "squared_loss", "absolute_loss", "hinge_loss", "eps_insensitive_squared_loss",
           "eps_insensitive_absolute_loss", "quantile_loss", "huber_loss", "softmax_loss")
_CLASSIFIER_LOSSES = {"binary_classifier": ("logistic", "hinge_loss"), "multiclass_classifier": ("softmax_loss",)}


def _weight_mult(value):
    if value in ("balanced", "auto"):
        return None
    try:
        if float(value) > 0:
            return None
    except ValueError:
        pass
    return 'use "balanced", "auto" or a positive number'


PARAMS = (
    Param("predictor_type", "str", required=True,
          choices=("binary_classifier", "multiclass_classifier", "regressor")),
    Param("num_classes", "int", minimum=3, maximum=1_000_000),
    Param("feature_dim", "int", auto=True, minimum=1),
    Param("epochs", "int", default=15, minimum=1),
    Param("learning_rate", "float", auto=True, above=0),
    Param("mini_batch_size", "int", default=1000, minimum=1),
    Param("optimizer", "str", default="auto", choices=("auto", "sgd", "adam", "rmsprop")),
    Param("momentum", "float", auto=True, minimum=0, maximum=1),
    Param("beta_1", "float", auto=True, minimum=0, maximum=1),
    Param("beta_2", "float", auto=True, minimum=0, maximum=1),
    Param("loss", "str", default="auto", choices=_LOSSES),
    Param("wd", "float", auto=True, minimum=0),
    Param("l1", "float", auto=True, minimum=0),
    Param("use_bias", "bool", default=True),
    Param("normalize_data", "bool", default=True),
    Param("normalize_label", "bool", auto=True),
    Param("num_point_for_scaler", "int", default=10000, minimum=1),
    Param("num_models", "int", auto=True, minimum=1),
    Param("init_method", "str", default="uniform", choices=("uniform", "normal")),
    Param("init_scale", "float", default=0.07, above=0),
    Param("init_sigma", "float", default=0.01, above=0),
    Param("init_bias", "float", default=0.0),
    Param("early_stopping_patience", "int", default=3, minimum=1),
    Param("early_stopping_tolerance", "float", default=0.001, above=0),
    Param("binary_classifier_model_selection_criteria", "str", default="accuracy",
          choices=("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision", "loss_function")),
    Param("f_beta", "float", default=1.0, above=0),
    Param("target_precision", "float", default=0.8, above=0, maximum=1),
    Param("target_recall", "float", default=0.8, above=0, maximum=1),
    Param("positive_example_weight_mult", "str", default="1.0", check=_weight_mult),
    Param("huber_delta", "float", default=1.0, above=0),
    Param("loss_insensitivity", "float", default=0.01, above=0),
    Param("quantile", "float", default=0.5, above=0, maximum=0.999999),
    Param("margin", "float", default=1.0, above=0),
    Param("balance_multiclass_weights", "bool", default=False),
    Param("accuracy_top_k", "int", default=3, minimum=1, used=False),
    Param("bias_lr_mult", "float", auto=True, above=0, used=False),
    Param("bias_wd_mult", "float", auto=True, minimum=0, used=False),
    Param("lr_scheduler_factor", "float", auto=True, above=0, maximum=1, used=False),
    Param("lr_scheduler_minimum_lr", "float", auto=True, above=0, used=False),
    Param("lr_scheduler_step", "int", auto=True, minimum=1, used=False),
    Param("use_lr_scheduler", "bool", default=True, used=False),
    Param("num_calibration_samples", "int", default=10_000_000, minimum=1, used=False),
    Param("unbias_data", "bool", auto=True, used=False),
    Param("unbias_label", "bool", auto=True, used=False),
)


def check(hp) -> None:
    """Cross-field rules of AWS's algorithm. Raises CustomerError."""
    kind = hp["predictor_type"]
    if kind == "multiclass_classifier" and hp["num_classes"] is None:
        raise CustomerError(
            "No value(s) were specified for 'num_classes' which are required hyperparameter(s) when "
            "predictor_type is 'multiclass_classifier' (caused by ValidationError)"
        )
    loss = hp["loss"]
    if loss == "auto":
        return
    allowed = _CLASSIFIER_LOSSES.get(kind) or tuple(
        name for name in _LOSSES if name not in ("auto", "logistic", "hinge_loss", "softmax_loss"))
    if loss not in allowed:
        raise CustomerError(
            f"Hyperparameter 'loss': value {loss!r} is not valid for predictor_type {kind!r}: use auto or "
            f"{', '.join(allowed)} (caused by ValidationError)"
        )


def _loss_name(hp) -> str:
    if hp["loss"] != "auto":
        return hp["loss"]
    return {"binary_classifier": "logistic", "multiclass_classifier": "softmax_loss"}.get(
        hp["predictor_type"], "squared_loss")


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def _loss_and_gradient(loss: str, out: np.ndarray, y: np.ndarray, hp) -> tuple[np.ndarray, np.ndarray]:
    """Per-row loss and d loss / d out, for outputs ``out`` (rows, outputs)."""
    if loss == "softmax_loss":
        probabilities = _softmax(out)
        onehot = np.zeros_like(out)
        onehot[np.arange(len(y)), y.astype(int)] = 1.0
        return -np.log(np.maximum(probabilities[np.arange(len(y)), y.astype(int)], 1e-12)), probabilities - onehot
    z = out[:, 0]
    if loss == "logistic":
        p = _sigmoid(z)
        value = np.logaddexp(0.0, z) - y * z
        return value, (p - y)[:, None]
    if loss == "hinge_loss":
        sign = 2.0 * y - 1.0
        margin = hp["margin"] - sign * z
        return np.maximum(margin, 0), np.where(margin > 0, -sign, 0.0)[:, None]
    residual = z - y
    if loss == "squared_loss":
        return 0.5 * residual ** 2, residual[:, None]
    if loss == "absolute_loss":
        return np.abs(residual), np.sign(residual)[:, None]
    if loss == "huber_loss":
        delta = hp["huber_delta"]
        small = np.abs(residual) <= delta
        value = np.where(small, 0.5 * residual ** 2, delta * (np.abs(residual) - 0.5 * delta))
        return value, np.where(small, residual, delta * np.sign(residual))[:, None]
    if loss == "quantile_loss":
        q = hp["quantile"]
        value = np.where(residual >= 0, (1 - q) * residual, -q * residual)
        return value, np.where(residual >= 0, 1 - q, -q)[:, None]
    eps = hp["loss_insensitivity"]
    excess = np.maximum(np.abs(residual) - eps, 0)
    if loss == "eps_insensitive_squared_loss":
        return 0.5 * excess ** 2, (excess * np.sign(residual))[:, None]
    return excess, (np.sign(residual) * (excess > 0))[:, None]  # eps_insensitive_absolute_loss


class _Model:
    def __init__(self, dim: int, outputs: int, lr: float, hp, rng: np.random.Generator):
        if hp["init_method"] == "normal":
            self.w = rng.normal(0, hp["init_sigma"], (dim, outputs))
        else:
            self.w = rng.uniform(-hp["init_scale"], hp["init_scale"], (dim, outputs))
        self.b = np.full(outputs, hp["init_bias"], dtype=np.float64)
        self.lr = lr
        self.state: dict[str, np.ndarray] = {}
        self.steps = 0
        self.best: tuple[np.ndarray, np.ndarray] | None = None
        self.best_loss = math.inf
        self.bad_epochs = 0
        self.stopped = False

    def output(self, x):
        return x @ self.w + self.b

    def step(self, x, y, weights, loss, hp, optimizer):
        values, gradient = _loss_and_gradient(loss, self.output(x), y, hp)
        gradient = gradient * weights[:, None]
        total = weights.sum()
        grad_w = x.T @ gradient / total + (hp["wd"] or 0.0) * self.w + (hp["l1"] or 0.0) * np.sign(self.w)
        grad_b = gradient.sum(0) / total if hp["use_bias"] else np.zeros_like(self.b)
        self.steps += 1
        for name, param, grad in (("w", self.w, grad_w), ("b", self.b, grad_b)):
            if optimizer == "sgd":
                velocity = self.state.setdefault(name, np.zeros_like(param))
                velocity *= hp["momentum"] or 0.0
                velocity -= self.lr * grad
                param += velocity
            elif optimizer == "rmsprop":
                square = self.state.setdefault(name, np.zeros_like(param))
                square *= 0.9
                square += 0.1 * grad ** 2
                param -= self.lr * grad / (np.sqrt(square) + 1e-8)
            else:  # adam
                beta1, beta2 = hp["beta_1"] or 0.9, hp["beta_2"] or 0.999
                first = self.state.setdefault(name + "1", np.zeros_like(param))
                second = self.state.setdefault(name + "2", np.zeros_like(param))
                first *= beta1
                first += (1 - beta1) * grad
                second *= beta2
                second += (1 - beta2) * grad ** 2
                corrected = first / (1 - beta1 ** self.steps)
                param -= self.lr * corrected / (np.sqrt(second / (1 - beta2 ** self.steps)) + 1e-8)
        return float((values * weights).sum() / total)


def _labels(dataset, hp, channel: str) -> np.ndarray:
    y = dataset.labels.astype(np.float64)
    kind = hp["predictor_type"]
    if kind == "binary_classifier" and not np.isin(y, (0.0, 1.0)).all():
        raise CustomerError(
            f"Channel {channel!r}: labels must be 0 or 1 for predictor_type 'binary_classifier' "
            f"(found {sorted(set(np.unique(y).tolist()))[:5]})"
        )
    if kind == "multiclass_classifier":
        classes = hp["num_classes"]
        if not (np.equal(np.mod(y, 1), 0).all() and y.min() >= 0 and y.max() < classes):
            raise CustomerError(
                f"Channel {channel!r}: labels must be integers from 0 to num_classes - 1 = {classes - 1} "
                "for predictor_type 'multiclass_classifier'"
            )
    return y


def _threshold(scores: np.ndarray, y: np.ndarray, hp) -> float:
    criterion = hp["binary_classifier_model_selection_criteria"]
    if criterion == "loss_function":
        return 0.5 if _loss_name(hp) == "logistic" else 0.0
    candidates = np.unique(scores)
    best, best_value = float(candidates[0]), -math.inf
    positives = max(float(y.sum()), 1e-12)
    for threshold in candidates:
        predicted = scores >= threshold
        tp = float((predicted & (y == 1)).sum())
        precision = tp / max(float(predicted.sum()), 1e-12)
        recall = tp / positives
        if criterion == "accuracy":
            value = float((predicted == (y == 1)).mean())
        elif criterion == "f_beta":
            beta2 = hp["f_beta"] ** 2
            value = (1 + beta2) * precision * recall / max(beta2 * precision + recall, 1e-12)
        elif criterion == "precision_at_target_recall":
            value = precision if recall >= hp["target_recall"] else -1 + recall
        else:  # recall_at_target_precision
            value = recall if precision >= hp["target_precision"] else -1 + precision
        if value > best_value:
            best, best_value = float(threshold), value
    return best


def fit(train_set, validation_set, hp, log) -> dict:
    check(hp)
    kind = hp["predictor_type"]
    loss = _loss_name(hp)
    x = train_set.features.astype(np.float64)
    rows, dim = x.shape
    y = _labels(train_set, hp, "train")
    outputs = hp["num_classes"] if kind == "multiclass_classifier" else 1
    mean = np.zeros(dim)
    scale = np.ones(dim)
    if hp["normalize_data"]:
        sample = x[: hp["num_point_for_scaler"]]
        mean, scale = sample.mean(0), sample.std(0)
        scale = np.where(scale > 0, scale, 1.0)
    label_mean, label_scale = 0.0, 1.0
    normalize_label = hp["normalize_label"] if hp["normalize_label"] is not None else kind == "regressor"
    if kind == "regressor" and normalize_label:
        label_mean, label_scale = float(y.mean()), float(y.std()) or 1.0
    xs = (x - mean) / scale
    ys = (y - label_mean) / label_scale if kind == "regressor" else y
    weights = np.ones(rows)
    if kind == "binary_classifier":
        mult = hp["positive_example_weight_mult"]
        if mult in ("balanced", "auto"):
            positives = max(float(y.sum()), 1.0)
            weights = np.where(y == 1, (rows - positives) / positives, 1.0)
        else:
            weights = np.where(y == 1, float(mult), 1.0)
    elif kind == "multiclass_classifier" and hp["balance_multiclass_weights"]:
        counts = np.bincount(y.astype(int), minlength=outputs).astype(float)
        weights = rows / (outputs * np.maximum(counts[y.astype(int)], 1.0))
    validation = None
    if validation_set is not None:
        vy = _labels(validation_set, hp, "validation")
        vx = (validation_set.features.astype(np.float64) - mean) / scale
        validation = (vx, (vy - label_mean) / label_scale if kind == "regressor" else vy)

    count = hp["num_models"] or 8
    rng = np.random.default_rng(0)
    if hp["learning_rate"] is not None:
        rates = [hp["learning_rate"]] * count
    else:
        rates = list(np.geomspace(0.1, 0.0001, count)) if count > 1 else [0.01]
    optimizer = "adam" if hp["optimizer"] == "auto" else hp["optimizer"]
    models = [_Model(dim, outputs, float(rate), hp, rng) for rate in rates]
    batch = hp["mini_batch_size"]
    for epoch in range(hp["epochs"]):
        order = rng.permutation(rows)
        losses = np.zeros(len(models))
        for start in range(0, rows, batch):
            index = order[start: start + batch]
            for number, model in enumerate(models):
                if not model.stopped:
                    losses[number] += model.step(xs[index], ys[index], weights[index], loss, hp, optimizer) * len(index)
        message = f"#quality_metric: host=algo-1, epoch={epoch}, train {loss}_objective <loss>={float(losses.min() / rows)}"
        if validation is not None:
            for model in models:
                if model.stopped:
                    continue
                value = float(_loss_and_gradient(loss, model.output(validation[0]), validation[1], hp)[0].mean())
                if value < model.best_loss * (1 - hp["early_stopping_tolerance"]):
                    model.best_loss, model.best, model.bad_epochs = value, (model.w.copy(), model.b.copy()), 0
                else:
                    model.bad_epochs += 1
                    model.stopped = model.bad_epochs >= hp["early_stopping_patience"]
            message += f", validation {loss}_objective <loss>={min(m.best_loss for m in models)}"
        log(message)
        if all(model.stopped for model in models):
            log(f"Early stopping: no model improved the validation loss for {hp['early_stopping_patience']} epochs")
            break

    selection_x, selection_y = validation if validation is not None else (xs, ys)
    for model in models:
        if model.best is not None:
            model.w, model.b = model.best

    def score(model):
        out = model.output(selection_x)
        if kind == "binary_classifier":
            return float(((out[:, 0] >= (0.0)) == (selection_y == 1)).mean())
        if kind == "multiclass_classifier":
            return float((out.argmax(1) == selection_y).mean())
        return -float(_loss_and_gradient(loss, out, selection_y, hp)[0].mean())

    best = max(models, key=score)
    # fold the scaling into the weights: raw features in, raw labels out
    w = best.w / scale[:, None]
    b = best.b - (mean / scale) @ best.w
    if kind == "regressor":
        w, b = w * label_scale, b * label_scale + label_mean
    threshold = None
    if kind == "binary_classifier":
        raw = (selection_x * scale + mean) @ w + b
        scores = _sigmoid(raw[:, 0]) if loss == "logistic" else raw[:, 0]
        threshold = _threshold(scores, selection_y, hp)
        accuracy = float(((scores >= threshold) == (selection_y == 1)).mean())
        log(f"#quality_metric: host=algo-1, {'validation' if validation is not None else 'train'} "
            f"binary_classification_accuracy <score>={accuracy}")
    return {"weight": w.T.astype(np.float32), "bias": b.astype(np.float32),
            "params": {"predictor_type": kind, "num_classes": outputs if outputs > 1 else 2 if kind != "regressor"
                       else None, "loss": loss, "threshold": threshold, "feature_dim": dim}}


def train(train_set, validation_set, hp, log) -> dict:
    from smflow.local.containers.algorithms import ndarray

    fitted = fit(train_set, validation_set, hp, log)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mx-mod-0000.params", ndarray.dumps({"arg:fc0_weight": fitted["weight"],
                                                               "arg:fc0_bias": fitted["bias"]}))
        archive.writestr("additional-params.json", json.dumps(fitted["params"]))
        archive.writestr("manifest.json", json.dumps(["mx-mod-0000.params", "additional-params.json"]))
    return {MODEL_FILE: buffer.getvalue()}


def load(model_dir) -> dict:
    from smflow.local.containers.algorithms import ndarray

    with zipfile.ZipFile(f"{model_dir}/{MODEL_FILE}") as archive:
        arrays = ndarray.loads(archive.read("mx-mod-0000.params"))
        params = json.loads(archive.read("additional-params.json"))
    return {"weight": arrays["arg:fc0_weight"].astype(np.float64), "bias": arrays["arg:fc0_bias"].astype(np.float64),
            **params}


def feature_dim(model) -> int:
    return int(model["weight"].shape[1])


def predict(model: dict, features: np.ndarray) -> list[dict]:
    out = features.astype(np.float64) @ model["weight"].T + model["bias"]
    kind = model["predictor_type"]
    if kind == "regressor":
        return [{"score": float(value)} for value in out[:, 0]]
    if kind == "multiclass_classifier":
        probabilities = _softmax(out)
        return [{"score": [float(p) for p in row], "predicted_label": float(row.argmax())} for row in probabilities]
    scores = _sigmoid(out[:, 0]) if model["loss"] == "logistic" else out[:, 0]
    threshold = model["threshold"]
    return [{"score": float(s), "predicted_label": float(s >= threshold)} for s in scores]


OUTPUT_KEYS = ("score", "predicted_label")
RESULT_KEY = "predictions"
