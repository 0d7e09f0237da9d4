"""The built-in (algorithm) mode of AWS's SageMaker XGBoost container, run with the xgboost
package in the image's local environment (imported there only).

As aws/sagemaker-xgboost-container (``algorithm_mode/train.py``, ``hyperparameter_validation.py``,
``data_utils.py``, ``serve.py``) and the SageMaker developer guide ("XGBoost Hyperparameters",
"Inputs and outputs for the XGBoost algorithm"):

- Hyperparameters: ``num_round`` is required; the others are the container's list (eta,
  max_depth, objective, num_class, eval_metric, early_stopping_rounds, csv_weights, ...),
  checked with its wording (``Missing required hyperparameter: num_round``, ``Extraneous
  hyperparameter found: foo``) and passed to ``xgboost.train``. ``objective`` ``multi:*`` needs
  ``num_class``.
- Channels ``train`` (required) and ``validation``: ``text/csv`` (label first, no header;
  ``csv_weights=1``: the instance weight in the second column), ``text/libsvm`` (the default
  when ContentType is not set) or ``application/x-recordio-protobuf``; File or Pipe mode.
  Evaluation results are printed per round as ``[n]#011train-rmse:...#011validation-rmse:...``.
- Model: ``model.tar.gz`` holds ``xgboost-model``, written by ``Booster.save_model`` and read by
  ``xgboost.Booster().load_model``.
- Serving: ``text/csv`` (default), ``text/libsvm``, ``text/x-libsvm`` or
  ``application/x-recordio-protobuf`` in; out by Accept (default
  ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else ``text/csv``): ``text/csv`` one prediction per
  line (a row of class probabilities for ``multi:softprob``), ``application/json``
  ``{"predictions": [{"score": ...}]}``, ``application/jsonlines`` one ``{"score": ...}`` per line,
  ``application/x-recordio-protobuf`` one record per prediction (label ``score``). 415 for
  another content type, 406 for another Accept, 400 for a payload the model cannot score.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np

from smflow.local.containers.algorithms.hyperparameters import TOOLKIT_STYLE, CustomerError, Param

NAME = "xgboost"
TITLE = "XGBoost"
STYLE = TOOLKIT_STYLE
DEFAULT_CONTENT_TYPE = "text/libsvm"
CONTENT_TYPES = ("text/csv", "csv", "text/libsvm", "text/x-libsvm", "libsvm",
                 "application/x-recordio-protobuf", "recordio-protobuf")
OTHER_CHANNELS = ("validation",)
SUPERVISED = True
MODEL_FILE = "xgboost-model"

_OBJECTIVES = (
    "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson", "multi:softmax", "multi:softprob",
    "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear", "reg:squarederror", "reg:logistic", "reg:gamma",
    "reg:pseudohubererror", "reg:squaredlogerror", "reg:absoluteerror", "reg:tweedie", "survival:aft",
    "survival:cox",
)
_TRUE_FALSE = ("true", "false")
# Not passed to xgboost.train: they steer the container itself.
_CONTAINER_PARAMS = {"num_round", "csv_weights", "early_stopping_rounds", "save_model_on_termination",
                     "use_dask_gpu_training", "_kfold", "_num_cv_round", "prob_buffer_row"}

PARAMS = (
    Param("num_round", "int", required=True, minimum=1),
    Param("csv_weights", "int", minimum=0, maximum=1),
    Param("early_stopping_rounds", "int", minimum=1),
    Param("booster", "str", choices=("gbtree", "gblinear", "dart")),
    Param("verbosity", "int", minimum=0, maximum=3),
    Param("nthread", "int", minimum=1),
    Param("eta", "float", minimum=0, maximum=1),
    Param("gamma", "float", minimum=0),
    Param("max_depth", "int", minimum=0),
    Param("min_child_weight", "float", minimum=0),
    Param("max_delta_step", "float", minimum=0),
    Param("subsample", "float", above=0, maximum=1),
    Param("colsample_bytree", "float", above=0, maximum=1),
    Param("colsample_bylevel", "float", above=0, maximum=1),
    Param("colsample_bynode", "float", above=0, maximum=1),
    Param("lambda", "float", minimum=0),
    Param("alpha", "float", minimum=0),
    Param("tree_method", "str", choices=("auto", "exact", "approx", "hist", "gpu_hist")),
    Param("sketch_eps", "float", above=0, maximum=0.999999),
    Param("scale_pos_weight", "float", above=0),
    Param("updater", "str"),
    Param("dsplit", "str", choices=("row", "col"), used=False),
    Param("refresh_leaf", "int", minimum=0, maximum=1),
    Param("process_type", "str", choices=("default", "update")),
    Param("grow_policy", "str", choices=("depthwise", "lossguide")),
    Param("max_leaves", "int", minimum=0),
    Param("max_bin", "int", minimum=0),
    Param("predictor", "str", choices=("auto", "cpu_predictor", "gpu_predictor")),
    Param("monotone_constraints", "str"),
    Param("interaction_constraints", "str"),
    Param("sample_type", "str", choices=("uniform", "weighted")),
    Param("normalize_type", "str", choices=("tree", "forest")),
    Param("rate_drop", "float", minimum=0, maximum=1),
    Param("one_drop", "int", minimum=0, maximum=1),
    Param("skip_drop", "float", minimum=0, maximum=1),
    Param("lambda_bias", "float", minimum=0, maximum=1),
    Param("tweedie_variance_power", "float", above=1, maximum=1.999999),
    Param("objective", "str", choices=_OBJECTIVES),
    Param("num_class", "int", minimum=2),
    Param("base_score", "float", minimum=0),
    Param("_kfold", "int", minimum=2, used=False),
    Param("_num_cv_round", "int", minimum=1, used=False),
    Param("eval_metric", "str"),
    Param("seed", "int"),
    Param("num_parallel_tree", "int", minimum=1),
    Param("save_model_on_termination", "str", choices=_TRUE_FALSE, used=False),
    Param("aft_loss_distribution", "str", choices=("normal", "logistic", "extreme")),
    Param("aft_loss_distribution_scale", "float", above=0),
    Param("deterministic_histogram", "str", choices=_TRUE_FALSE),
    Param("sampling_method", "str", choices=("uniform", "gradient_based")),
    Param("prob_buffer_row", "float", above=1.0, used=False),
    Param("use_dask_gpu_training", "str", choices=_TRUE_FALSE, used=False),
    Param("max_cat_to_onehot", "int", minimum=1),
    Param("multi_strategy", "str", choices=("one_output_per_tree", "multi_output_tree")),
)


def check(hp) -> None:
    """The container's cross-field rules. Raises CustomerError."""
    objective = hp["objective"] or ""
    if objective.startswith("multi:") and hp["num_class"] is None:
        raise CustomerError(f"Require input for parameter num_class for objective {objective}")


