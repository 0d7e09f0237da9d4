"""The trigger that waits for a SageMaker training job, transform job or endpoint while the task
is deferred (the worker slot is free).

It polls with smflow's :func:`~smflow.aio.wait_for_resource`, the wait of the async Prefect
tasks too: the boto3 calls run in worker threads and the delays are ``asyncio.sleep``, so the
triggerer's event loop is never blocked. The set-up runs in a worker thread as well: importing
``smflow.aio`` (which imports boto3), reading the connection, building the boto3 clients and the
log tail;
the delays grow from 0.2 s up to ``check_interval`` seconds (smflow's backoff), and the state
table is smflow's (Completed / InService succeed; Failed, Stopped, a rolled-back update fail with
SageMaker's FailureReason). Training log lines go to the trigger's log, which Airflow writes
into the task's log while the task is deferred.

Events (``TriggerEvent.payload``)::

    {"status": "success", "kind", "name", "resource_status", "log_lines", "expected_endpoint_config"}
    {"status": "failed",  "kind", "name", "resource_status", "failure_reason", "message", "log_lines"}
    {"status": "timeout", "kind", "name", "resource_status", "timeout", "message"}
    {"status": "error",   "kind", "name", "message"}          # the trigger could not poll
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from smflow_airflow import _common


class SageMakerResourceTrigger(BaseTrigger):
    """Wait until a SageMaker resource is terminal.

    Args:
        kind: ``"TrainingJob"``, ``"TransformJob"`` or ``"Endpoint"``.
        name: the TrainingJobName / TransformJobName / EndpointName.
        aws_conn_id, region_name, verify, botocore_config: the ``aws`` connection and its
            overrides (see ``SageMakerClientHook``); ``botocore_config`` a dict of botocore
            ``Config`` arguments.
        check_interval: longest delay between two Describe* calls, in seconds.
        deadline: epoch seconds after which waiting stops with a ``timeout`` event (None: no
            limit). An absolute time, so a trigger moved to another triggerer keeps its budget.
        stream_logs: put the training job's CloudWatch log lines into the task log.
        expected_endpoint_config: for an endpoint being updated: InService on another config
            means the update rolled back, which is a failure.
        stop_on_kill: stop the job when a user kills the deferred task (mark failed / clear);
            operators that started the job set it, sensors do not.
    """

    def __init__(
        self,
        *,
        kind: str,
        name: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        check_interval: float = _common.DEFAULT_CHECK_INTERVAL,
        deadline: float | None = None,
        stream_logs: bool = False,
        expected_endpoint_config: str | None = None,
        stop_on_kill: bool = False,
    ):
        super().__init__()
        from smflow.states import of_kind

        of_kind(kind)  # validates kind
        self.kind = kind
        self.name = name
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.check_interval = float(check_interval)
        self.deadline = deadline
        self.stream_logs = bool(stream_logs) and kind == _common.TRAINING_JOB
        self.expected_endpoint_config = expected_endpoint_config
        self.stop_on_kill = stop_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "kind": self.kind,
                "name": self.name,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
                "check_interval": self.check_interval,
                "deadline": self.deadline,
                "stream_logs": self.stream_logs,
                "expected_endpoint_config": self.expected_endpoint_config,
                "stop_on_kill": self.stop_on_kill,
            },
        )

    # ------------------------------------------------------------------ blocking parts (threads)
    def _make_client(self):
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        hook = SageMakerClientHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name,
                                   verify=self.verify, botocore_config=self.botocore_config)
        return hook.get_client(log=self.log.info, backoff=_common.backoff(self.check_interval))

    def _prepare(self):
        """``(smflow.aio, client, log tail or None)``; blocking (imports boto3, reads the
        connection, builds boto3 clients): run it in a worker thread."""
        from smflow import aio

        client = self._make_client()
        tail = None
        if self.stream_logs:
            from smflow.logs import TRAINING_LOG_GROUP, LogTail

            tail = LogTail(client.logs, self.name, self.log.info, TRAINING_LOG_GROUP)
        return aio, client, tail

    # ------------------------------------------------------------------ the trigger
    async def run(self) -> AsyncIterator[TriggerEvent]:
        # smflow.errors and smflow.states are plain Python (no boto3): cheap on the loop.
        from smflow.errors import ResourceFailedError, WaitTimeoutError
        from smflow.states import of_kind

        kind = self.kind
        tail = None
        try:
            aio, client, tail = await asyncio.to_thread(self._prepare)
            timeout = None if self.deadline is None else max(0.0, self.deadline - time.time())
            self.log.info("Waiting for %s %s (polls up to %g s apart)", kind, self.name, self.check_interval)
            description = await aio.wait_for_resource(
                client, kind, self.name, log_tail=tail, expected_config=self.expected_endpoint_config,
                timeout=timeout,
            )
        except ResourceFailedError as error:
            self.log.error("%s", error)
            yield TriggerEvent(_common.event(
                "failed", kind, self.name, resource_status=error.status,
                failure_reason=error.failure_reason, message=str(error),
                log_lines=tail.lines_emitted if tail else 0,
            ))
            return
        except WaitTimeoutError as error:
            yield TriggerEvent(_common.event(
                "timeout", kind, self.name, resource_status=error.status, timeout=error.timeout,
                message=str(error),
            ))
            return
        except Exception as error:  # the trigger must report, not die silently
            self.log.exception("Waiting for %s %s failed", kind, self.name)
            yield TriggerEvent(_common.event("error", kind, self.name, message=f"{type(error).__name__}: {error}"))
            return
        status = of_kind(kind).status(description)
        self.log.info("%s %s is %s", kind, self.name, status)
        yield TriggerEvent(_common.event(
            "success", kind, self.name, resource_status=status,
            log_lines=tail.lines_emitted if tail else 0,
            expected_endpoint_config=self.expected_endpoint_config,
        ))

    async def on_kill(self) -> None:
        """A user killed the deferred task: stop the job it started (``stop_on_kill``)."""
        if not self.stop_on_kill or self.kind == _common.ENDPOINT:
            return

        def stop() -> None:
            _common.stop(self._make_client(), self.kind, self.name)

        self.log.info("Stopping %s %s", self.kind, self.name)
        await asyncio.to_thread(stop)
