"""Batch transform: run a model over S3 objects through the same model servers as endpoints.

Behaviour follows CreateTransformJob / TransformInput / TransformOutput / TransformS3DataSource
(SageMaker API reference) and the SageMaker Python SDK docs on batch transform:

- inputs: every object under ``TransformInput.DataSource.S3DataSource.S3Uri`` (``S3Prefix``) or
  listed by a manifest (``ManifestFile``), optionally ``Gzip``-compressed;
- ``SplitType`` ``None``: each object is one request; ``Line``: each line is a record, sent one per
  request (``BatchStrategy`` ``SingleRecord``) or packed into mini-batches of at most
  ``MaxPayloadInMB`` (``MultiRecord``; default 6 MB; 0 means no limit); ``RecordIO``: each RecordIO
  record (the framing of ``application/x-recordio-protobuf``: magic, length, padded payload) is
  a record, batched the same way. A record larger than the limit fails its object, and so does
  data that is not RecordIO;
- requests carry ``ContentType`` and ``TransformOutput.Accept``; at most
  ``MaxConcurrentTransforms`` (default 1) requests are in flight per instance, spread over
  ``TransformResources.InstanceCount`` model servers request by request (so one big object also
  keeps every instance busy);
- each input object gives ``<S3OutputPath>/<key relative to the prefix>.out``: the responses in
  input order, each ending with a newline (``AssembleWith`` ``Line``: one is added when the
  response has none) or concatenated as they are (``None``);
- an object whose request fails gets no output; the other objects still complete; the job then
  ends ``Failed`` with a FailureReason naming the object and the model's message.

Unset ``MaxConcurrentTransforms`` / ``MaxPayloadInMB`` / ``BatchStrategy`` come from the model's
``execution_parameters_fn`` when it defines one (SageMaker's ``/execution-parameters``), else
1 / 6 MB / ``MultiRecord``.

Objects are streamed from S3 (the input is never held whole in memory: at most two mini-batches
per request slot), and outputs are spooled to ``work_dir/output`` before upload.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import queue
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from smflow.local.support.aws import LocalAws, split_s3_uri
from smflow.local.executors.base import FAILURE_REASON_MAX_CHARS, Run
from smflow.local.executors.hosting.errors import ModelServerError
from smflow.local.executors.hosting.instances import ModelServerProcess, start_servers
from smflow.local.executors.hosting.models import prepare_model
from smflow.local.support.cloudwatch import LogShipper, instance_id

logger = logging.getLogger(__name__)

MB = 1024 * 1024
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_INVOCATION_TIMEOUT = 600.0  # seconds: ModelClientConfig.InvocationsTimeoutInSeconds
DEFAULT_MAX_RETRIES = 3  # ModelClientConfig.InvocationsMaxRetries
SERVER_START_TIMEOUT = 300.0  # seconds
LOG_GROUP = "/aws/sagemaker/TransformJobs"
_READ_CHUNK = 1 * MB
RECORDIO_MAGIC = 0xCED7230A  # dmlc-core's RecordIO framing (smflow.recordio)


class TransformFailure(Exception):
    """The job cannot go on; ``str(e)`` is its FailureReason."""


class _ObjectFailure(Exception):
    """One input object failed; the job goes on with the others."""


@dataclass(frozen=True)
class InputObject:
    bucket: str
    key: str
    relative: str  # output name without ".out", relative to the input prefix

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class JobConfig:
    """The settings of one transform job, validated."""

    name: str
    data_type: str
    input_uri: str
    content_type: str | None
    compression: str
    split_type: str
    accept: str | None
    assemble_with: str
    output_path: str
    instance_count: int
    max_concurrent: int | None  # None: ask the model / default
    max_payload_mb: int | None
    batch_strategy: str | None
    timeout: float
    max_retries: int
    environment: dict[str, str]

    @classmethod
    def from_description(cls, description: Mapping) -> JobConfig:
        """Raises TransformFailure naming the field and the fix for unsupported settings."""
        name = description.get("TransformJobName", "")
        transform_input = description.get("TransformInput") or {}
        source = (transform_input.get("DataSource") or {}).get("S3DataSource") or {}
        output = description.get("TransformOutput") or {}
        resources = description.get("TransformResources") or {}
        client_config = description.get("ModelClientConfig") or {}
        data_processing = description.get("DataProcessing") or {}

        data_type = source.get("S3DataType", "S3Prefix")
        if data_type not in ("S3Prefix", "ManifestFile"):
            raise TransformFailure(
                f"TransformInput.DataSource.S3DataSource.S3DataType {data_type!r} is not supported "
                "locally: use S3Prefix or ManifestFile"
            )
        split_type = transform_input.get("SplitType") or "None"
        if split_type not in ("None", "Line", "RecordIO"):
            raise TransformFailure(
                f"TransformInput.SplitType {split_type!r} is not supported locally: use Line, RecordIO or None"
            )
        compression = transform_input.get("CompressionType") or "None"
        if compression not in ("None", "Gzip"):
            raise TransformFailure(
                f"TransformInput.CompressionType {compression!r} is not valid: use None or Gzip"
            )
        assemble_with = output.get("AssembleWith") or "None"
        if assemble_with not in ("None", "Line"):
            raise TransformFailure(
                f"TransformOutput.AssembleWith {assemble_with!r} is not valid: use Line or None"
            )
        batch_strategy = description.get("BatchStrategy") or None
        if batch_strategy not in (None, "SingleRecord", "MultiRecord"):
            raise TransformFailure(
                f"BatchStrategy {batch_strategy!r} is not valid: use SingleRecord or MultiRecord"
            )
        for field, neutral in (("InputFilter", "$"), ("OutputFilter", "$"), ("JoinSource", "None")):
            value = data_processing.get(field)
            if value not in (None, "", neutral):
                raise TransformFailure(
                    f"DataProcessing.{field} {value!r} is not supported by the smflow local runtime: "
                    f"leave it unset (or {neutral!r})"
                )
        for field, value in (
            ("TransformInput.ContentType", transform_input.get("ContentType")),
            ("TransformOutput.Accept", output.get("Accept")),
        ):
            if value and any(char in value for char in "\r\n\0"):
                raise TransformFailure(
                    f"{field} {value!r} holds a line break: use a MIME type such as text/csv"
                )
        output_path = output.get("S3OutputPath", "")
        for field, uri in (
            ("TransformOutput.S3OutputPath", output_path),
            ("TransformInput.DataSource.S3DataSource.S3Uri", source.get("S3Uri", "")),
        ):
            try:
                split_s3_uri(uri)
            except ValueError as exc:
                raise TransformFailure(f"{field}: {exc}") from None
        instance_count = int(resources.get("InstanceCount", 1) or 1)
        if instance_count < 1:
            raise TransformFailure(
                f"TransformResources.InstanceCount {instance_count} is not valid: use 1 or more"
            )
        max_concurrent = description.get("MaxConcurrentTransforms")
        max_payload = description.get("MaxPayloadInMB")
        for field, value in (("MaxConcurrentTransforms", max_concurrent), ("MaxPayloadInMB", max_payload)):
            if value is not None and int(value) < 0:
                raise TransformFailure(f"{field} {value} is not valid: use 0 or more")
        return cls(
            name=name,
            data_type=data_type,
            input_uri=source.get("S3Uri", ""),
            content_type=transform_input.get("ContentType") or None,
            compression=compression,
            split_type=split_type,
            accept=output.get("Accept") or None,
            assemble_with=assemble_with,
            output_path=output_path,
            instance_count=instance_count,
            max_concurrent=int(max_concurrent) if max_concurrent else None,
            max_payload_mb=int(max_payload) if max_payload is not None else None,
            batch_strategy=batch_strategy,
            timeout=float(client_config.get("InvocationsTimeoutInSeconds") or DEFAULT_INVOCATION_TIMEOUT),
            max_retries=int(client_config.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)),
            environment={str(k): str(v) for k, v in (description.get("Environment") or {}).items()},
        )


@dataclass
class _Batch:
    """One request's payload: ``obj`` is the input object's index."""

    obj: int
    payload: bytes | None  # None: the object had no records (an empty output)
    last: bool  # the last batch of its object


class TransformRun(Run):
    """Runs one transform job in a daemon thread (the backend's executor interface; ``start``
    and ``join`` come from :class:`~smflow.local.executors.base.Run`).

    ``description`` is the DescribeTransformJob-shaped dict, ``model`` the DescribeModel dict of
    its ModelName; ``on_update(fields)`` receives TransformJobStatus, FailureReason,
    TransformStartTime, TransformEndTime and LastModifiedTime (epoch seconds), the terminal
    status last. Files go under ``work_dir`` (model, instances' logs, spooled outputs); the
    model servers' output also goes to CloudWatch Logs, group ``/aws/sagemaker/TransformJobs``,
    streams ``<TransformJobName>/<instance-id>-<epoch>``.
    """

    kind = "transform"

    def __init__(
        self,
        description: dict,
        model: dict,
        work_dir: str | os.PathLike,
        aws: LocalAws,
        on_update: Callable[[dict], None],
    ):
        super().__init__(description.get("TransformJobName", ""), on_update)
        self.description = description
        self.model = model
        self.work_dir = Path(work_dir)
        self._aws = aws
        self._stop = threading.Event()
        self._servers: list[ModelServerProcess] = []
        self._logs: LogShipper | None = None
        self._servers_lock = threading.Lock()
        self._failures: dict[int, str] = {}
        self._pids: list[int] = []

    @property
    def name(self) -> str:
        return self.description.get("TransformJobName", "")

    @property
    def instance_pids(self) -> list[int]:
        """Process ids of the job's model servers (once started; kept after the job ends)."""
        return list(self._pids)

    def stop(self) -> None:
        """StopTransformJob: in-flight work is abandoned, the job ends ``Stopped``. Objects
        already uploaded stay; partial outputs are not uploaded."""
        self._stop.set()
        with self._servers_lock:
            servers = list(self._servers)
        for server in servers:
            server.stop()

    # ----------------------------------------------------------------------------------------

    def _update(self, **fields) -> None:
        fields["LastModifiedTime"] = time.time()
        self._report(fields)

    def _run(self) -> None:
        self._update(TransformJobStatus="InProgress", TransformStartTime=time.time())
        status, reason = "Completed", None
        try:
            config = JobConfig.from_description(self.description)
            self._execute(config)
            if self._stop.is_set():
                status = "Stopped"
            elif self._failures:
                status, reason = "Failed", self._failure_reason()
        except TransformFailure as exc:
            status, reason = ("Stopped", None) if self._stop.is_set() else ("Failed", str(exc))
        except ModelServerError as exc:
            status, reason = ("Stopped", None) if self._stop.is_set() else ("Failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - the job must reach a terminal status
            logger.exception("transform job %s failed unexpectedly", self.name)
            status, reason = (
                "Failed",
                f"Internal error in the smflow local runtime: {type(exc).__name__}: {exc}",
            )
        finally:
            self._stop_servers()
        fields = {"TransformJobStatus": status, "TransformEndTime": time.time()}
        if reason:
            fields["FailureReason"] = reason[:FAILURE_REASON_MAX_CHARS]
        self._update(**fields)

    def _failure_reason(self) -> str:
        first_index = min(self._failures)
        total = len(self._failures)
        prefix = "ClientError: " if total == 1 else f"ClientError: {total} input objects failed; first: "
        return prefix + self._failures[first_index]

    def _stop_servers(self) -> None:
        with self._servers_lock:
            servers, self._servers = self._servers, []
            logs, self._logs = self._logs, None
        for server in servers:
            server.stop()
        if logs is not None:
            logs.close()

    def _execute(self, config: JobConfig) -> None:
        s3 = self._aws.client("s3")
        objects = list_input_objects(s3, config)
        if self._stop.is_set():
            return
        prepared = prepare_model(self.model, self.work_dir, self._aws, config.environment)
        servers = [
            ModelServerProcess(
                prepared,
                self.work_dir / f"instance-{index + 1}",
                self._aws,
                f"transform job {config.name!r} instance {index + 1}",
            )
            for index in range(config.instance_count)
        ]
        logs = LogShipper(self._aws.client("logs"), LOG_GROUP)
        for server in servers:
            logs.follow(server.log_path, f"{config.name}/{instance_id()}-{int(time.time())}")
        with self._servers_lock:
            if self._stop.is_set():
                return
            self._servers = servers
            self._logs = logs
        logs.start()
        start_servers(servers, SERVER_START_TIMEOUT)
        self._pids = [server.pid for server in servers if server.pid]
        if self._stop.is_set():
            return
        parameters = servers[0].execution_parameters() or {}
        max_concurrent = config.max_concurrent or int(parameters.get("MaxConcurrentTransforms") or 1)
        max_payload_mb = config.max_payload_mb
        if max_payload_mb is None:
            max_payload_mb = int(parameters.get("MaxPayloadInMB") or DEFAULT_MAX_PAYLOAD_MB)
        strategy = config.batch_strategy or parameters.get("BatchStrategy") or "MultiRecord"
        _Pipeline(self, config, servers, objects, max_concurrent, max_payload_mb, strategy).run()


def list_input_objects(s3, config: JobConfig) -> list[InputObject]:
    """The job's input objects, in key (or manifest) order.

    Raises:
        TransformFailure: no object, unreadable manifest, or S3 errors.
    """
    bucket, prefix = split_s3_uri(config.input_uri)
    objects: list[InputObject] = []
    try:
        if config.data_type == "ManifestFile":
            objects = _manifest_objects(s3, bucket, prefix, config.input_uri)
        else:
            paginator = s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if not key.endswith("/"):
                        objects.append(InputObject(bucket, key, relative_name(key, prefix)))
    except ClientError as exc:
        raise TransformFailure(f"ClientError: cannot read input {config.input_uri}: {exc}") from None
    if not objects:
        raise TransformFailure(
            f"ClientError: no S3 objects found under {config.input_uri}: upload the input data "
            "there, or fix TransformInput.DataSource.S3DataSource.S3Uri"
        )
    return objects


def relative_name(key: str, prefix: str) -> str:
    """The output name of ``key`` listed under ``prefix``: its path below the prefix (or below
    the prefix's folder when the prefix ends inside a name); a key equal to the prefix gives its
    base name."""
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    rest = key[len(prefix) :]
    if not prefix or prefix.endswith("/"):
        return rest
    if rest.startswith("/"):
        return rest.lstrip("/")
    folder = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return key[len(folder) :]


def _manifest_objects(s3, bucket: str, key: str, uri: str) -> list[InputObject]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        manifest = json.loads(body)
        base = manifest[0]["prefix"]
        entries = manifest[1:]
        base_bucket, base_key = split_s3_uri(base)
        if not all(isinstance(entry, str) for entry in entries):
            raise TypeError("entries must be strings")
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise TransformFailure(
            f"ClientError: manifest {uri} is not valid ({exc}): it must be a JSON list "
            '[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]'
        ) from None
    return [InputObject(base_bucket, base_key + entry, entry.lstrip("/")) for entry in entries]


def _has_content(data: bytes) -> bool:
    """``bool(data.strip())`` without copying multi-MB payloads: any byte that is not ASCII
    whitespace."""
    return bool(data) and not data.isspace()


class _Pipeline:
    """Streams the input objects through the model servers and assembles the outputs in order.

    The job thread reads and splits the objects and writes the results; a thread pool with one
    thread per request slot (MaxConcurrentTransforms per instance) sends the requests. At most
    two batches per slot are in flight, so memory stays bounded whatever the input size.
    """

    def __init__(
        self,
        run: TransformRun,
        config: JobConfig,
        servers: list[ModelServerProcess],
        objects: list[InputObject],
        max_concurrent: int,
        max_payload_mb: int,
        strategy: str,
    ):
        self.run_ = run
        self.config = config
        self.objects = objects
        self.max_payload = max_payload_mb * MB  # 0: no limit
        self.strategy = strategy
        self.slots: queue.Queue[ModelServerProcess] = queue.Queue()
        for _ in range(max_concurrent):
            for server in servers:
                self.slots.put(server)
        self.slot_count = max_concurrent * len(servers)
        self.s3 = run._aws.client("s3")
        self.spool = run.work_dir / "output"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.writers: dict[int, object] = {}

    @property
    def stopped(self) -> bool:
        return self.run_._stop.is_set()

    def run(self) -> None:
        window = 2 * self.slot_count
        pending: deque[tuple[_Batch, Future | None]] = deque()
        with ThreadPoolExecutor(max_workers=self.slot_count, thread_name_prefix="transform-req") as pool:
            try:
                for batch in self._batches():
                    if self.stopped:
                        break
                    while len(pending) >= window:
                        self._collect(*pending.popleft())
                    future = pool.submit(self._invoke, batch.payload) if batch.payload is not None else None
                    pending.append((batch, future))
                while pending and not self.stopped:
                    self._collect(*pending.popleft())
            finally:
                for _, future in pending:
                    if future is not None:
                        future.cancel()
                for handle in self.writers.values():
                    handle.close()

    # -- reading ------------------------------------------------------------------------------

    def _batches(self) -> Iterator[_Batch]:
        for index, obj in enumerate(self.objects):
            if self.stopped:
                return
            try:
                yield from self._object_batches(index, obj)
            except _ObjectFailure as exc:
                self._fail(index, str(exc))
            except (ClientError, BotoCoreError, OSError, EOFError) as exc:
                self._fail(index, f"{obj.uri}: cannot read the object: {exc}")

    def _object_batches(self, index: int, obj: InputObject) -> Iterator[_Batch]:
        response = self.s3.get_object(Bucket=obj.bucket, Key=obj.key)
        body = response["Body"]
        stream = gzip.GzipFile(fileobj=body) if self.config.compression == "Gzip" else body
        try:
            if self.config.split_type == "None":
                payload = self._read_whole(stream, obj)
                yield _Batch(index, payload, True)
                return
            previous: bytes | None = None
            if self.config.split_type == "RecordIO":
                records = self._recordio_batches(stream, obj)
            elif self.strategy == "SingleRecord":
                records = self._single_records(stream, obj)
            else:
                records = self._multi_records(stream, obj)
            for payload in records:
                if index in self.run_._failures or self.stopped:
                    return
                if previous is not None:
                    yield _Batch(index, previous, False)
                previous = payload
            yield _Batch(index, previous, True)
        finally:
            body.close()

    def _read_whole(self, stream, obj: InputObject) -> bytes:
        limit = self.max_payload
        data = stream.read(limit + 1) if limit else stream.read()
        if limit and len(data) > limit:
            raise _ObjectFailure(
                f"{obj.uri} is larger than MaxPayloadInMB ({limit // MB} MB) and SplitType is None: "
                "set SplitType to Line to send it record by record, or raise MaxPayloadInMB"
            )
        return data

    def _too_large(self, obj: InputObject, size: int) -> _ObjectFailure:
        return _ObjectFailure(
            f"{obj.uri} holds a record of {size / MB:.2f} MB, larger than MaxPayloadInMB "
            f"({self.max_payload // MB} MB): raise MaxPayloadInMB to at least the largest record"
        )

    def _single_records(self, stream, obj: InputObject) -> Iterator[bytes]:
        pending = b""
        while True:
            chunk = stream.read(_READ_CHUNK)
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                record = line.rstrip(b"\r")
                if record.strip():
                    if self.max_payload and len(record) > self.max_payload:
                        raise self._too_large(obj, len(record))
                    yield record
            if self.max_payload and len(pending) > self.max_payload:
                raise self._too_large(obj, len(pending))
        record = pending.rstrip(b"\r")
        if record.strip():
            yield record

    def _multi_records(self, stream, obj: InputObject) -> Iterator[bytes]:
        limit = self.max_payload
        if not limit:  # no limit: the whole object is one mini-batch
            data = stream.read()
            if _has_content(data):
                yield data.rstrip(b"\r\n")
            return
        buffer = bytearray()
        eof = False
        while True:
            while not eof and len(buffer) <= limit:
                chunk = stream.read(max(_READ_CHUNK, limit + 1 - len(buffer)))
                if not chunk:
                    eof = True
                else:
                    buffer += chunk
            if eof and len(buffer) <= limit:
                payload = bytes(buffer).rstrip(b"\r\n")
                if _has_content(payload):
                    yield payload
                return
            cut = buffer.rfind(b"\n", 0, limit + 1)
            if cut < 0:
                end = buffer.find(b"\n")
                raise self._too_large(obj, end if end >= 0 else len(buffer))
            with memoryview(buffer) as view:
                payload = bytes(view[:cut]).rstrip(b"\r\n")  # one copy of the mini-batch
            del buffer[: cut + 1]
            if _has_content(payload):
                yield payload

    def _recordio_records(self, stream, obj: InputObject) -> Iterator[bytes]:
        """The RecordIO records of ``stream``, each with its framing (a record split in parts by
        its writer stays one record: from a part with continuation flag 0 or 1 to the one with 3).

        Raises _ObjectFailure for a bad magic number or a truncated record."""
        buffer = bytearray()
        record = bytearray()
        offset = 0
        eof = False
        while True:
            while not eof and len(buffer) < 8:
                chunk = stream.read(_READ_CHUNK)
                eof = not chunk
                buffer += chunk
            if len(buffer) < 8:
                if buffer or record:
                    raise _ObjectFailure(f"{obj.uri}: truncated RecordIO record at byte offset {offset}")
                return
            magic, word = struct.unpack_from("<II", buffer)
            if magic != RECORDIO_MAGIC:
                raise _ObjectFailure(
                    f"{obj.uri}: not RecordIO at byte offset {offset} (magic {magic:#010x}, expected "
                    f"{RECORDIO_MAGIC:#010x}): use SplitType Line or None for other data"
                )
            flag, length = word >> 29, word & ((1 << 29) - 1)
            size = 8 + length + (-length % 4)
            if self.max_payload and len(record) + size > self.max_payload:
                raise self._too_large(obj, len(record) + size)
            while not eof and len(buffer) < size:
                chunk = stream.read(max(_READ_CHUNK, size - len(buffer)))
                eof = not chunk
                buffer += chunk
            if len(buffer) < size:
                raise _ObjectFailure(f"{obj.uri}: truncated RecordIO record at byte offset {offset}")
            record += buffer[:size]
            del buffer[:size]
            offset += size
            if flag in (0, 3):
                yield bytes(record)
                record.clear()

    def _recordio_batches(self, stream, obj: InputObject) -> Iterator[bytes]:
        """SplitType RecordIO: one record per request (SingleRecord) or as many whole records as
        fit in MaxPayloadInMB (MultiRecord)."""
        if self.strategy == "SingleRecord":
            yield from self._recordio_records(stream, obj)
            return
        batch = bytearray()
        for record in self._recordio_records(stream, obj):
            if batch and self.max_payload and len(batch) + len(record) > self.max_payload:
                yield bytes(batch)
                batch.clear()
            batch += record
        if batch:
            yield bytes(batch)

    # -- requests -----------------------------------------------------------------------------

    def _invoke(self, payload: bytes) -> tuple[int, bytes]:
        attempts = 1 + max(self.config.max_retries, 0)
        for attempt in range(attempts):
            server = self.slots.get()
            try:
                status, body, _ = server.invoke(
                    payload, self.config.content_type, self.config.accept, timeout=self.config.timeout
                )
                return status, body
            except ModelServerError:
                if attempt + 1 >= attempts or self.stopped:
                    raise
            finally:
                self.slots.put(server)
        raise AssertionError("unreachable")

    # -- writing ------------------------------------------------------------------------------

    def _collect(self, batch: _Batch, future: Future | None) -> None:
        index = batch.obj
        obj = self.objects[index]
        if index not in self.run_._failures:
            try:
                if future is not None:
                    status, body = future.result()
                    if not 200 <= status < 300:
                        message = body.decode("utf-8", errors="replace").strip()
                        raise _ObjectFailure(f"{obj.uri}: the model server answered {status}: {message}")
                    self._write(index, body)
                else:
                    self._write(index, b"")
            except _ObjectFailure as exc:
                self._fail(index, str(exc))
            except ModelServerError as exc:
                self._fail(index, f"{obj.uri}: {exc}")
        if batch.last and index not in self.run_._failures and not self.stopped:
            self._upload(index)

    def _writer(self, index: int):
        handle = self.writers.get(index)
        if handle is None:
            handle = open(self.spool / f"{index}.out", "wb")
            self.writers[index] = handle
        return handle

    def _write(self, index: int, body: bytes) -> None:
        handle = self._writer(index)
        if body:
            handle.write(body)
            if self.config.assemble_with == "Line" and not body.endswith(b"\n"):
                handle.write(b"\n")

    def _fail(self, index: int, reason: str) -> None:
        self.run_._failures.setdefault(index, reason)
        handle = self.writers.pop(index, None)
        if handle is not None:
            handle.close()
        (self.spool / f"{index}.out").unlink(missing_ok=True)

    def _upload(self, index: int) -> None:
        handle = self._writer(index)
        handle.close()
        del self.writers[index]
        path = self.spool / f"{index}.out"
        bucket, prefix = split_s3_uri(self.config.output_path)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        key = f"{prefix}{self.objects[index].relative}.out"
        try:
            self.s3.upload_file(str(path), bucket, key)
        except (ClientError, BotoCoreError, OSError) as exc:
            self._fail(index, f"cannot upload the output s3://{bucket}/{key}: {exc}")
        finally:
            path.unlink(missing_ok=True)
