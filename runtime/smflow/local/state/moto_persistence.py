"""S3 and CloudWatch Logs state that survives a restart of the local runtime.

moto (``moto[server]``, pinned ``>=5.1,<5.3``; the objects used here have the same shape in
all those versions, see the names read below) implements S3, STS and CloudWatch Logs in the
runtime's process; its state lives in memory. :class:`MotoPersistence` mirrors that state on disk
and loads it back on start:

- ``<state_dir>/s3/<account>/<bucket>/bucket.json`` — bucket name, region, creation date;
  ``objects/<h>.json`` — one object's key, size, ETag, Last-Modified, metadata (Content-Type,
  ``x-amz-meta-*``), storage class, encryption and checksum; ``objects/<h>.<n>.data`` — its bytes.
  Only the latest version of each key is kept; bucket settings other than the region, object
  tags, ACLs and unfinished multipart uploads are not persisted.
- ``<state_dir>/logs/<account>/<region>/<group>/group.json`` — name, creation time, retention;
  ``streams/<s>.jsonl`` — a header line then one ``[timestamp, ingestionTime, message]`` per event.

:class:`PersistentMotoApp` wraps moto's WSGI app and, after every mutating request (PUT, POST,
DELETE) to S3 or Logs, writes what changed before the response leaves, so an acknowledged write is
on disk. Unchanged objects are never rewritten (they are recognised by object identity plus ETag,
size, Last-Modified and metadata), object bytes are streamed in chunks (objects may be hundreds of
MB), and log streams are appended to.

Crash safety: every file is written to a temporary name, fsynced and renamed. An object's data
file gets a fresh name, the metadata that points to it is renamed into place, and only then is the
previous data file removed, so the metadata always names a complete file. A bucket or log group
is deleted by removing its ``bucket.json``/``group.json`` first. On start, leftovers of an
interrupted write (temporary files, unreferenced data files, folders without their JSON) are
cleaned up, and anything unreadable is skipped with a warning rather than stopping the runtime.

moto's state is process-wide, so one :class:`MotoPersistence` may be active per process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smflow.local.services.protocol import signing_service
from smflow.local.state.store import atomic_write_bytes

logger = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024  # bytes copied at a time between moto's buffers and files
MUTATING_METHODS = ("PUT", "POST", "DELETE")
_ACTIVE = threading.Lock()  # one MotoPersistence per process (moto's backends are globals)


def _slug(name: str) -> str:
    """A file-system-safe, collision-free folder name for an arbitrary resource name."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:48] or "_"
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(data, default=str).encode())


def _naive_utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(tzinfo=None)


