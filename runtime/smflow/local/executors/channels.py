"""A training job's input channels, prepared as SageMaker prepares them for a container.

Behaviour follows CreateTrainingJob's ``InputDataConfig`` (SageMaker API reference: Channel,
S3DataSource) and "Access Training Data" / "Using Pipe input mode" (SageMaker developer guide):

- ``S3DataType`` ``S3Prefix``: every object under the prefix; ``ManifestFile``: the object is a
  JSON manifest ``[{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]`` listing the objects
  (``AugmentedManifestFile`` is refused);
- ``InputMode`` (or the job's ``TrainingInputMode``) ``File``: the objects are downloaded into
  ``input/data/<channel>/``, keeping their keys relative to the prefix;
- ``Pipe``: the objects are streamed, concatenated in key (manifest) order, through the named
  pipe (FIFO) ``input/data/<channel>_<epoch>``: ``_0`` exists when training starts; once the
  container has read one to its end and closed it, the next epoch's pipe appears and streams
  the data again (``FastFile`` reads like File here: the objects are downloaded).
  ``CompressionType`` ``Gzip`` (Pipe mode only, as SageMaker) is decompressed while streaming;
  ``RecordWrapperType`` ``RecordIO`` wraps each object in one RecordIO record;
- ``inputdataconfig.json`` gives each channel's ``TrainingInputMode``, ``S3DistributionType``,
  ``RecordWrapperType`` and ``ContentType``.
"""

from __future__ import annotations

import errno
import gzip
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from smflow.local.support.aws import split_s3_uri
from smflow.local.support.files import UnsafeArchiveError, download_s3_prefix

logger = logging.getLogger(__name__)

INPUT_MODES = ("File", "Pipe", "FastFile")
DATA_TYPES = ("S3Prefix", "ManifestFile")
_CHUNK = 1024 * 1024
_POLL_SECONDS = 0.05


class ChannelError(Exception):
    """A channel cannot be prepared; ``str(e)`` is the FailureReason after ``ClientError: ``."""


def input_mode(description: dict, channel: dict) -> str:
    """The channel's input mode (its own ``InputMode``, else the job's ``TrainingInputMode``)."""
    default = (description.get("AlgorithmSpecification") or {}).get("TrainingInputMode") or "File"
    return channel.get("InputMode") or default


def check_channels(description: dict) -> list[dict]:
    """The InputDataConfig channels, checked.

    Raises:
        ChannelError: an input mode, data source or data type the local runtime cannot serve,
            or CompressionType in File mode (SageMaker allows it only in Pipe mode).
    """
    channels = description.get("InputDataConfig") or []
    for channel in channels:
        name = channel.get("ChannelName", "?")
        mode = input_mode(description, channel)
        if mode not in INPUT_MODES:
            raise ChannelError(
                f"channel {name!r} uses TrainingInputMode {mode!r}: use File, FastFile or Pipe"
            )
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if not source:
            raise ChannelError(
                f"channel {name!r} has no DataSource.S3DataSource; the smflow local runtime reads channels from S3 only."
            )
        data_type = source.get("S3DataType", "S3Prefix")
        if data_type not in DATA_TYPES:
            raise ChannelError(
                f"channel {name!r} uses S3DataType {data_type!r}; the smflow local runtime supports S3Prefix "
                "and ManifestFile (give the channel an S3 prefix, or a manifest listing the objects)."
            )
        compression = channel.get("CompressionType", "None") or "None"
        if compression != "None" and mode != "Pipe":
            raise ChannelError(
                f"channel {name!r} sets CompressionType {compression!r}, which SageMaker allows only in Pipe "
                "mode; remove it for File mode."
            )
        if compression not in ("None", "Gzip"):
            raise ChannelError(f"channel {name!r}: CompressionType {compression!r} is not valid: use None or Gzip")
    return channels


