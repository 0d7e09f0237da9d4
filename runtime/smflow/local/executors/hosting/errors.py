"""The errors of the hosting executor."""

from __future__ import annotations


class ModelServerError(Exception):
    """A model server could not be started or reached. ``str(e)`` is a user-facing
    FailureReason (DescribeEndpoint / DescribeTransformJob)."""


class VariantNotFoundError(ValueError):
    """InvokeEndpoint named a ``TargetVariant`` that the endpoint does not have."""


class InstanceUnavailableError(ModelServerError):
    """The model-server instance cannot take requests: its process has exited or its port refuses
    or drops connections (not a timeout, not a model error). The request may go to another
    instance; :class:`~smflow.local.executors.hosting.deployment.Deployment` does so."""
