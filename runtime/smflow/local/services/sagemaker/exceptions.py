"""Errors of the local SageMaker API, each carrying its wire code and HTTP status.

As in moto (``moto/sagemaker/exceptions.py``), the state model and the backend raise these and
the wire protocol (:mod:`.responses`) answers them in AWS's JSON error shape, which botocore
turns into ``ClientError`` with :attr:`SageMakerError.code`. The codes and statuses are those of
the SageMaker API reference's "Errors" sections and of AWS's JSON protocols.
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE = 4096  # characters of an error message; the rest is cut (a report of each unknown member of a huge body could run to megabytes)


def bounded_message(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message``, cut to ``limit`` characters with a note of how much was left out."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}... ({len(message) - limit} more characters)"


class SageMakerError(Exception):
    """An error answered to the client: ``code`` (the AWS error code), HTTP ``status``, message
    (at most :data:`MAX_MESSAGE` characters).

    ``fields`` holds extra members of the error shape (e.g. ModelError's OriginalStatusCode).
    """

    code = "InternalFailure"
    status = 500

    def __init__(self, message: str, **fields: Any):
        message = bounded_message(message)
        super().__init__(message)
        self.message = message
        self.fields = fields


class ValidationException(SageMakerError):
    """SageMaker API: invalid input, or a model/endpoint config/endpoint/job that does not exist."""

    code = "ValidationException"
    status = 400


class ResourceInUse(SageMakerError):
    """SageMaker API: a training or transform job with this name already exists."""

    code = "ResourceInUse"
    status = 400


class InternalFailure(SageMakerError):
    """Any AWS API: an unexpected error in the runtime itself (HTTP 500)."""

    code = "InternalFailure"
    status = 500


class UnknownOperation(SageMakerError):
    """Any AWS API: the request names no operation this runtime implements."""

    code = "UnknownOperationException"
    status = 400


class SerializationException(SageMakerError):
    """JSON protocols: the request body is not a JSON object."""

    code = "SerializationException"
    status = 400


class RequestEntityTooLarge(SageMakerError):
    """Any API: the request body is over the operation's limit (refused before it is read)."""

    code = "RequestEntityTooLarge"
    status = 413


class IncompleteBody(SageMakerError):
    """Any API: the body ended before its Content-Length, or its chunked encoding is malformed."""

    code = "IncompleteBody"
    status = 400


class InvalidContentLength(SageMakerError):
    """Any API: the Content-Length header is not a number."""

    code = "InvalidContentLength"
    status = 400
