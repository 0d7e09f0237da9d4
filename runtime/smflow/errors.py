"""Errors raised by smflow.

Every error names the resource and, where SageMaker gives one, its ``FailureReason``
(DescribeTrainingJob / DescribeTransformJob / DescribeEndpoint, SageMaker API reference).
Errors defined next to their code derive from :class:`SmflowError` too
(:class:`smflow.codecs.UnsupportedContentTypeError`).
"""

from __future__ import annotations


class SmflowError(Exception):
    """Base class of every error smflow raises on purpose."""


class ConfigurationError(SmflowError, ValueError):
    """An argument is missing or malformed. The message names the field and the fix."""


class ResourceFailedError(SmflowError):
    """A SageMaker resource reached a terminal state that is not success.

    Attributes:
        kind: ``"TrainingJob"``, ``"TransformJob"`` or ``"Endpoint"``.
        name: the resource name (TrainingJobName, TransformJobName, EndpointName).
        status: the terminal status (``Failed``, ``Stopped``, ...).
        failure_reason: SageMaker's ``FailureReason`` (may be empty for Stopped).
    """

    def __init__(self, kind: str, name: str, status: str, failure_reason: str | None = None):
        self.kind = kind
        self.name = name
        self.status = status
        self.failure_reason = failure_reason or ""
        reason = f": {self.failure_reason}" if self.failure_reason else ""
        super().__init__(f"{kind} {name!r} ended in status {status}{reason}")


class WaitTimeoutError(SmflowError, TimeoutError):
    """Waiting for a resource exceeded its timeout (seconds). The resource itself is untouched."""

    def __init__(self, kind: str, name: str, status: str, timeout: float):
        self.kind = kind
        self.name = name
        self.status = status
        self.timeout = timeout
        super().__init__(
            f"{kind} {name!r} still {status} after {timeout:.0f} s; "
            "raise the timeout or check the resource in SageMaker"
        )


class InvocationError(SmflowError):
    """InvokeEndpoint failed: the endpoint is unknown, or its model answered with an error.

    Attributes:
        endpoint_name: the EndpointName.
        status: the model's HTTP status (``OriginalStatusCode``) or the API's.
        message: the model's message (``OriginalMessage``) or the API's.
    """

    def __init__(self, endpoint_name: str, status: int | None, message: str):
        self.endpoint_name = endpoint_name
        self.status = status
        self.message = message
        code = f" ({status})" if status else ""
        super().__init__(f"endpoint {endpoint_name!r} answered with an error{code}: {message}")


class JobExistsError(SmflowError):
    """A job of that name exists and ``action_if_job_exists="fail"`` was asked for."""

    def __init__(self, kind: str, name: str, status: str):
        self.kind = kind
        self.name = name
        self.status = status
        super().__init__(
            f"{kind} {name!r} already exists (status {status}); pass another name, or "
            "action_if_job_exists='attach' to reuse it or 'timestamp' to start a new one"
        )


def is_argument_error(error: BaseException | None) -> bool:
    """Whether ``error`` comes from the call's own arguments, so that running the same call again
    fails the same way: ConfigurationError, JobExistsError, or botocore's ParamValidationError
    (a request that does not fit the service model). Orchestrators fail such a task for good
    instead of retrying it (the Airflow operators; ``smflow_prefect.retries``)."""
    from botocore.exceptions import ParamValidationError  # here: keeps `import smflow.errors` light

    return isinstance(error, (ConfigurationError, JobExistsError, ParamValidationError))
