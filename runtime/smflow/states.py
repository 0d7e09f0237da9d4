"""One table of states for every SageMaker resource smflow waits on.

Success is ``Completed`` for jobs and ``InService`` for endpoints. ``Failed`` and ``Stopped``
(jobs) and ``Failed`` / ``OutOfService`` (endpoints) are errors that carry ``FailureReason``.
An endpoint that is ``InService`` again after an update rolled back is also an error: its
FailureReason says why the update failed. (Statuses: DescribeTrainingJob, DescribeTransformJob,
DescribeEndpoint in the SageMaker API reference.) Airflow's Amazon provider treats Stopped as
success; smflow does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from smflow.errors import ResourceFailedError


class Outcome(str, Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class ResourceKind:
    """How to read one kind of resource's Describe* payload."""

    kind: str
    name_field: str
    status_field: str
    success: frozenset[str]
    failure: frozenset[str]
    running: frozenset[str]

    def name(self, description: dict) -> str:
        return description.get(self.name_field, "?")

    def status(self, description: dict) -> str:
        return description.get(self.status_field, "Unknown")

    def outcome(self, description: dict) -> Outcome:
        status = self.status(description)
        if status in self.success:
            return Outcome.SUCCEEDED
        if status in self.failure:
            return Outcome.FAILED
        if status in self.running:
            return Outcome.RUNNING
        raise ResourceFailedError(self.kind, self.name(description), status, "unknown status")

    def check(self, description: dict) -> Outcome:
        """Return the outcome; raise ResourceFailedError for failures, with :func:`failure_reason`
        as its reason."""
        outcome = self.outcome(description)
        if outcome is Outcome.FAILED:
            raise ResourceFailedError(
                self.kind, self.name(description), self.status(description), failure_reason(description),
            )
        return outcome


def failure_reason(description: dict) -> str | None:
    """Why a resource ended unsuccessfully: its ``FailureReason``; when that is empty (a job
    stopped by StopTrainingJob, or by SageMaker when MaxRuntimeInSeconds was reached), its
    ``SecondaryStatus`` (e.g. ``MaxRuntimeExceeded``) and the ``StatusMessage`` of its last
    ``SecondaryStatusTransitions`` entry (DescribeTrainingJob); None when there is none."""
    reason = description.get("FailureReason")
    if reason:
        return reason
    primary = {description.get(field) for field in ("TrainingJobStatus", "TransformJobStatus", "EndpointStatus")}
    secondary = description.get("SecondaryStatus")
    if secondary in primary:
        secondary = None  # "Stopped: Stopped" says nothing
    transitions = description.get("SecondaryStatusTransitions") or []
    message = next((t.get("StatusMessage") for t in reversed(transitions) if t.get("StatusMessage")), None)
    parts = [part for part in (secondary, message) if part]
    return ": ".join(parts) or None


TRAINING_JOB = ResourceKind(
    kind="TrainingJob",
    name_field="TrainingJobName",
    status_field="TrainingJobStatus",
    success=frozenset({"Completed"}),
    failure=frozenset({"Failed", "Stopped"}),
    running=frozenset({"InProgress", "Stopping"}),
)

TRANSFORM_JOB = ResourceKind(
    kind="TransformJob",
    name_field="TransformJobName",
    status_field="TransformJobStatus",
    success=frozenset({"Completed"}),
    failure=frozenset({"Failed", "Stopped"}),
    running=frozenset({"InProgress", "Stopping"}),
)

ENDPOINT = ResourceKind(
    kind="Endpoint",
    name_field="EndpointName",
    status_field="EndpointStatus",
    success=frozenset({"InService"}),
    failure=frozenset({"Failed", "OutOfService", "Deleting", "UpdateRollbackFailed"}),
    running=frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"}),
)


RESOURCE_KINDS: dict[str, ResourceKind] = {table.kind: table for table in (TRAINING_JOB, TRANSFORM_JOB, ENDPOINT)}


def of_kind(kind: str) -> ResourceKind:
    """The state table of ``kind``: ``"TrainingJob"``, ``"TransformJob"`` or ``"Endpoint"``.

    Raises:
        ValueError: any other kind (the message lists the kinds).
    """
    try:
        return RESOURCE_KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"kind must be one of {', '.join(RESOURCE_KINDS)}, got {kind!r}") from None


def check_endpoint_update(description: dict, expected_config: str) -> Outcome:
    """Like ``ENDPOINT.check`` but an InService endpoint still on another config (a rolled-back
    update) is a failure carrying the FailureReason of the update."""
    outcome = ENDPOINT.check(description)
    if outcome is Outcome.SUCCEEDED and description.get("EndpointConfigName") != expected_config:
        raise ResourceFailedError(
            "Endpoint",
            ENDPOINT.name(description),
            "UpdateRolledBack",
            description.get("FailureReason")
            or f"endpoint still serves config {description.get('EndpointConfigName')!r}, "
            f"not {expected_config!r}",
        )
    return outcome
