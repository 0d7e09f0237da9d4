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

from smflow.local.services.protocol import check_constraints, constraint_message, new_request_id, service_model
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

# Operations of the SageMaker API that the local runtime implements (backend method: snake_case).
SUPPORTED_OPERATIONS: tuple[str, ...] = (
    "CreateTrainingJob", "DescribeTrainingJob", "ListTrainingJobs", "StopTrainingJob",
    "CreateModel", "DescribeModel", "DeleteModel", "ListModels",
    "CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig", "ListEndpointConfigs",
    "CreateEndpoint", "DescribeEndpoint", "UpdateEndpoint", "DeleteEndpoint", "ListEndpoints",
    "CreateTransformJob", "DescribeTransformJob", "ListTransformJobs", "StopTransformJob",
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
            params = self._params(request)
            validate_input(operation.input_shape, params)
            arguments = deserialize_input(operation.input_shape, params)
            method = getattr(self.backend, _snake(operation.name))
            result = method(**arguments)
            body = serialize_output(operation.output_shape, result) if operation.output_shape else {}
            return _json_response(200, body, request_id)
        except SageMakerError as error:
            return _json_error(error, request_id)
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
                f"{request.method} with X-Amz-Target {target!r}."
            )
        if name not in self.model.operation_names:
            raise UnknownOperation(f"Operation SageMaker.{name} does not exist in the SageMaker API.")
        if name not in SUPPORTED_OPERATIONS:
            raise UnknownOperation(
                f"Operation SageMaker.{name} is not supported by the smflow local runtime. "
                f"Supported operations: {', '.join(SUPPORTED_OPERATIONS)}."
            )
        return self.model.operation_model(name)

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        raw = request.get_data()
        if not raw.strip():
            return {}
        try:
            params = json.loads(raw)
        except ValueError as error:
            raise SerializationException(f"The request body is not valid JSON: {error}") from error
        if not isinstance(params, dict):
            raise SerializationException("The request body must be a JSON object.")
        return params


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
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ValidationException(report.generate_report())
    errors = check_constraints(shape, params)
    if errors:
        raise ValidationException(constraint_message(errors))


def deserialize_input(shape: Shape, params: dict[str, Any]) -> dict[str, Any]:
    """Decoded JSON -> backend arguments: timestamps as epoch-second floats, blobs as bytes."""
    return _decode(shape, params)


def _decode(shape: Shape, value: Any) -> Any:
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            name: _decode(shape.members[name], item) if name in shape.members else item
            for name, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_decode(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _decode(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return epoch_seconds(value)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    return value


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
