"""Pieces every task uses: its client (logging to the task run's logger) and argument plumbing."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials

    from smflow.client import SageMakerClient


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The logger of the task run in progress; outside a run (a task's ``.fn`` called directly)
    the ``smflow_prefect`` logger."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("smflow_prefect")


def task_client(
    aws_credentials: AwsCredentials | None, *, role: str | None = None, default_bucket: str | None = None
) -> SageMakerClient:
    """The smflow client of the task run in progress: its progress messages and the training log
    lines it streams go to the task run's logger (Prefect's run logs); outside a run (a task's
    ``.fn`` called directly) to the ``smflow_prefect`` logger."""
    from smflow_prefect.clients import sagemaker_client

    return sagemaker_client(aws_credentials, role=role, default_bucket=default_bucket, log=run_logger().info)


def call_arguments(method: Callable[..., Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """The task's arguments (its ``locals()`` on entry) that ``method`` of the client takes: the
    Prefect-only ones (``aws_credentials``, ``artifact_key``, ...) are left out."""
    accepted = inspect.signature(method).parameters
    return {name: value for name, value in arguments.items() if name in accepted and name != "self"}
