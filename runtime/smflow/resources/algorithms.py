"""Training data for Amazon's built-in algorithms: ``record_set`` (SDK
``AmazonAlgorithmEstimatorBase.record_set``), and how ``train`` reads the record sets it returns.

A record set is numpy data written as RecordIO-protobuf shards (:mod:`smflow.recordio`) to S3
with a manifest listing them, as the SDK writes it (``sagemaker.amazon.amazon_estimator.
upload_numpy_to_s3_shards``): one shard per training instance (the rows split evenly, the last
shard taking the remainder), objects ``<prefix>matrix_<index>.pbr`` (the index zero-padded to the
number of digits of the shard count) and ``<prefix>.amazon.manifest``, a JSON list whose first
item is ``{"prefix": "s3://<bucket>/<prefix>"}`` and the others the shards' names. The channel is
a ManifestFile, ``ShardedByS3Key`` channel (SDK ``RecordSet.records_s3_input``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from smflow import algorithms, builders, recordio
from smflow.errors import ConfigurationError
from smflow.resources.base import ClientBase

RECORD_SETS_PREFIX = "sagemaker-record-sets/"  # the SDK's default data_location under the default bucket
MANIFEST_NAME = ".amazon.manifest"
RECORD_SET_KEYS = ("num_records", "feature_dim", "channel")  # what a record set adds to TrainingInput arguments


class RecordSets(ClientBase):
    """``record_set`` of :class:`smflow.client.SageMakerClient`."""

    def record_set(
        self,
        array,
        labels=None,
        channel: str = "train",
        *,
        instance_count: int = 1,
        data_location: str | None = None,
        algorithm: str | None = None,
        encrypt: bool = False,
        distribution: str = "ShardedByS3Key",
        dtype: str | None = "float32",
    ) -> dict:
        """Write ``array`` (rows x features; numpy, or a scipy.sparse matrix) and ``labels`` (one per
        row) as RecordIO-protobuf shards plus a manifest on S3 (SDK ``record_set``).

        Args:
            instance_count: the number of shards: the training job's instance count, as the SDK's
                estimator uses its own.
            data_location: ``s3://bucket/prefix/`` (default ``s3://<default bucket>/sagemaker-record-sets/``).
            algorithm: names the folder as the SDK's estimator class does (``KMeans-...``);
                default ``RecordSet``.
            encrypt: ``ServerSideEncryption: AES256`` on every object, as the SDK's ``encrypt``.
            dtype: the tensors' type: ``"float32"`` (the built-in algorithms read float32 tensors),
                or None to keep the array's (the SDK writes the array's dtype as it is).

        The folder is ``<data_location><name>-<16 hex of the shards' SHA-256>/`` (the SDK uses a
        timestamp instead), so writing the same data again (a retried task) writes the same objects.

        Returns: TrainingInput arguments for ``train(inputs=...)`` plus the record set's facts:
            ``{"s3_data": "s3://.../.amazon.manifest", "s3_data_type": "ManifestFile",
            "distribution": "ShardedByS3Key", "channel": "train", "num_records": 1797,
            "feature_dim": 64}``; JSON-serializable (an XCom, a Prefect result).
        Raises:
            ConfigurationError: not 2-D, labels of another length, fewer rows than shards, a
                data_location that is not s3://.
            smflow.recordio.ProtobufMissingError: protobuf is not installed.
        """
        sparse = hasattr(array, "tocsr") and hasattr(array, "nnz")
        features = array.tocsr() if sparse else np.asarray(array)
        if len(features.shape) != 2:
            raise ConfigurationError(f"record_set needs a 2-D array (rows x features), got shape {features.shape}")
        if dtype is not None:
            features = features.astype(dtype)
        rows, columns = features.shape
        label_array = None
        if labels is not None:
            label_array = np.asarray(labels)
            if label_array.ndim != 1 or label_array.shape[0] != rows:
                raise ConfigurationError(f"labels must be a 1-D array of {rows} values (one per row), "
                                         f"got shape {label_array.shape}")
            if dtype is not None:
                label_array = label_array.astype(dtype)
        shards = builders.as_int(instance_count, "instance_count")
        if shards < 1 or rows < shards:
            raise ConfigurationError(f"record_set makes one shard per instance: instance_count ({shards}) must be "
                                     f"between 1 and the number of rows ({rows})")
        size = rows // shards
        bounds = [(index * size, (index + 1) * size if index < shards - 1 else rows) for index in range(shards)]
        bodies = [recordio.write_records(features[start:end],
                                         None if label_array is None else label_array[start:end])
                  for start, end in bounds]
        location = data_location or f"s3://{self.default_bucket()}/{RECORD_SETS_PREFIX}"
        if not location.startswith("s3://"):
            raise ConfigurationError(f"data_location must be an s3:// URI, got {location!r}")
        if not location.endswith("/"):
            location += "/"
        bucket, _, prefix = location[5:].partition("/")
        digest = hashlib.sha256()
        for body in bodies:
            digest.update(hashlib.sha256(body).digest())
        name = algorithms.get(algorithm).sdk_estimator if algorithm else "RecordSet"
        prefix = f"{prefix}{name}-{digest.hexdigest()[:16]}/".lstrip("/")
        extra = {"ServerSideEncryption": "AES256"} if encrypt else {}
        width = len(str(shards))
        files = []
        for index, body in enumerate(bodies):
            file_name = f"matrix_{str(index).zfill(width)}.pbr"
            self.s3.put_object(Bucket=bucket, Key=prefix + file_name, Body=body, **extra)
            files.append(file_name)
        manifest = json.dumps([{"prefix": f"s3://{bucket}/{prefix}"}] + files)
        self.s3.put_object(Bucket=bucket, Key=prefix + MANIFEST_NAME, Body=manifest.encode("utf-8"), **extra)
        self.log(f"Wrote {rows} records ({columns} features) in {shards} shard(s) to s3://{bucket}/{prefix}")
        return {"s3_data": f"s3://{bucket}/{prefix}{MANIFEST_NAME}", "s3_data_type": "ManifestFile",
                "distribution": distribution, "channel": channel, "num_records": rows, "feature_dim": columns}


def is_record_set(value: Any) -> bool:
    """A value ``record_set`` returned (TrainingInput arguments with the record set's facts)."""
    return isinstance(value, Mapping) and "s3_data" in value and "num_records" in value and "feature_dim" in value


def channels_of(inputs: Any) -> Any:
    """``train``'s ``inputs`` with record sets placed in their channels: one record set, or a list
    of them (as the SDK's ``fit(records)`` takes), becomes ``{channel: record set}``; anything
    else is returned as it is.

    Raises: ConfigurationError for a list holding something else, or two record sets of one channel.
    """
    if is_record_set(inputs):
        return {inputs.get("channel") or builders.DEFAULT_CHANNEL: inputs}
    if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)):
        placed: dict[str, Any] = {}
        for index, item in enumerate(inputs):
            if not is_record_set(item):
                raise ConfigurationError(f"inputs[{index}] is not a record set: a list of inputs holds record_set() "
                                         "results; use a dict of channel name -> S3 URI otherwise")
            name = item.get("channel") or builders.DEFAULT_CHANNEL
            if name in placed:
                raise ConfigurationError(f"two record sets for channel {name!r}: give each its own channel")
            placed[name] = item
        return placed
    return inputs


def train_record_set(inputs: Any) -> Mapping[str, Any] | None:
    """The record set of the ``train`` channel (where the SDK reads ``feature_dim`` and the
    number of records from), or None."""
    if isinstance(inputs, Mapping) and not is_record_set(inputs):
        found = inputs.get(builders.DEFAULT_CHANNEL)
        return found if is_record_set(found) else None
    return None
