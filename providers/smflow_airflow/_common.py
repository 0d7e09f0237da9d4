"""Glue shared by the provider's operators, sensors and triggers.

Only Airflow-side plumbing lives here (which client call stops which kind of job, the idempotency
key of a task run, trigger events, XCom summaries); every lifecycle rule (names, states, waiting,
logs) is smflow's: ``smflow.states.of_kind``, ``SageMakerClient.describe``, ``smflow.aio``.
Nothing heavy is imported at module level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.client import SageMakerClient
    from smflow.waiting import Backoff

TRAINING_JOB = "TrainingJob"
TRANSFORM_JOB = "TransformJob"
ENDPOINT = "Endpoint"
KINDS = (TRAINING_JOB, TRANSFORM_JOB, ENDPOINT)

DEFAULT_CHECK_INTERVAL = 30.0  # seconds: the longest delay between two Describe* polls


def stop(client: SageMakerClient, kind: str, name: str) -> None:
    """Stop a training or transform job (a job that already ended is left as it is)."""
    if kind == TRAINING_JOB:
        client.stop_training_job(name)
    elif kind == TRANSFORM_JOB:
        client.stop_transform_job(name)
    else:
        raise ValueError(f"only jobs can be stopped, not {kind}")


def summary(kind: str, description: dict) -> dict:
    """The small JSON-serializable XCom value of a description (``smflow.summaries``)."""
    from smflow import summaries

    makers = {
        TRAINING_JOB: summaries.training_job_summary,
        TRANSFORM_JOB: summaries.transform_job_summary,
        ENDPOINT: summaries.endpoint_summary,
    }
    return makers[kind](description)


def backoff(check_interval: float) -> Backoff:
    """smflow's default backoff (0.2 s, x1.2) capped at ``check_interval`` seconds.

    Raises:
        smflow.errors.ConfigurationError: ``check_interval`` is not a positive number.
    """
    from smflow.errors import ConfigurationError
    from smflow.waiting import DEFAULT_BACKOFF, Backoff

    try:
        cap = float(check_interval)
    except (TypeError, ValueError):
        cap = 0.0
    if cap <= 0:
        raise ConfigurationError(f"check_interval must be a positive number of seconds, got {check_interval!r}")
    return Backoff(initial=min(DEFAULT_BACKOFF.initial, cap), factor=DEFAULT_BACKOFF.factor, maximum=cap)


def run_key(context: Context) -> str:
    """``<dag_id>.<task_id>.<run_id>[.<map_index>]``: the same for every try of one task run, so
    a retry derives the job name its earlier try used (``smflow.naming.stable_name``)."""
    ti = context["ti"]
    key = f"{ti.dag_id}.{ti.task_id}.{ti.run_id}"
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        key += f".{map_index}"
    return key


def default_base_name(task_id: str) -> str:
    """A readable job-name stem from the task id (``train_model`` -> ``train-model``)."""
    from smflow.naming import sanitize

    return sanitize(task_id.rsplit(".", 1)[-1])[:40].rstrip("-") or "smflow"


def persist_link(context: Context, link: Any, client: SageMakerClient, name: str) -> None:
    """Store what the console link of ``name`` needs (``link``: a ``SageMakerConsoleLink`` class).
    With a custom endpoint the partition is stored as ``"local"`` with the endpoint's URL: the
    link opens the local runtime's console."""
    if link is None or not name:
        return
    region = client.region_name
    if client.custom_endpoint_url:
        link.persist(context, name=name, region=region, partition="local", endpoint_url=client.custom_endpoint_url)
        return
    partition = client.session.get_partition_for_region(region) or "aws"
    link.persist(context, name=name, region=region, partition=partition)


class SkipLines:
    """A ``log`` callable that drops the first ``count`` lines, then passes lines to ``emit``.

    After a deferral the trigger has already put the first lines of a training log into the
    task log; on resume the operator reads the log again and only shows what came after."""

    def __init__(self, count: int, emit: Callable[[str], None]):
        self.remaining = max(0, int(count))
        self.emit = emit

    def __call__(self, line: str) -> None:
        if self.remaining:
            self.remaining -= 1
            return
        self.emit(line)


# ---------------------------------------------------------------------- trigger events
def event(status: str, kind: str, name: str, **fields: Any) -> dict:
    """A trigger event payload: ``{"status": success|failed|timeout|error, "kind", "name", ...}``."""
    return {"status": status, "kind": kind, "name": name, **fields}


def raise_for_event(event_payload: dict[str, Any] | None) -> dict:
    """Return a ``success`` event; raise the error another event stands for.

    Raises:
        smflow.errors.ResourceFailedError: ``failed`` (the resource ended Failed / Stopped /
            rolled back; carries FailureReason).
        smflow.errors.WaitTimeoutError: ``timeout``.
        AirflowException: ``error`` (the trigger could not poll) or a malformed event.
    """
    from airflow.sdk.exceptions import AirflowException

    from smflow.errors import ResourceFailedError, WaitTimeoutError

    if not isinstance(event_payload, dict) or "status" not in event_payload:
        raise AirflowException(f"unexpected trigger event: {event_payload!r}")
    status = event_payload["status"]
    kind = event_payload.get("kind", "?")
    name = event_payload.get("name", "?")
    if status == "success":
        return event_payload
    if status == "failed":
        raise ResourceFailedError(
            kind, name, event_payload.get("resource_status", "Failed"), event_payload.get("failure_reason")
        )
    if status == "timeout":
        raise WaitTimeoutError(
            kind, name, event_payload.get("resource_status", "unknown"), float(event_payload.get("timeout") or 0)
        )
    raise AirflowException(f"waiting for {kind} {name!r} failed: {event_payload.get('message', status)}")