def input_data_config(description: dict, channels: list[dict]) -> dict:
    """``inputdataconfig.json``: what the container is told about each channel."""
    config = {}
    for channel in channels:
        entry = {
            "TrainingInputMode": input_mode(description, channel),
            "S3DistributionType": channel["DataSource"]["S3DataSource"].get("S3DistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        if channel.get("CompressionType", "None") not in (None, "None"):
            entry["CompressionType"] = channel["CompressionType"]
        config[channel["ChannelName"]] = entry
    return config


def channel_objects(s3, channel: dict) -> list[tuple[str, str, str]]:
    """``(bucket, key, path relative to the prefix)`` of the channel's objects, in key order
    (S3Prefix) or manifest order (ManifestFile).

    Raises:
        FileNotFoundError: no object (the message names the URI).
        ChannelError: an unreadable manifest.
    """
    source = channel["DataSource"]["S3DataSource"]
    uri = source["S3Uri"]
    bucket, key = split_s3_uri(uri)
    if source.get("S3DataType", "S3Prefix") == "ManifestFile":
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:  # botocore's ClientError for a missing object
            code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NoSuchBucket"):
                raise FileNotFoundError(f"manifest {uri} does not exist") from None
            raise
        try:
            manifest = json.loads(body)
            base_bucket, base_key = split_s3_uri(manifest[0]["prefix"])
            entries = manifest[1:]
            if not all(isinstance(entry, str) for entry in entries):
                raise TypeError("entries must be strings")
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise ChannelError(
                f"channel {channel['ChannelName']!r}: the manifest {uri} is not valid ({error}): it must be a JSON "
                'list [{"prefix": "s3://bucket/prefix/"}, "relative/key", ...]'
            ) from None
        if not entries:
            raise FileNotFoundError(f"the manifest {uri} lists no object")
        return [(base_bucket, base_key + entry, entry.lstrip("/")) for entry in entries]
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for item in page.get("Contents", []):
            name = item["Key"]
            if name.endswith("/"):
                continue
            relative = name[len(key):].lstrip("/") or os.path.basename(name)
            found.append((bucket, name, relative))
    if not found:
        raise FileNotFoundError(f"no S3 object under {uri}")
    return found


def download_channel(s3, channel: dict, target_dir: Path) -> list[Path]:
    """File mode: the channel's objects into ``target_dir`` (keys relative to the prefix).

    Raises:
        FileNotFoundError: no object; ChannelError: a bad manifest;
        UnsafeArchiveError: a key that would be written outside ``target_dir``.
    """
    source = channel["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "ManifestFile":
        return download_s3_prefix(s3, source["S3Uri"], target_dir)
    target = Path(target_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for bucket, key, relative in channel_objects(s3, channel):
        destination = (target / relative).resolve()
        if destination != target and target not in destination.parents:
            raise UnsafeArchiveError(f"manifest entry {relative!r} would be written outside {target}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(destination))
        written.append(destination)
    return written


class PipeFeeder:
    """Pipe mode for one channel: a thread that creates ``<data_dir>/<channel>_<epoch>`` FIFOs one
    after the other and streams the channel's objects through each (see the module docstring).

    :meth:`start` lists the objects first (raising FileNotFoundError / ChannelError as
    :func:`channel_objects`), so a missing prefix fails the job before training; :meth:`stop`
    ends the thread and removes the pipe it waits on.
    """

    def __init__(self, s3, channel: dict, data_dir: Path):
        self._s3 = s3
        self._channel = channel
        self._name = channel["ChannelName"]
        self._data_dir = Path(data_dir)
        self._gzip = channel.get("CompressionType") == "Gzip"
        self._record_wrapped = channel.get("RecordWrapperType") == "RecordIO"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._objects: list[tuple[str, str, str]] = []
        self.epochs_served = 0

    def start(self) -> None:
        self._objects = channel_objects(self._s3, self._channel)
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._make_fifo(0)
        self._thread = threading.Thread(target=self._serve, name=f"pipe-{self._name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _path(self, epoch: int) -> Path:
        return self._data_dir / f"{self._name}_{epoch}"

    def _make_fifo(self, epoch: int) -> None:
        path = self._path(epoch)
        if path.exists() or path.is_symlink():
            path.unlink()
        os.mkfifo(path, 0o600)

    def _serve(self) -> None:
        epoch = 0
        try:
            while not self._stop.is_set():
                fd = self._open_when_read(self._path(epoch))
                if fd is None:
                    return
                try:
                    self._write_epoch(fd)
                except BrokenPipeError:
                    pass  # the reader stopped early: the next epoch starts over, as SageMaker's
                finally:
                    os.close(fd)
                self.epochs_served = epoch + 1
                self._path(epoch).unlink(missing_ok=True)
                epoch += 1
                self._make_fifo(epoch)
        except Exception:  # the reader sees an early end of data; the log says why
            logger.exception("channel %s: feeding pipe epoch %d failed", self._name, epoch)
        finally:
            if self._stop.is_set():
                self._path(epoch).unlink(missing_ok=True)

    def _open_when_read(self, path: Path) -> int | None:
        """The FIFO's write end once a reader has opened it (None when stopped)."""
        while not self._stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno in (errno.ENXIO, errno.EINTR):  # no reader yet
                    time.sleep(_POLL_SECONDS)
                    continue
                raise
            os.set_blocking(fd, True)
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(f"{path} is not a FIFO")
            return fd
        return None

    def _chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        stream = gzip.GzipFile(fileobj=body) if self._gzip else body
        try:
            if self._record_wrapped:
                from smflow import recordio

                yield recordio.frame(stream.read())
                return
            while not self._stop.is_set():
                chunk = stream.read(_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    def _write_epoch(self, fd: int) -> None:
        for bucket, key, _relative in self._objects:
            for chunk in self._chunks(bucket, key):
                if self._stop.is_set():
                    return
                view = memoryview(chunk)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
