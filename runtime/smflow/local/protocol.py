"""The wire protocols of the SageMaker API (JSON 1.1) and SageMaker Runtime InvokeEndpoint.

SageMaker API (``X-Amz-Target: SageMaker.<Operation>``, JSON body): the input is checked against
botocore's own service model (``botocore.validate.ParamValidator`` for required members and
types, then the model's length/range/pattern/enum constraints, reported the way AWS words them),
the backend method is called, and the output is serialised through the operation's output shape
(timestamps as epoch-second numbers). Errors are AWS's JSON error shape: HTTP 400 (or the error's
status), header ``x-amzn-ErrorType``, body ``{"__type": code, "message": ...}``, which botocore
turns into ``ClientError`` with that code.

SageMaker Runtime (rest-json): ``POST /endpoints/{EndpointName}/invocations`` with the headers of
the InvokeEndpoint API reference; the answer is the raw body with ``Content-Type`` and
``x-Amzn-Invoked-Production-Variant``. Errors: ``ValidationError`` (400) and ``ModelError`` (424,
with OriginalStatusCode, OriginalMessage, LogStreamArn).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import logging
import random
import re
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator
from werkzeug.wrappers import Request, Response

from smflow.local.backend import (
    InternalFailure,
    SageMakerBackend,
    SageMakerError,
    ValidationError,
    ValidationException,
    epoch_seconds,
)

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

INVOCATIONS_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
# InvokeEndpoint headers for features that exist only on AWS.
_UNSUPPORTED_RUNTIME_HEADERS = {
    "X-Amzn-SageMaker-Target-Model": "multi-model endpoints (TargetModel)",
    "X-Amzn-SageMaker-Target-Container-Hostname": "multi-container direct invocation (TargetContainerHostname)",
    "X-Amzn-SageMaker-Inference-Component": "inference components (InferenceComponentName)",
    "X-Amzn-SageMaker-Session-Id": "stateful sessions (SessionId)",
    "X-Amzn-SageMaker-Enable-Explanations": "Clarify explanations (EnableExplanations)",
}


class UnknownOperation(SageMakerError):
    code = "UnknownOperationException"
    status = 400


class SerializationException(SageMakerError):
    code = "SerializationException"
    status = 400


def signing_service(environ: dict[str, Any]) -> str | None:
    """The service of a SigV4 request's credential scope (``.../<region>/<service>/aws4_request``),
    lower-cased, or None for an unsigned (or otherwise signed) request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/aws4_request", auth)
    return match.group(1).lower() if match else None


@functools.lru_cache(maxsize=None)
def service_model(name: str) -> ServiceModel:
    """botocore's model of ``sagemaker`` or ``sagemaker-runtime`` (cached)."""
    return botocore.session.get_session().get_service_model(name)


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _request_id() -> str:
    """A random (version 4) UUID, as AWS's x-amzn-RequestId; formatted directly, since
    ``uuid.uuid4()`` costs a tenth of the runtime's time per InvokeEndpoint call."""
    value = _RANDOM.getrandbits(128)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{_UUID_VARIANT[value >> 62 & 3]}{text[17:20]}-{text[20:]}"


_RANDOM = random.Random()  # seeded from the OS; re-seeded after fork (random's own hook)
_UUID_VARIANT = "89ab"