def _epoch(value: dt.datetime | int | float) -> float:
    """Epoch seconds of a moto timestamp: a datetime (naive = UTC) or, in the Logs models of
    older moto releases (5.1.x to 5.2.3), epoch milliseconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    return float(value) / 1000.0


def _like(template: Any, epoch: float) -> Any:
    """``epoch`` seconds in the representation moto uses for ``template`` (see :func:`_epoch`)."""
    if isinstance(template, dt.datetime):
        return _naive_utc(epoch) if template.tzinfo is None else dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return int(epoch * 1000)


class _Changed(Exception):
    """A moto object changed or went away while it was being written; the next flush retries."""


@dataclass
class _ObjectEntry:
    ref: weakref.ref
    fingerprint: tuple
    data_name: str


@dataclass
class _BucketEntry:
    ref: weakref.ref
    folder: Path
    objects: dict[str, _ObjectEntry] = field(default_factory=dict)


@dataclass
class _StreamEntry:
    ref: weakref.ref
    path: Path
    count: int


@dataclass
class _GroupEntry:
    ref: weakref.ref
    folder: Path
    fingerprint: tuple
    streams: dict[str, _StreamEntry] = field(default_factory=dict)


class MotoPersistence:
    """Mirror moto's S3 and CloudWatch Logs state under ``state_dir``.

    Use: :meth:`restore` once before serving (it clears moto's S3 and Logs state, then loads the
    saved one), :meth:`flush` after changes (done by :class:`PersistentMotoApp`), :meth:`close`
    at shutdown (a final flush, then another instance may start in this process).

    Raises:
        RuntimeError: :meth:`restore` while another instance is active in this process.
    """

    def __init__(self, state_dir: str | os.PathLike):
        self.s3_root = Path(state_dir) / "s3"
        self.logs_root = Path(state_dir) / "logs"
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _BucketEntry] = {}
        self._groups: dict[tuple[str, str, str], _GroupEntry] = {}
        self._active = False

    # ------------------------------------------------------------------------- lifecycle --
    def restore(self) -> None:
        """Clear moto's S3 and Logs state and load the saved one (skipping, with a warning,
        anything unreadable; removing leftovers of interrupted writes)."""
        if not _ACTIVE.acquire(blocking=False):
            raise RuntimeError(
                "another smflow local runtime is active in this process: moto's S3 and Logs "
                "state is process-wide, so stop it first"
            )
        try:
            from moto.logs.models import logs_backends
            from moto.s3.models import s3_backends

            with self._lock:
                for backends in (s3_backends, logs_backends):
                    for account_backends in list(backends.values()):
                        account_backends.reset()
                    backends.clear()
                s3_backends.bucket_accounts.clear()
                self._buckets.clear()
                self._groups.clear()
                self.s3_root.mkdir(parents=True, exist_ok=True)
                self.logs_root.mkdir(parents=True, exist_ok=True)
                self._restore_s3()
                self._restore_logs()
        except BaseException:
            _ACTIVE.release()
            raise
        self._active = True

    def close(self) -> None:
        """Final flush; releases the process-wide slot. Nothing is written unless
        :meth:`restore` completed (a partial state must never replace the saved one)."""
        if not self._active:
            return
        try:
            self.flush()
        finally:
            self._active = False
            _ACTIVE.release()

    def flush(self, services: Iterable[str] = ("s3", "logs"), bucket: str | None = None) -> None:
        """Write what changed in moto's S3 and/or Logs state since the last flush.

        ``bucket`` limits the scan of S3 objects to that bucket (the one a request changed);
        buckets created or deleted anywhere are always noticed.
        """
        with self._lock:
            if not self._active:
                return  # not restored (yet): writing now could drop saved state
            if "s3" in services:
                self._flush_s3(bucket)
            if "logs" in services:
                self._flush_logs()

    # ================================================================================ S3 ==
    def _flush_s3(self, only_bucket: str | None = None) -> None:
        from moto.s3.models import FakeKey, s3_backends

        seen: set[tuple[str, str]] = set()
        for account_id, _partition, backend in list(s3_backends.iter_backends()):
            for name, bucket in list(backend.buckets.items()):
                ident = (account_id, name)
                seen.add(ident)
                entry = self._buckets.get(ident)
                known_bucket = entry is not None and entry.ref() is bucket
                if known_bucket and only_bucket is not None and name != only_bucket:
                    continue
                if not known_bucket:
                    if entry is not None:
                        self._remove_folder(entry.folder, "bucket.json")
                    entry = _BucketEntry(weakref.ref(bucket), self.s3_root / _slug(account_id) / _slug(name))
                    _write_json(entry.folder / "bucket.json", {
                        "account": account_id, "name": name, "region": bucket.region_name,
                        "creation_date": _epoch(bucket.creation_date),
                    })
                    self._buckets[ident] = entry
                current: dict[str, Any] = {}
                for key_name, versions in list(dict.items(bucket.keys)):
                    if versions and isinstance(versions[-1], FakeKey):
                        current[key_name] = versions[-1]
                for key_name, fake_key in current.items():
                    try:
                        fingerprint = _fingerprint(fake_key)
                        known = entry.objects.get(key_name)
                        if known is None or known.ref() is not fake_key or known.fingerprint != fingerprint:
                            self._write_object(entry, key_name, fake_key, fingerprint)
                    except _Changed:
                        continue
                for key_name in set(entry.objects) - set(current):
                    self._remove_object(entry, key_name)
        for ident in set(self._buckets) - seen:
            self._remove_folder(self._buckets.pop(ident).folder, "bucket.json")

    def _write_object(self, entry: _BucketEntry, key_name: str, fake_key: Any, fingerprint: tuple) -> None:
        objects = entry.folder / "objects"
        objects.mkdir(parents=True, exist_ok=True)
        digest = _key_hash(key_name)
        data_name = f"{digest}.{uuid.uuid4().hex[:12]}.data"
        data_path = objects / data_name
        tmp = objects / f".{data_name}.tmp"
        try:
            size = _copy_out(fake_key, tmp)
            if size != fake_key.size:
                raise _Changed()
            os.replace(tmp, data_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        meta = {
            "key": key_name,
            "data": data_name,
            "size": size,
            "etag": fake_key.etag.strip('"'),
            "last_modified": _epoch(fake_key.last_modified),
            "metadata": dict(fake_key.metadata),
            "storage_class": fake_key.storage_class,
        }
        for attribute in _KEY_ATTRIBUTES:
            value = getattr(fake_key, attribute, None)
            if value is not None:
                meta[attribute] = value
        try:
            _write_json(objects / f"{digest}.json", meta)
        except BaseException:
            data_path.unlink(missing_ok=True)
            raise
        previous = entry.objects.get(key_name)
        entry.objects[key_name] = _ObjectEntry(weakref.ref(fake_key), fingerprint, data_name)
        if previous is not None and previous.data_name != data_name:
            (objects / previous.data_name).unlink(missing_ok=True)

    def _remove_object(self, entry: _BucketEntry, key_name: str) -> None:
        known = entry.objects.pop(key_name)
        objects = entry.folder / "objects"
        (objects / f"{_key_hash(key_name)}.json").unlink(missing_ok=True)
        (objects / known.data_name).unlink(missing_ok=True)

    def _restore_s3(self) -> None:
        for bucket_json in sorted(self.s3_root.glob("*/*/bucket.json")):
            try:
                self._restore_bucket(bucket_json)
            except Exception:  # noqa: BLE001 - one bad bucket must not stop the runtime
                logger.exception("could not restore the S3 bucket saved in %s; skipped", bucket_json.parent)
        for folder in self.s3_root.glob("*/*"):
            if folder.is_dir() and not (folder / "bucket.json").exists():
                shutil.rmtree(folder, ignore_errors=True)  # a bucket whose deletion was interrupted

    def _restore_bucket(self, bucket_json: Path) -> None:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        info = json.loads(bucket_json.read_text())
        account_id, name, region = info["account"], info["name"], info["region"]
        backend = s3_backends[account_id][get_partition(region)]
        bucket = backend.create_bucket(name, region)
        bucket.creation_date = dt.datetime.fromtimestamp(info["creation_date"], dt.timezone.utc)
        entry = _BucketEntry(weakref.ref(bucket), bucket_json.parent)
        objects = bucket_json.parent / "objects"
        referenced: set[str] = set()
        unreadable: set[str] = set()
        if objects.is_dir():
            for meta_path in sorted(objects.glob("*.json")):
                try:
                    meta = json.loads(meta_path.read_text())
                    data_path = objects / meta["data"]
                    if data_path.stat().st_size != meta["size"]:
                        raise ValueError(f"{data_path.name} has {data_path.stat().st_size} bytes, "
                                         f"expected {meta['size']}")
                    fake_key = _restore_object(backend, name, meta, data_path)
                except Exception as error:  # noqa: BLE001
                    logger.warning("could not restore the S3 object saved in %s (%s); skipped", meta_path, error)
                    unreadable.add(meta_path.stem)
                    continue
                referenced.add(meta["data"])
                entry.objects[meta["key"]] = _ObjectEntry(weakref.ref(fake_key), _fingerprint(fake_key), meta["data"])
            for path in objects.iterdir():
                digest = path.name.split(".")[0] if not path.name.startswith(".") else ""
                if path.name.endswith(".tmp") or (
                    path.name.endswith(".data") and path.name not in referenced and digest not in unreadable
                ):
                    path.unlink(missing_ok=True)
        self._buckets[(account_id, name)] = entry

    # ============================================================================== Logs ==
    def _flush_logs(self) -> None:
        from moto.logs.models import logs_backends

        seen: set[tuple[str, str, str]] = set()
        for account_id, region, backend in list(logs_backends.iter_backends()):
            for name, group in list(backend.groups.items()):
                ident = (account_id, region, name)
                seen.add(ident)
                entry = self._groups.get(ident)
                fingerprint = (group.retention_in_days, group.kms_key_id)
                if entry is None or entry.ref() is not group:
                    if entry is not None:
                        self._remove_folder(entry.folder, "group.json")
                    folder = self.logs_root / _slug(account_id) / _slug(region) / _slug(name)
                    entry = _GroupEntry(weakref.ref(group), folder, ())
                    self._groups[ident] = entry
                if entry.fingerprint != fingerprint:
                    _write_json(entry.folder / "group.json", {
                        "account": account_id, "region": region, "name": name,
                        "creation_time": _epoch(group.creation_time),
                        "retention_in_days": group.retention_in_days, "kms_key_id": group.kms_key_id,
                    })
                    entry.fingerprint = fingerprint
                streams = dict(group.streams)
                for stream_name, stream in streams.items():
                    self._flush_stream(entry, stream_name, stream)
                for stream_name in set(entry.streams) - set(streams):
                    entry.streams.pop(stream_name).path.unlink(missing_ok=True)
        for ident in set(self._groups) - seen:
            self._remove_folder(self._groups.pop(ident).folder, "group.json")

    def _flush_stream(self, entry: _GroupEntry, stream_name: str, stream: Any) -> None:
        events = stream.events
        count = len(events)
        known = entry.streams.get(stream_name)
        if known is not None and known.ref() is stream and known.count == count:
            return
        if known is not None and known.ref() is stream and known.count < count:
            with open(known.path, "ab") as handle:
                handle.write(_event_lines(events[known.count:count]))
                handle.flush()
                os.fsync(handle.fileno())
            known.count = count
            return
        path = entry.folder / "streams" / f"{_slug(stream_name)}.jsonl"
        header = json.dumps({"logStreamName": stream_name, "creationTime": _epoch(stream.creation_time)})
        atomic_write_bytes(path, header.encode() + b"\n" + _event_lines(events[:count]))
        entry.streams[stream_name] = _StreamEntry(weakref.ref(stream), path, count)

    def _restore_logs(self) -> None:
        for group_json in sorted(self.logs_root.glob("*/*/*/group.json")):
            try:
                self._restore_group(group_json)
            except Exception:  # noqa: BLE001
                logger.exception("could not restore the log group saved in %s; skipped", group_json.parent)
        for folder in self.logs_root.glob("*/*/*"):
            if folder.is_dir() and not (folder / "group.json").exists():
                shutil.rmtree(folder, ignore_errors=True)  # a group whose deletion was interrupted

    def _restore_group(self, group_json: Path) -> None:
        from moto.logs.models import LogEvent, logs_backends

        info = json.loads(group_json.read_text())
        account_id, region, name = info["account"], info["region"], info["name"]
        group = logs_backends[account_id][region].create_log_group(name, {})
        group.creation_time = _like(group.creation_time, info["creation_time"])
        group.retention_in_days = info.get("retention_in_days")
        group.kms_key_id = info.get("kms_key_id")
        entry = _GroupEntry(weakref.ref(group), group_json.parent,
                            (group.retention_in_days, group.kms_key_id))
        streams = group_json.parent / "streams"
        if streams.is_dir():
            for path in sorted(streams.iterdir()):
                if path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)
                    continue
                try:
                    header, rows = _read_stream_file(path)
                    stream_name = header["logStreamName"]
                    group.create_log_stream(stream_name)
                except Exception as error:  # noqa: BLE001
                    logger.warning("could not restore the log stream saved in %s (%s); skipped", path, error)
                    continue
                stream = group.streams[stream_name]
                stream.creation_time = _like(stream.creation_time, header["creationTime"])
                stream.events = [LogEvent(ingestion, {"timestamp": timestamp, "message": message})
                                 for timestamp, ingestion, message in rows]
                if rows:
                    stream.stored_bytes = sum(len(message) for _, _, message in rows)
                    stream.last_ingestion_time = _like(stream.creation_time, max(row[1] for row in rows) / 1000)
                    stream.upload_sequence_token = 1
                entry.streams[stream_name] = _StreamEntry(weakref.ref(stream), path, len(rows))
        self._groups[(account_id, region, name)] = entry

    # ============================================================================ shared ==
    @staticmethod
    def _remove_folder(folder: Path, marker: str) -> None:
        (folder / marker).unlink(missing_ok=True)  # first: a half-removed folder reads as deleted
        shutil.rmtree(folder, ignore_errors=True)


# Plain FakeKey attributes saved with each object (besides size, ETag, dates and metadata).
_KEY_ATTRIBUTES = ("encryption", "kms_key_id", "bucket_key_enabled", "checksum_algorithm",
                   "checksum_value", "checksum_type", "website_redirect_location")


def _fingerprint(fake_key: Any) -> tuple:
    return (
        fake_key.etag,
        fake_key.size,
        fake_key.last_modified,
        fake_key.storage_class,
        tuple(sorted((str(k), str(v)) for k, v in fake_key.metadata.items())),
        tuple(getattr(fake_key, attribute, None) for attribute in _KEY_ATTRIBUTES),
    )


def _copy_out(fake_key: Any, destination: Path) -> int:
    """Stream a moto object's bytes to ``destination`` (fsynced); returns the size.

    Raises _Changed if moto disposed of the object meanwhile (it was overwritten or deleted).
    """
    position = 0
    with open(destination, "wb") as out:
        while True:
            with fake_key.lock:
                if fake_key.disposed:
                    raise _Changed()
                buffer = fake_key._value_buffer
                try:
                    buffer.seek(position)
                    chunk = buffer.read(CHUNK)
                except ValueError as error:  # closed file: disposed between the check and the read
                    raise _Changed() from error
            if not chunk:
                break
            out.write(chunk)
            position += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return position


def _restore_object(backend: Any, bucket_name: str, meta: dict[str, Any], data_path: Path) -> Any:
    fake_key = backend.put_object(
        bucket_name,
        meta["key"],
        b"",
        storage=meta.get("storage_class"),
        etag=meta["etag"],
        encryption=meta.get("encryption"),
        kms_key_id=meta.get("kms_key_id"),
        bucket_key_enabled=meta.get("bucket_key_enabled"),
        checksum_value=meta.get("checksum_value"),
        disable_notification=True,
    )
    with fake_key.lock:
        buffer = fake_key._value_buffer
        buffer.seek(0)
        buffer.truncate()
        with open(data_path, "rb") as source:
            shutil.copyfileobj(source, buffer, CHUNK)
        fake_key.contentsize = meta["size"]
    fake_key.last_modified = _naive_utc(meta["last_modified"])
    fake_key.set_metadata(dict(meta.get("metadata") or {}))
    for attribute in ("checksum_algorithm", "checksum_type", "website_redirect_location"):
        if meta.get(attribute) is not None:
            setattr(fake_key, attribute, meta[attribute])
    return fake_key


def _event_lines(events: list[Any]) -> bytes:
    return b"".join(
        json.dumps([event.timestamp, event.ingestion_time, event.message]).encode() + b"\n" for event in events
    )


def _read_stream_file(path: Path) -> tuple[dict[str, Any], list[tuple[int, int, str]]]:
    """Header and events of a stream file. A torn last line (a crash during an append) is
    dropped and cut off the file, so that later appends start on a clean line."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    header = json.loads(lines[0])
    rows: list[tuple[int, int, str]] = []
    good_length = len(lines[0]) + 1
    for line in lines[1:]:
        if not line:
            continue
        try:
            timestamp, ingestion, message = json.loads(line)
            rows.append((int(timestamp), int(ingestion), str(message)))
        except (ValueError, TypeError):
            logger.warning("dropping a torn log event line at the end of %s", path)
            break
        good_length += len(line) + 1
    if good_length < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(good_length)
    return header, rows


