"""Streaming a training job's CloudWatch log lines while waiting.

SageMaker writes a training job's output to log group ``/aws/sagemaker/TrainingJobs``, one stream
per instance named ``<TrainingJobName>/algo-<n>-<epoch>`` (the SageMaker Python SDK's
``logs_for_job`` reads them the same way). ``LogTail.poll()`` fetches what arrived since the last
call from every stream of the job and hands each line to ``emit``, in time order.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"


class LogTail:
    """Incremental reader of the log streams whose names start with ``<job_name>/``.

    Args:
        logs_client: a boto3 ``logs`` client.
        job_name: the TrainingJobName (or TransformJobName).
        emit: called with each log line (str, without trailing newline).
        log_group: the CloudWatch Logs group.
    """

    def __init__(
        self,
        logs_client,
        job_name: str,
        emit: Callable[[str], None],
        log_group: str = TRAINING_LOG_GROUP,
    ):
        self._logs = logs_client
        self._prefix = f"{job_name}/"
        self._emit = emit
        self._group = log_group
        self._tokens: dict[str, str | None] = {}
        self.lines_emitted = 0

    def poll(self) -> int:
        """Emit the lines that arrived since the last poll; returns how many. Never raises for a
        group or stream that does not exist yet (the job may not have started logging).

        Raises: botocore ClientError of the logs API (throttling, access denied). The lines read
        before the error are emitted first and the read position is kept, so the next poll
        continues where this one stopped: no line is lost or repeated.
        """
        try:
            self._discover_streams()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return 0
            raise
        events: list[tuple[int, str, str]] = []
        try:
            for stream in list(self._tokens):
                self._read_stream(stream, events)
        finally:
            events.sort(key=lambda event: event[0])
            for _, _, message in events:
                self._emit(message.rstrip("\n"))
            self.lines_emitted += len(events)
        return len(events)

    def _discover_streams(self) -> None:
        paginator = self._logs.get_paginator("describe_log_streams")
        for page in paginator.paginate(logGroupName=self._group, logStreamNamePrefix=self._prefix):
            for stream in page.get("logStreams", []):
                self._tokens.setdefault(stream["logStreamName"], None)

    def _read_stream(self, stream: str, collected: list[tuple[int, str, str]]) -> None:
        """Append the stream's new events to ``collected``; each batch's token is saved only
        once its events are in ``collected``."""
        while True:
            kwargs = {"logGroupName": self._group, "logStreamName": stream, "startFromHead": True}
            token = self._tokens[stream]
            if token:
                kwargs["nextToken"] = token
            response = self._logs.get_log_events(**kwargs)
            batch = response.get("events", [])
            collected.extend((event["timestamp"], stream, event["message"]) for event in batch)
            next_token = response.get("nextForwardToken")
            self._tokens[stream] = next_token
            if not batch or next_token == token:
                return