def _booster_params(hp) -> dict:
    import xgboost as xgb

    params = {}
    for name, value in hp.values.items():
        if value is None or name in _CONTAINER_PARAMS:
            continue
        if name == "eval_metric":
            value = [metric.strip() for metric in value.split(",") if metric.strip()]
        params[name] = value
    if params.get("objective") == "reg:linear" and tuple(int(p) for p in xgb.__version__.split(".")[:2]) >= (1, 0):
        params["objective"] = "reg:squarederror"  # the same loss, under its current name
    return params


def _dmatrix(dataset, hp, channel: str):
    import xgboost as xgb

    features, weights = dataset.features, dataset.weights
    if hp["csv_weights"] == 1 and not dataset.sparse:
        if features.shape[1] < 2:
            raise CustomerError(f"Channel {channel!r}: csv_weights=1 needs the weight in the second column")
        weights, features = features[:, 0], features[:, 1:]
    return xgb.DMatrix(features, label=dataset.labels, weight=weights)


def train(train_set, validation_set, hp, log) -> dict:
    import xgboost as xgb

    dtrain = _dmatrix(train_set, hp, "train")
    evals = [(dtrain, "train")]
    if validation_set is not None:
        evals.append((_dmatrix(validation_set, hp, "validation"), "validation"))
    params = _booster_params(hp)
    objective = params.get("objective", "")
    if objective.startswith(("binary:", "reg:logistic")) and not np.isin(train_set.labels, (0.0, 1.0)).all():
        raise CustomerError(f"Label must be in [0,1] for objective {objective}: the train channel's labels are not")
    if objective.startswith("multi:"):
        classes = hp["num_class"]
        labels = train_set.labels
        if not (np.equal(np.mod(labels, 1), 0).all() and labels.min() >= 0 and labels.max() < classes):
            raise CustomerError(f"Label must be in [0, num_class) for objective {objective} (num_class={classes})")

    callbacks = None
    if hasattr(xgb.callback, "TrainingCallback"):  # xgboost 1.3 and later; before, verbose_eval prints

        class _Log(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log):
                parts = [f"{data}-{metric}:{values[-1]:.5f}" for data, metrics in evals_log.items()
                         for metric, values in metrics.items()]
                log(f"[{epoch}]#011" + "#011".join(parts))
                return False

        callbacks = [_Log()]
    try:
        booster = xgb.train(params, dtrain, num_boost_round=hp["num_round"], evals=evals,
                            early_stopping_rounds=hp["early_stopping_rounds"] if validation_set is not None else None,
                            verbose_eval=callbacks is None, callbacks=callbacks)
    except xgb.core.XGBoostError as error:
        raise CustomerError(f"XGBoost could not train with these hyperparameters and data: {error}") from None
    path = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"xgboost-model-{os.getpid()}")
    booster.save_model(path)
    try:
        with open(path, "rb") as handle:
            return {MODEL_FILE: handle.read()}
    finally:
        os.unlink(path)


# -- serving -------------------------------------------------------------------------------------

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
LIBSVM = ("text/libsvm", "text/x-libsvm")
ACCEPTS = (JSON, JSONLINES, RECORDIO, CSV)