class PersistentMotoApp:
    """WSGI wrapper of moto's app that flushes S3/Logs state after mutating requests.

    The flush runs before the response is handed back to the server, so a client that got an
    answer to PutObject or PutLogEvents knows the change is on disk. Requests signed for other
    services (STS, ...) are passed through untouched.
    """

    def __init__(self, app: Any, persistence: MotoPersistence):
        self.app = app
        self.persistence = persistence

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        result = self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") in MUTATING_METHODS:
            service = signing_service(environ)
            if service is None:
                services: tuple[str, ...] = ("s3", "logs")
            else:
                services = tuple(s for s in ("s3", "logs") if s == service)
            if services:
                try:
                    self.persistence.flush(services, bucket=_path_style_bucket(environ))
                except Exception:  # noqa: BLE001 - the request succeeded; report the disk problem
                    logger.exception("could not save the %s state to disk", "/".join(services))
        return result


def _path_style_bucket(environ: dict[str, Any]) -> str | None:
    """The bucket of a path-style S3 request (``http://127.0.0.1:PORT/<bucket>/<key>``), or None
    when the host may name the bucket itself (virtual-hosted style): then every bucket is scanned.
    moto reads the bucket from the path for IP-address and ``localhost`` hosts."""
    host = environ.get("HTTP_HOST", "")
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    if not (hostname == "localhost" or hostname.startswith("[") or re.fullmatch(r"[0-9.]+", hostname)):
        return None
    segment = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
    return segment or None
