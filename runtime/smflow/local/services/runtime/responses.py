"""The wire protocol of SageMaker Runtime InvokeEndpoint (rest-json).

``POST /endpoints/{EndpointName}/invocations`` with the headers of the InvokeEndpoint API
reference; the answer is the raw body with ``Content-Type`` and
``x-Amzn-Invoked-Production-Variant``. The request's values are checked against botocore's model
of the operation. Errors: ``ValidationError`` (400) and ``ModelError`` (424, with
OriginalStatusCode, OriginalMessage, LogStreamArn), in the rest-json error shape (header
``x-amzn-ErrorType``, body ``{"Message": ...}``).

The endpoints are the SageMaker backend's
(:meth:`smflow.local.services.sagemaker.backend.SageMakerBackend.invoke_endpoint`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from smflow.local.services.protocol import (
    check_constraints,
    constraint_message,
    new_request_id,
    read_body,
    service_model,
)
from smflow.local.services.runtime.exceptions import ValidationError
from smflow.local.services.sagemaker.exceptions import InternalFailure, SageMakerError, UnknownOperation

if TYPE_CHECKING:
    from smflow.local.services.sagemaker.backend import SageMakerBackend

logger = logging.getLogger(__name__)

INVOCATIONS_PATH = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
MAX_BODY = 6291456  # bytes: InvokeEndpoint's payload limit (6 MB, the Body shape's max in botocore's model)


def body_too_large(size: str) -> ValidationError:
    """The error of a body over :data:`MAX_BODY`, refused before it is read (AWS's wording)."""
    return ValidationError(
        f"1 validation error detected: Value <{size}> at 'body' failed to satisfy constraint: Member must "
        f"have length less than or equal to {MAX_BODY}"
    )
# InvokeEndpoint headers for features that exist only on AWS.
_UNSUPPORTED_RUNTIME_HEADERS = {
    "X-Amzn-SageMaker-Target-Model": "multi-model endpoints (TargetModel)",
    "X-Amzn-SageMaker-Target-Container-Hostname": "multi-container direct invocation (TargetContainerHostname)",
    "X-Amzn-SageMaker-Inference-Component": "inference components (InferenceComponentName)",
    "X-Amzn-SageMaker-Session-Id": "stateful sessions (SessionId)",
    "X-Amzn-SageMaker-Enable-Explanations": "Clarify explanations (EnableExplanations)",
}


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
        status, headers, body = self.answer(request.method, request.path, request.headers.get,
                                            lambda: read_body(request.environ, MAX_BODY, body_too_large))
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
        request_id = new_request_id()
        try:
            match = INVOCATIONS_PATH.match(path)
            if method != "POST" or match is None:
                raise UnknownOperation(
                    f"{method[:20]} {path[:200]} is not supported by the smflow local runtime: "
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
                raise ValidationError(constraint_message(errors))
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
        except RecursionError:
            return _rest_json_error(ValidationError("The request is nested too deeply."), request_id)
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
