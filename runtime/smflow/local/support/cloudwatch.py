"""The one CloudWatch Logs shipper of the local runtime: what a SageMaker container prints reaches
its log group, as on SageMaker.

Training jobs push the lines of their process as they are read (group ``/aws/sagemaker/
TrainingJobs``, stream ``<TrainingJobName>/algo-1-<epoch>``); model servers write to a file that
the shipper follows (groups ``/aws/sagemaker/Endpoints/<EndpointName>``, streams
``<VariantName>/<instance-id>``, and ``/aws/sagemaker/TransformJobs``, streams
``<TransformJobName>/<instance-id>-<epoch>``).

One daemon thread per shipper sends the lines in order, in PutLogEvents batches (CloudWatch Logs
API reference: at most 10,000 events and 1,048,576 bytes per call, 26 bytes of overhead per event,
256 KB per event; empty messages are refused). Pushed lines leave within ``FLUSH_INTERVAL``
seconds; followed files are read every ``POLL_INTERVAL`` seconds. Shipping errors are logged,
never raised: logs must not decide the fate of a job or an endpoint.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 900_000  # PutLogEvents allows 1,048,576 bytes (26 bytes overhead per event)
EVENT_OVERHEAD = 26
MAX_MESSAGE_BYTES = 256 * 1024 - EVENT_OVERHEAD
MAX_READ = 4 * 1024 * 1024  # bytes per followed file per poll


@dataclass
class _Stream:
    name: str
    created: bool = False
    pending: list[dict] = field(default_factory=list)
    # a followed file: where it is read from, and the incomplete last line
    path: Path | None = None
    offset: int = 0
    partial: bytes = b""


def instance_id() -> str:
    """A fresh EC2-style instance id (``i-`` and 17 hex digits), as in SageMaker's log streams."""
    return "i-" + uuid.uuid4().hex[:17]


class LogShipper:
    """Sends lines to streams of one CloudWatch Logs group (``logs_client``: a boto3 ``logs``
    client), from one daemon thread started by :meth:`start`; :meth:`close` sends what is left
    and stops it (idempotent)."""

    FLUSH_INTERVAL = 0.2  # seconds: pushed lines wait at most this long
    POLL_INTERVAL = 0.5  # seconds between reads of the followed files

    def __init__(self, logs_client, group: str):
        self._client = logs_client
        self._group = group
        self._group_ready = False
        self._streams: list[_Stream] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._last_poll = 0.0

    def stream(self, name: str):
        """A function that queues one line (``str``, without its line end) for stream ``name``;
        the group and the stream are created at once (blank lines are not sent)."""
        stream = _Stream(name)
        with self._lock:
            self._streams.append(stream)
        self._create(stream)

        def add(line: str) -> None:
            if line.strip():
                with self._lock:
                    stream.pending.append({"timestamp": int(time.time() * 1000), "message": line})
                    if len(stream.pending) >= MAX_BATCH_EVENTS:
                        self._wake.set()

        return add

    def follow(self, path: str | Path, stream: str) -> None:
        """Send what is appended to the file ``path`` from now on to ``stream``."""
        path = Path(path)
        try:
            offset = path.stat().st_size
        except OSError:
            offset = 0
        with self._lock:
            self._streams.append(_Stream(stream, path=path, offset=offset))

    def start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name=f"logs{self._group}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the thread and send what is left (a followed file's last line included)."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._ship(final=True)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.FLUSH_INTERVAL)
            self._wake.clear()
            if not self._closed:
                self._ship(final=False)

    def _ship(self, final: bool) -> None:
        now = time.monotonic()
        poll = final or now - self._last_poll >= self.POLL_INTERVAL
        if poll:
            self._last_poll = now
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            if stream.path is not None and poll:
                self._read(stream, final)
            with self._lock:
                events, stream.pending = stream.pending, []
            if events:
                self._send(stream, events)

    def _read(self, stream: _Stream, final: bool) -> None:
        try:
            size = stream.path.stat().st_size
            if size <= stream.offset and not (final and stream.partial):
                return
            with open(stream.path, "rb") as handle:
                handle.seek(stream.offset)
                data = handle.read(min(max(size - stream.offset, 0), MAX_READ))
        except OSError:
            return
        stream.offset += len(data)
        lines = (stream.partial + data).split(b"\n")
        stream.partial = b"" if final else lines.pop()
        timestamp = int(time.time() * 1000)
        events = [
            {"timestamp": timestamp, "message": line.decode("utf-8", "replace").rstrip("\r")}
            for line in lines
            if line.strip()
        ]
        with self._lock:
            stream.pending.extend(events)

    def _create(self, stream: _Stream) -> bool:
        try:
            if not self._group_ready:
                try:
                    self._client.create_log_group(logGroupName=self._group)
                except self._client.exceptions.ResourceAlreadyExistsException:
                    pass
                self._group_ready = True
            if not stream.created:
                try:
                    self._client.create_log_stream(logGroupName=self._group, logStreamName=stream.name)
                except self._client.exceptions.ResourceAlreadyExistsException:
                    pass
                stream.created = True
            return True
        except Exception:  # noqa: BLE001 - logs must not break a job or an endpoint
            logger.warning("could not create log stream %s %s", self._group, stream.name, exc_info=True)
            return False

    def _send(self, stream: _Stream, events: list[dict]) -> None:
        if not self._create(stream):
            return
        try:
            batch: list[dict] = []
            size = 0
            for event in events:
                message = _truncate_utf8(event["message"], MAX_MESSAGE_BYTES)
                event_size = len(message.encode("utf-8")) + EVENT_OVERHEAD
                if batch and (len(batch) >= MAX_BATCH_EVENTS or size + event_size > MAX_BATCH_BYTES):
                    self._put(stream.name, batch)
                    batch, size = [], 0
                batch.append({"timestamp": event["timestamp"], "message": message})
                size += event_size
            self._put(stream.name, batch)
        except Exception:  # noqa: BLE001 - logs must not break a job or an endpoint
            logger.warning("could not send %d log events to %s %s", len(events), self._group, stream.name,
                           exc_info=True)

    def _put(self, stream: str, batch: list[dict]) -> None:
        if batch:
            self._client.put_log_events(logGroupName=self._group, logStreamName=stream, logEvents=batch)


def _truncate_utf8(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")