def load_booster(model_dir: str):
    """The booster in ``model_dir``: its first file (not a dotfile), read with pickle or
    ``Booster.load_model`` as AWS's container does.

    Raises:
        FileNotFoundError / RuntimeError: no model file, or one neither way reads.
    """
    import xgboost as xgb

    names = sorted(name for name in os.listdir(model_dir)
                   if os.path.isfile(os.path.join(model_dir, name)) and not name.startswith("."))
    if MODEL_FILE in names:
        names.remove(MODEL_FILE)
        names.insert(0, MODEL_FILE)
    if not names:
        raise FileNotFoundError(f"no model file in {model_dir}: model.tar.gz must hold {MODEL_FILE}")
    path = os.path.join(model_dir, names[0])
    try:
        with open(path, "rb") as handle:
            booster = pickle.load(handle)  # the model the user trained, read as AWS's container reads it
    except Exception as pickle_error:  # noqa: BLE001 - then try the native format
        booster = xgb.Booster()
        try:
            booster.load_model(path)
        except xgb.core.XGBoostError as error:
            raise RuntimeError(f"Model {path} cannot be loaded: pickle: {pickle_error}; xgboost: {error}") from None
    return booster


def to_dmatrix(body: bytes | str, content_type: str):
    """A request body (CSV, libsvm, RecordIO-protobuf) as a DMatrix.

    Raises:
        ValueError: another content type (``UnsupportedFormat``) or a body that does not parse.
    """
    import xgboost as xgb

    from smflow import codecs

    kind = codecs.base_type(content_type) or CSV
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if kind == CSV:
        text = data.decode("utf-8").strip()
        rows = [[float(v) if v.strip() else np.nan for v in line.split(",")] for line in text.splitlines() if line.strip()]
        return xgb.DMatrix(np.asarray(rows, dtype=np.float32))
    if kind in LIBSVM:
        from scipy.sparse import csr_matrix

        rows, cols, values = [], [], []
        for row, line in enumerate(data.decode("utf-8").strip().splitlines()):
            for token in line.split():
                if ":" in token:
                    index, value = token.split(":", 1)
                    rows.append(row)
                    cols.append(int(index))
                    values.append(float(value))
        return xgb.DMatrix(csr_matrix((values, (rows, cols))))
    if kind == RECORDIO:
        from smflow.local.containers.algorithms import records

        features, _labels = records.decode(data)
        return xgb.DMatrix(features)
    raise ValueError(f"Content-type {content_type} not supported. Supported content-type is text/csv, "
                     "text/libsvm, application/x-recordio-protobuf")


def encode_predictions(predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
    from smflow import codecs

    kind = codecs.base_type(accept)
    values = predictions.tolist()
    if kind == CSV:
        lines = [",".join(str(v) for v in row) if isinstance(row, list) else str(row) for row in values]
        return ("\n".join(lines) + "\n").encode("utf-8"), CSV
    answers = [{"score": value} for value in values]
    if kind == JSON:
        return json.dumps({"predictions": answers}).encode("utf-8"), JSON
    if kind == JSONLINES:
        return "".join(json.dumps(answer) + "\n" for answer in answers).encode("utf-8"), JSONLINES
    if kind == RECORDIO:
        from smflow.local.containers.algorithms import records

        return records.encode_answers(answers), RECORDIO
    raise ValueError(f"Accept type {accept} is not supported. Please use supported accept types: {list(ACCEPTS)}.")


def algorithm_handlers(model_dir: str):
    """Handlers answering as the container's algorithm mode (``serve.py``)."""
    from smflow.local.containers import contract
    from smflow.local.containers.serving.handlers import Handlers, ServingError

    booster = load_booster(model_dir)
    expected = booster.num_features()

    def invoke(body, content_type, accept, custom_attributes=None):
        try:
            dtest = to_dmatrix(body, content_type)
        except Exception as error:  # noqa: BLE001 - the container answers 415 for any parse error
            raise ServingError(415, str(error)) from None
        columns = dtest.num_col()
        from smflow import codecs

        kind = codecs.base_type(content_type) or CSV
        if (kind in LIBSVM and columns > expected + 1) or (kind not in LIBSVM and columns not in (expected, expected + 1)):
            raise ServingError(400, f"Unable to evaluate payload provided: Feature size of {kind} inference data "
                                    f"{columns} is not consistent with feature size of trained model {expected}.")
        try:
            predictions = booster.predict(dtest, validate_features=False)
        except Exception as error:  # noqa: BLE001
            raise ServingError(400, f"Unable to evaluate payload provided: {error}") from None
        try:
            return encode_predictions(predictions, accept)
        except ValueError as error:
            raise ServingError(406, str(error)) from None

    def execution_parameters():
        return {"MaxConcurrentTransforms": max(1, os.cpu_count() or 1), "BatchStrategy": "MultiRecord",
                "MaxPayloadInMB": 6}

    def unused(*_args):
        raise ServingError(500, "the algorithm mode answers through invoke")

    return Handlers(model=booster, transform_fn=None, input_fn=unused, predict_fn=unused, output_fn=unused,
                    execution_parameters_fn=execution_parameters,
                    default_accept=os.environ.get(contract.SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT) or CSV,
                    invoke=invoke)
