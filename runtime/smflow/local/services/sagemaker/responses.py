"""The wire protocol of the local SageMaker API (JSON 1.1).

``X-Amz-Target: SageMaker.<Operation>``, JSON body: the input is checked against botocore's own
service model (``botocore.validate.ParamValidator`` for required members and types, then the
model's length/range/pattern/enum constraints, reported the way AWS words them), the backend
method is called, and the output is serialised through the operation's output shape
(timestamps as epoch-second numbers). Errors (:mod:`.exceptions`) are AWS's JSON error shape:
HTTP 400 (or the error's status), header ``x-amzn-ErrorType``, body
``{"__type": code, "message": ...}``, which botocore turns into ``ClientError`` with that code.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator
from werkzeug.wrappers import Request, Response

from smflow.local.services.protocol import (
    check_constraints,
    constraint_message,
    new_request_id,
    read_body,
    service_model,
)
from smflow.local.services.sagemaker.exceptions import (
    InternalFailure,
    SageMakerError,
    SerializationException,
    UnknownOperation,
    ValidationException,
)
from smflow.local.services.sagemaker.models import epoch_seconds

if TYPE_CHECKING:
    from smflow.local.services.sagemaker.backend import SageMakerBackend

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY = 4 * 1024 * 1024  # bytes of a SageMaker API request (the largest valid one is a few hundred kB)
MAX_DEPTH = 64  # nesting of JSON objects and arrays (the deepest input shape is about 10)
# Timestamps accepted in requests: years 1 to 9999, as epoch seconds.
MIN_EPOCH, MAX_EPOCH = -62135596800.0, 253402300799.0

# Operations of the SageMaker API that the local runtime implements (backend method: snake_case).
SUPPORTED_OPERATIONS: tuple[str, ...] = (
    "CreateTrainingJob", "DescribeTrainingJob", "ListTrainingJobs", "StopTrainingJob",
    "CreateModel", "DescribeModel", "DeleteModel", "ListModels",
    "CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig", "ListEndpointConfigs",
    "CreateEndpoint", "DescribeEndpoint", "UpdateEndpoint", "DeleteEndpoint", "ListEndpoints",
    "CreateTransformJob", "DescribeTransformJob", "ListTransformJobs", "StopTransformJob",
    "AddTags", "ListTags", "DeleteTags",
)


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class SageMakerApi:
    """WSGI app answering ``X-Amz-Target: SageMaker.<Operation>`` requests from ``backend``."""

    def __init__(self, backend: SageMakerBackend):
        self.backend = backend
        self.model = service_model("sagemaker")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        try:
            operation = self._operation(request)
            params = self._params(request.environ)
            validate_input(operation.input_shape, params)
            check_code_locations(operation.name, params)
            arguments = deserialize_input(operation.input_shape, params)
            method = getattr(self.backend, _snake(operation.name))
            result = method(**arguments)
            body = serialize_output(operation.output_shape, result) if operation.output_shape else {}
            return _json_response(200, body, request_id)
        except SageMakerError as error:
            return _json_error(error, request_id)
        except RecursionError:
            return _json_error(SerializationException("The request is nested too deeply."), request_id)
        except Exception as error:  # noqa: BLE001 - any bug becomes an AWS-shaped 500
            logger.exception("internal error answering %s", request.headers.get("X-Amz-Target"))
            return _json_error(
                InternalFailure(f"Internal error in the smflow local runtime: {type(error).__name__}: {error}"),
                request_id,
            )

    def _operation(self, request: Request) -> OperationModel:
        target = request.headers.get("X-Amz-Target", "")
        prefix, _, name = target.partition(".")
        if request.method != "POST" or prefix != "SageMaker" or not name:
            raise UnknownOperation(
                f"Expected a POST with header X-Amz-Target: SageMaker.<Operation>, got "
                f"{request.method[:20]} with X-Amz-Target {target[:100]!r}."
            )
        name = name[:200]
        if name not in self.model.operation_names:
            raise UnknownOperation(f"Operation SageMaker.{name} does not exist in the SageMaker API.")
        if name not in SUPPORTED_OPERATIONS:
            raise UnknownOperation(
                f"Operation SageMaker.{name} is not supported by the smflow local runtime. "
                f"Supported operations: {', '.join(SUPPORTED_OPERATIONS)}."
            )
        return self.model.operation_model(name)

    @staticmethod
    def _params(environ: dict[str, Any]) -> dict[str, Any]:
        raw = read_body(environ, MAX_BODY)
        if not raw.strip():
            return {}
        try:
            params = json.loads(raw, parse_constant=_no_constant)
        except RecursionError:
            raise SerializationException(f"The request body is nested more than {MAX_DEPTH} levels deep.") from None
        except ValueError as error:
            raise SerializationException(f"The request body is not valid JSON: {str(error)[:200]}") from None
        if not isinstance(params, dict):
            raise SerializationException("The request body must be a JSON object.")
        _check_depth(params)
        return params


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_depth(value: Any) -> None:
    """SerializationException when JSON objects/arrays nest deeper than MAX_DEPTH (iterative)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise SerializationException(f"The request body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values() if isinstance(child, (dict, list)))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))


def _json_response(status: int, body: dict[str, Any], request_id: str) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        headers={"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": request_id},
    )


