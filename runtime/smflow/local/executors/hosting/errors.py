"""The errors of the hosting executor."""

from __future__ import annotations


class ModelServerError(Exception):
    """A model server could not be started or reached. ``str(e)`` is a user-facing
    FailureReason (DescribeEndpoint / DescribeTransformJob)."""


class VariantNotFoundError(ValueError):
    """InvokeEndpoint named a ``TargetVariant`` that the endpoint does not have."""