# ------------------------------------------------------------------------------------------
# SageMaker API (JSON 1.1)
# ------------------------------------------------------------------------------------------
class SageMakerApi:
    """WSGI app answering ``X-Amz-Target: SageMaker.<Operation>`` requests from ``backend``."""

    def __init__(self, backend: SageMakerBackend):
        self.backend = backend
        self.model = service_model("sagemaker")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        request_id = _request_id()
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
# SageMaker Runtime (rest-json): InvokeEndpoint
# ------------------------------------------------------------------------------------------
class RuntimeApi:
    """WSGI app answering SageMaker Runtime InvokeEndpoint from ``backend.invoke_endpoint``.

    :meth:`answer` holds the whole protocol independently of the HTTP server, so that the
    runtime's server can also call it straight from its request handler (the hot path of
    InvokeEndpoint, without building WSGI request and response objects).
    """

    def __init__(self, backend: SageMakerBackend):
        self.backend = backend
        self.input_shape = service_model("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        status, headers, body = self.answer(request.method, request.path, request.headers.get, request.get_data)
        return Response(body, status=status, headers=headers)

    def answer(
        self,
        method: str,
        path: str,
        header: Callable[[str], str | None],
        read_body: Callable[[], bytes],
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one request: ``path`` is the decoded path without query, ``header(name)``
        a case-insensitive header lookup (None when absent), ``read_body()`` the body.

        Returns ``(status, headers, body)``; errors are answered, never raised.
        """
        request_id = _request_id()
        try:
            match = INVOCATIONS_PATH.match(path)
            if method != "POST" or match is None:
                raise UnknownOperation(
                    f"{method} {path} is not supported by the smflow local runtime: "
                    "of the SageMaker Runtime API only InvokeEndpoint "
                    "(POST /endpoints/{EndpointName}/invocations) is."
                )
            for name, feature in _UNSUPPORTED_RUNTIME_HEADERS.items():
                if header(name):
                    raise ValidationError(f"{feature} is not supported by the smflow local runtime.")
            params = {
                "EndpointName": match.group("name"),
                "Body": read_body(),
                "ContentType": header("Content-Type"),
                "Accept": header("Accept"),
                "CustomAttributes": header("X-Amzn-SageMaker-Custom-Attributes"),
                "TargetVariant": header("X-Amzn-SageMaker-Target-Variant"),
            }
            params = {k: v for k, v in params.items() if v is not None}
            errors = check_constraints(self.input_shape, params)
            if errors:
                raise ValidationError(_constraint_message(errors))
            result = self.backend.invoke_endpoint(
                params["EndpointName"],
                params["Body"],
                content_type=params.get("ContentType"),
                accept=params.get("Accept"),
                custom_attributes=params.get("CustomAttributes"),
                target_variant=params.get("TargetVariant"),
            )
            return 200, [
                ("Content-Type", result.content_type),
                ("x-Amzn-Invoked-Production-Variant", result.variant_name),
                ("x-amzn-RequestId", request_id),
            ], result.body
        except SageMakerError as error:
            return _rest_json_error(error, request_id)
        except Exception as error:  # noqa: BLE001
            logger.exception("internal error answering InvokeEndpoint %s", path)
            return _rest_json_error(
                InternalFailure(f"Internal error in the smflow local runtime: {type(error).__name__}: {error}"),
                request_id,
            )


def _rest_json_error(error: SageMakerError, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
    body = {"Message": error.message, **error.fields}
    return error.status, [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", error.code),
        ("x-amzn-RequestId", request_id),
    ], json.dumps(body).encode("utf-8")


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
        raise ValidationException(_constraint_message(errors))


def _constraint_message(errors: list[str]) -> str:
    count = len(errors)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors)


def check_constraints(shape: Shape, value: Any, path: str = "") -> list[str]:
    """AWS-worded constraint violations of ``value`` against ``shape`` (and its members).

    Paths name members the way AWS does (``productionVariants.1.member.modelName``).
    """
    errors: list[str] = []
    _check(shape, value, path, errors)
    return errors


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    meta = shape.metadata
    where = path or shape.name

    def fail(constraint: str) -> None:
        shown = "" if meta.get("sensitive") else f" {_show(value)}"  # formatted only on failure
        errors.append(f"Value{shown} at '{where}' failed to satisfy constraint: {constraint}")

    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                child = name[:1].lower() + name[1:]
                _check(member, value[name], f"{path}.{child}" if path else child, errors)
        return
    if kind == "list" and isinstance(value, list):
        _check_size(meta, len(value), fail)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{where}.{index}.member", errors)
        return
    if kind == "map" and isinstance(value, dict):
        _check_size(meta, len(value), fail)
        for key, item in value.items():
            _check(shape.key, key, f"{where}.{key}.key", errors)
            _check(shape.value, item, f"{where}.{key}.value", errors)
        return
    if kind == "string" and isinstance(value, str):
        if "min" in meta and len(value) < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        enum = meta.get("enum")
        if enum and value not in enum:
            fail(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = _pattern(meta.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        return
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")


def _check_size(meta: dict[str, Any], size: int, fail: Any) -> None:
    if "min" in meta and size < meta["min"]:
        fail(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        fail(f"Member must have length less than or equal to {meta['max']}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 100 else value[:100] + "..."
        return f"'{text}'"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    text = json.dumps(value, default=str)
    return text if len(text) <= 100 else text[:100] + "..."


# Java regular-expression classes used in the SageMaker models, as Python character-class parts.
_JAVA_CLASSES = {
    r"\p{ASCII}": r"\x00-\x7f",
    r"\p{Print}": r"\x20-\x7e",
    r"\p{Alnum}": r"a-zA-Z0-9",
    r"\p{L}": r"a-zA-Z\u00c0-\uffff",  # letters (approximation: Latin plus all non-ASCII)
    r"\p{N}": r"\d",
    r"\p{Z}": r"\s",
}


@functools.lru_cache(maxsize=None)
def _pattern(java: str | None) -> re.Pattern[str] | None:
    """Compile a Java pattern from the model as Python; None (= not checked) if impossible."""
    if not java:
        return None
    python = _translate_java(java)
    try:
        return re.compile(python, re.DOTALL)
    except re.error:
        logger.debug("pattern %r is not checked (no Python equivalent)", java)
        return None


def _translate_java(java: str) -> str:
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(java):
        char = java[index]
        if char == "\\" and index + 1 < len(java):
            two = java[index:index + 2]
            if two == r"\p":
                end = java.find("}", index)
                token = java[index:end + 1]
                if token in _JAVA_CLASSES:
                    part = _JAVA_CLASSES[token]
                else:
                    return "(?!)("  # unknown class: an invalid pattern, so it is not checked
                out.append(part if in_class else f"[{part}]")
                index = end + 1
                continue
            if two == r"\z":
                out.append(r"\Z")
                index += 2
                continue
            out.append(two)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)


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
