"""How Amazon's built-in algorithm containers (KMeans, PCA, LinearLearner) answer
``/invocations``, served from a model folder without a user script.

Sources: SageMaker developer guide, "Common Data Formats for Inference" (request formats shared
by the algorithms) and each algorithm's "Response Formats" page.

Requests (``Content-Type``):

- ``text/csv``: one record per line, the features only (no label), no header;
- ``application/json``: ``{"instances": [{"features": [1.5, 16.0, ...]}, ...]}``, or the
  protobuf-like ``{"instances": [{"data": {"features": {"values": [...], "keys": [...],
  "shape": [n]}}}]}`` (sparse when ``keys`` is given); a bare list of rows is also taken;
- ``application/jsonlines``: one such instance per line;
- ``application/x-recordio-protobuf``: records with ``features["values"]``.

Answers (``Accept``; absent or ``*/*``: ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else JSON):

- ``application/json``: ``{"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 3.0}]}``
  (KMeans), ``{"projections": [{"projection": [...]}]}`` (PCA), ``{"predictions": [{"score":
  0.4, "predicted_label": 0.0}]}`` (LinearLearner);
- ``application/jsonlines``: one answer object per line;
- ``text/csv``: one line per record, the answer's values in the order above (lists flattened);
- ``application/x-recordio-protobuf``: one record per answer, its values in the label map.

Errors: 415 for another Content-Type, 406 for another Accept, 400 for a body that does not
parse or whose records do not have the model's ``feature_dim`` columns.
"""

from __future__ import annotations

import json
import os

import numpy as np

from smflow import codecs
from smflow.local.containers import contract
from smflow.local.containers.serving.handlers import Handlers, ServingError

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
RECORDIO = "application/x-recordio-protobuf"
CONTENT_TYPES = (CSV, JSON, JSONLINES, RECORDIO)
ACCEPTS = (JSON, JSONLINES, CSV, RECORDIO)


def _instance_row(instance, index: int) -> np.ndarray:
    if isinstance(instance, dict):
        if "features" in instance:
            return np.asarray(instance["features"], dtype=np.float32).reshape(-1)
        data = (instance.get("data") or {}).get("features")
        if isinstance(data, dict) and "values" in data:
            values = np.asarray(data["values"], dtype=np.float32).reshape(-1)
            keys = data.get("keys") or []
            if keys:
                shape = data.get("shape") or [max(keys) + 1]
                row = np.zeros(int(np.prod(shape)), dtype=np.float32)
                row[np.asarray(keys, dtype=np.int64)] = values
                return row
            return values
        raise ValueError(f'instance {index} has neither "features" nor "data": {{"features": {{"values": [...]}}}}')
    return np.asarray(instance, dtype=np.float32).reshape(-1)


def _rows(rows: list[np.ndarray]) -> np.ndarray:
    widths = sorted({row.size for row in rows})
    if len(widths) > 1:
        raise ValueError(f"records have different numbers of features: {widths}")
    return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


def parse_request(body: bytes | str, content_type: str) -> np.ndarray:
    """The request's records as a float32 ``(rows, columns)`` array.

    Raises:
        ServingError(415): another content type; ServingError(400): a body that does not parse.
    """
    kind = codecs.base_type(content_type) or JSON
    if kind not in CONTENT_TYPES:
        raise ServingError(
            415, f"Content type {content_type!r} is not supported: send one of {', '.join(CONTENT_TYPES)}"
        )
    try:
        if kind == RECORDIO:
            from smflow.local.containers.algorithms import records

            data = body.encode("utf-8") if isinstance(body, str) else body
            return records.decode(data)[0]
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        if kind == CSV:
            lines = [line for line in text.splitlines() if line.strip()]
            return _rows([np.asarray([float(v) for v in line.split(",")], dtype=np.float32) for line in lines])
        if kind == JSONLINES:
            return _rows([_instance_row(json.loads(line), n) for n, line in enumerate(text.splitlines()) if line.strip()])
        document = json.loads(text)
        if isinstance(document, dict):
            instances = document.get("instances")
            if instances is None and ("features" in document or "data" in document):
                instances = [document]
            if not isinstance(instances, list):
                raise TypeError('a JSON request is {"instances": [{"features": [...]}, ...]}')
        elif isinstance(document, list):
            instances = document if document and isinstance(document[0], (list, dict)) else [document]
        else:
            raise TypeError('a JSON request is {"instances": [{"features": [...]}, ...]}')
        return _rows([_instance_row(instance, n) for n, instance in enumerate(instances)])
    except ServingError:
        raise
    except (ValueError, TypeError, KeyError) as error:
        raise ServingError(400, f"Unable to evaluate payload provided: the {kind} body does not parse: {error}") from None


def _flat(value) -> list:
    return [float(v) for v in value] if isinstance(value, list) else [value]


def encode_answers(answers: list[dict], accept: str, result_key: str, keys: tuple[str, ...]) -> tuple[bytes, str]:
    """Serialize the answers by ``accept``. Raises ServingError(406) for another type."""
    kind = codecs.base_type(accept)
    if kind == JSON:
        return json.dumps({result_key: answers}).encode("utf-8"), JSON
    if kind == JSONLINES:
        return "".join(json.dumps(answer) + "\n" for answer in answers).encode("utf-8"), JSONLINES
    if kind == CSV:
        lines = [",".join(repr(v) if isinstance(v, float) else str(v)
                          for key in keys if key in answer for v in _flat(answer[key])) for answer in answers]
        return ("\n".join(lines) + "\n").encode("utf-8"), CSV
    if kind == RECORDIO:
        from smflow.local.containers.algorithms import records

        return records.encode_answers(answers), RECORDIO
    raise ServingError(406, f"Accept type {accept!r} is not supported: ask for one of {', '.join(ACCEPTS)}")


def make_handlers(algorithm, model_dir: str) -> Handlers:
    """Handlers answering every request with ``algorithm`` (a module of this package: ``load``,
    ``predict``, ``feature_dim``, ``RESULT_KEY``, ``OUTPUT_KEYS``) and the model in ``model_dir``.

    Raises:
        FileNotFoundError / ValueError: the model folder holds no readable model of that algorithm.
    """
    model = algorithm.load(model_dir)
    width = algorithm.feature_dim(model)

    def invoke(body, content_type, accept, custom_attributes=None):
        features = parse_request(body, content_type)
        if features.size == 0:
            raise ServingError(400, "Unable to evaluate payload provided: the request holds no records")
        if features.shape[1] != width:
            raise ServingError(
                400,
                f"Unable to evaluate payload provided: the records have {features.shape[1]} features but the "
                f"model was trained with feature_dim {width}",
            )
        answers = algorithm.predict(model, features)
        return encode_answers(answers, accept, algorithm.RESULT_KEY, algorithm.OUTPUT_KEYS)

    def execution_parameters():
        return {"MaxConcurrentTransforms": max(1, os.cpu_count() or 1), "BatchStrategy": "MultiRecord",
                "MaxPayloadInMB": 6}

    def unused(*_args):
        raise ServingError(500, "the algorithm container answers through invoke")

    return Handlers(
        model=model, transform_fn=None, input_fn=unused, predict_fn=unused, output_fn=unused,
        execution_parameters_fn=execution_parameters,
        default_accept=os.environ.get(contract.SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT) or JSON,
        invoke=invoke,
    )