def _json_error(error: SageMakerError, request_id: str) -> Response:
    body = {"__type": error.code, "message": error.message, **error.fields}
    response = _json_response(error.status, body, request_id)
    response.headers["x-amzn-ErrorType"] = error.code
    return response


# ------------------------------------------------------------------------------------------
# Validation and (de)serialisation driven by botocore's shapes
# ------------------------------------------------------------------------------------------
def validate_input(shape: Shape | None, params: dict[str, Any]) -> None:
    """Raise ValidationException unless ``params`` (decoded JSON) fit the input shape.

    First botocore's ParamValidator (required members, unknown members, types), then the
    model's constraints (string length and pattern, enum values, numeric ranges, list sizes).
    """
    if shape is None:
        if params:
            raise ValidationException("This operation takes no input.")
        return
    unknown = [name for name in params if name not in shape.members]
    if unknown:  # reported here, briefly: botocore's report repeats every member name for each one
        shown = ", ".join(f'"{name[:100]}"' for name in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValidationException(  # botocore's wording
            f"Unknown parameter in input: {shown}{more}, must be one of: {', '.join(shape.members)}"
        )
    _decode(shape, params, "")  # timestamps in range and base64 blobs, named by their path
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ValidationException(report.generate_report())
    errors = check_constraints(shape, params)
    if errors:
        raise ValidationException(constraint_message(errors))


_SUBMIT_HYPERPARAMETER = "sagemaker_submit_directory"  # the training toolkit's code location


def check_code_locations(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException for code locations the runtime would read from this machine.

    SageMaker's containers read code from S3 (``sagemaker_submit_directory``,
    ``SAGEMAKER_SUBMIT_DIRECTORY``) or from the model's own folder (``/opt/ml/model/...``), and
    ModelDataUrl is an ``s3://``/``https://`` URL (checked by the model's pattern). Locally a
    ``file://`` or other path would name the runtime's own files (``file:///etc``), so only those
    forms are accepted.
    """
    if operation == "CreateTrainingJob":
        hyperparameters = params.get("HyperParameters") or {}
        value = hyperparameters.get(_SUBMIT_HYPERPARAMETER)
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = value
            location = decoded if isinstance(decoded, str) else value
            if not location.startswith("s3://"):
                raise ValidationException(
                    f"HyperParameters.{_SUBMIT_HYPERPARAMETER} {_shown(location)} is not an S3 URI: upload the "
                    "code as a .tar.gz and pass s3://bucket/key/sourcedir.tar.gz."
                )
    elif operation == "CreateModel":
        containers = [params.get("PrimaryContainer")] + list(params.get("Containers") or [])
        for index, container in enumerate(containers):
            if not isinstance(container, dict):
                continue
            environment = container.get("Environment") or {}
            location = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
            if not isinstance(location, str) or not location:
                continue
            if location.startswith("s3://") or location == "/opt/ml/model" or (
                    location.startswith("/opt/ml/model/") and ".." not in location.split("/")):
                continue
            where = "PrimaryContainer" if index == 0 else f"Containers.{index}"
            raise ValidationException(
                f"{where}.Environment.SAGEMAKER_SUBMIT_DIRECTORY {_shown(location)} must be an s3:// URI of "
                "a .tar.gz or a folder under /opt/ml/model (the model's own files)."
            )


def _shown(value: str, limit: int = 200) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def deserialize_input(shape: Shape, params: dict[str, Any]) -> dict[str, Any]:
    """Decoded JSON -> backend arguments: timestamps as epoch-second floats (years 1 to 9999,
    else ValidationException), blobs as bytes."""
    return _decode(shape, params, "")


def _decode(shape: Shape, value: Any, path: str) -> Any:
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            name: _decode(shape.members[name], item, f"{path}.{name}" if path else name)
            if name in shape.members else item
            for name, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_decode(shape.member, item, f"{path}.{index}") for index, item in enumerate(value, start=1)]
    if kind == "map" and isinstance(value, dict):
        return {key: _decode(shape.value, item, f"{path}.{key}") for key, item in value.items()}
    if kind == "timestamp":
        return _timestamp(value, path)
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise SerializationException(f"{path} is not valid base64.") from None
    return value


def _timestamp(value: Any, path: str) -> float:
    problem = "must be epoch seconds or an ISO 8601 date-time"
    try:
        seconds = epoch_seconds(value)
    except (ValueError, TypeError, OverflowError, SageMakerError):
        seconds = None
    else:
        if not MIN_EPOCH <= seconds <= MAX_EPOCH:  # also NaN
            problem = "is out of range (years 1 to 9999)"
            seconds = None
    if seconds is None:
        shown = value[:60] if isinstance(value, str) else value
        raise ValidationException(f"Value {shown!r} at '{path}' {problem}.")
    return seconds


def serialize_output(shape: Shape, value: dict[str, Any]) -> dict[str, Any]:
    """A backend result -> the JSON body: only members of ``shape`` (so summaries and Describe
    payloads carry exactly the documented fields), timestamps as epoch seconds, blobs base64."""
    return _encode(shape, value)


def _encode(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            name: _encode(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if kind == "list" and isinstance(value, list):
        return [_encode(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _encode(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return epoch_seconds(value)
        return float(value)
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value
