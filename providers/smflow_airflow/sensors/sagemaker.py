"""Sensors that wait for a SageMaker training job, transform job or endpoint someone else started.

They read the same state table as the operators (``smflow.states``): ``Completed`` /
``InService`` end the wait successfully; ``Failed``, ``Stopped`` (and for endpoints
``OutOfService``, ``UpdateRollbackFailed``...) fail the task with the resource name and
SageMaker's FailureReason, as ``AirflowFailException`` (waiting again cannot change a terminal
state; ``soft_fail=True`` turns it into a skip).

Modes: ``mode="poke"`` (holds a worker slot, sleeps ``poke_interval`` seconds between pokes),
``mode="reschedule"`` (frees the slot between pokes), and ``deferrable=True`` (waits in
``SageMakerResourceTrigger`` with smflow's backoff capped at ``poke_interval``; default: the
``[operators] default_deferrable`` option). ``timeout`` (seconds) bounds the wait in every mode.
``soft_fail`` (and ``never_fail``) work the same in every mode: a failed resource or a timeout
skips the task, also when the resource is found failed before deferring or after resuming.

The XCom value is the resource's small summary (``smflow.summaries``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from smflow_airflow import _common
from smflow_airflow.links.sagemaker import (
    SageMakerEndpointLink,
    SageMakerTrainingJobLink,
    SageMakerTransformJobLink,
)
from smflow_airflow.operators.base import default_deferrable

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.client import SageMakerClient


class SageMakerResourceSensor(BaseSensorOperator):
    """Base of the SageMaker sensors (set ``kind`` and ``name_field``).

    Args:
        aws_conn_id: Airflow ``aws`` connection (templated).
        region_name: overrides the connection's region (templated).
        verify, botocore_config: SSL verification and botocore ``Config`` arguments, as
            ``SageMakerBaseOperator`` (``verify`` templated).
        deferrable: wait in the triggerer instead of poking.
    """

    kind: ClassVar[str]
    name_field: ClassVar[str]  # the attribute holding the resource name
    console_link: ClassVar[Any] = None
    template_fields: Sequence[str] = ("aws_conn_id", "region_name", "verify")
    ui_color = "#c7e3d4"

    def __init__(
        self,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self._client: SageMakerClient | None = None
        self._link_stored = False

    @property
    def resource_name(self) -> str:
        return getattr(self, self.name_field)

    def get_client(self, log=None) -> SageMakerClient:
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        hook = SageMakerClientHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name,
                                   verify=self.verify, botocore_config=self.botocore_config)
        return hook.get_client(log=log or self.log.info)

    @property
    def client(self) -> SageMakerClient:
        if self._client is None:
            self._client = self.get_client()
        return self._client

    def check(self, description: dict) -> bool:
        """True when done; AirflowFailException for a failed resource (state table)."""
        from airflow.sdk.exceptions import AirflowFailException

        from smflow.errors import ResourceFailedError
        from smflow.states import Outcome, of_kind

        try:
            outcome = of_kind(self.kind).check(description)
        except ResourceFailedError as error:
            raise AirflowFailException(str(error)) from error
        return outcome is Outcome.SUCCEEDED

    def poke(self, context: Context) -> bool | PokeReturnValue:
        if not self._link_stored:  # whatever do_xcom_push says: it governs the return value only
            _common.persist_link(context, self.console_link, self.client, self.resource_name)
            self._link_stored = True
        from smflow.waiting import is_throttling

        try:
            description = self.client.describe(self.kind, self.resource_name)
        except Exception as error:
            if is_throttling(error):  # as smflow's waits: a throttled poke is just not done yet
                self.log.info("Describe call throttled; poking again later")
                return False
            raise
        done = self.check(description)
        self.after_poke(description, done)
        if done:
            return PokeReturnValue(is_done=True, xcom_value=_common.summary(self.kind, description))
        from smflow.states import of_kind

        self.log.info("%s %s is %s", self.kind, self.resource_name, of_kind(self.kind).status(description))
        return False

    def after_poke(self, description: dict, done: bool) -> None:
        """Hook for subclasses (training logs)."""

    # ------------------------------------------------------------------ deferrable
    @contextlib.contextmanager
    def soft_fail_as_skip(self) -> Iterator[None]:
        """What ``BaseSensorOperator.execute`` does around ``poke``, for the deferrable paths
        that do not go through it (the check before deferring, ``execute_complete``): with
        ``soft_fail`` or ``never_fail`` a failed resource (``AirflowFailException``) or a
        timeout (``AirflowSensorTimeout``) becomes ``AirflowSkipException``; with
        ``never_fail`` any other error does too."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

        try:
            yield
        except AirflowSkipException:
            raise
        except (AirflowFailException, AirflowSensorTimeout) as error:
            if self.soft_fail or self.never_fail:
                option = "soft_fail" if self.soft_fail else "never_fail"
                raise AirflowSkipException(f"Skipping ({option} is set): {error}") from error
            raise
        except Exception as error:
            if self.never_fail:
                raise AirflowSkipException(f"Skipping (never_fail is set): {error}") from error
            raise

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        with self.soft_fail_as_skip():
            first = self.poke(context)
        if first:
            return first.xcom_value if isinstance(first, PokeReturnValue) else None
        from smflow_airflow.triggers.sagemaker import SageMakerResourceTrigger

        self.log.info("Deferring: %s %s is not done yet", self.kind, self.resource_name)
        self.defer(
            trigger=SageMakerResourceTrigger(
                kind=self.kind,
                name=self.resource_name,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
                check_interval=max(float(self.poke_interval), 0.2),
                deadline=time.time() + float(self.timeout),
                stream_logs=self.stream_logs,
                stop_on_kill=False,  # a sensor does not own the resource
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 300),  # backstop; the trigger times out first
        )

    @property
    def stream_logs(self) -> bool:
        return False

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: a ``failed`` event raises ``AirflowFailException``, a
        ``timeout`` event ``AirflowSensorTimeout`` (both ``AirflowSkipException`` with
        ``soft_fail``); on success, describe once more and return the summary."""
        with self.soft_fail_as_skip():
            return self._complete(event)

    def _complete(self, event: dict[str, Any] | None) -> Any:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

        from smflow.errors import ResourceFailedError, WaitTimeoutError

        try:
            payload = _common.raise_for_event(event)
        except ResourceFailedError as error:
            raise AirflowFailException(str(error)) from error
        except WaitTimeoutError as error:
            raise AirflowSensorTimeout(str(error)) from error
        self._client = self.get_client(log=_common.SkipLines(payload.get("log_lines") or 0, self.log.info))
        description = self.client.describe(self.kind, payload["name"])
        self.check(description)
        self.after_poke(description, True)
        return _common.summary(self.kind, description)


class SageMakerTrainingJobSensor(SageMakerResourceSensor):
    """Wait for a training job to be Completed.

    Args:
        job_name: the TrainingJobName (templated).
        print_log: put the job's CloudWatch log lines into the task log: as they arrive in
            poke mode and when deferred; once, when the job is done, in reschedule mode (each
            reschedule is a new process).
    """

    kind = _common.TRAINING_JOB
    name_field = "job_name"
    template_fields: Sequence[str] = SageMakerResourceSensor.template_fields + ("job_name",)
    console_link = SageMakerTrainingJobLink
    operator_extra_links = (SageMakerTrainingJobLink(),)

    def __init__(self, *, job_name: str, print_log: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.print_log = print_log
        self._tail = None

    @property
    def stream_logs(self) -> bool:
        return self.print_log

    def after_poke(self, description: dict, done: bool) -> None:
        if not self.print_log or (self.reschedule and not done):
            return
        if self._tail is None:
            from smflow.logs import TRAINING_LOG_GROUP, LogTail

            self._tail = LogTail(self.client.logs, self.job_name, self.client.log, TRAINING_LOG_GROUP)
        self._tail.poll()


class SageMakerTransformJobSensor(SageMakerResourceSensor):
    """Wait for a transform job to be Completed. ``job_name``: the TransformJobName (templated)."""

    kind = _common.TRANSFORM_JOB
    name_field = "job_name"
    template_fields: Sequence[str] = SageMakerResourceSensor.template_fields + ("job_name",)
    console_link = SageMakerTransformJobLink
    operator_extra_links = (SageMakerTransformJobLink(),)

    def __init__(self, *, job_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name


class SageMakerEndpointSensor(SageMakerResourceSensor):
    """Wait for an endpoint to be InService (Failed / OutOfService fail the task).
    ``endpoint_name``: the EndpointName (templated)."""

    kind = _common.ENDPOINT
    name_field = "endpoint_name"
    template_fields: Sequence[str] = SageMakerResourceSensor.template_fields + ("endpoint_name",)
    console_link = SageMakerEndpointLink
    operator_extra_links = (SageMakerEndpointLink(),)

    def __init__(self, *, endpoint_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name


__all__ = [
    "SageMakerEndpointSensor",
    "SageMakerResourceSensor",
    "SageMakerTrainingJobSensor",
    "SageMakerTransformJobSensor",
]
