"""record_set and arecord_set in Prefect flows, against moto's S3: the shards and the manifest
written, and the channel that train_model takes."""

from __future__ import annotations

import asyncio
import json

import boto3
import numpy as np
import pytest

pytest.importorskip("prefect")

from prefect import flow
from smflow import recordio
from smflow_prefect import arecord_set, record_set

from .conftest import REGION

BUCKET = "sagemaker-us-east-1-123456789012"  # moto's account; created because it was missing


@pytest.fixture
def s3(aws_env):
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("s3", region_name=REGION)


def read_back(s3, manifest_uri: str) -> tuple[np.ndarray, np.ndarray | None, list]:
    bucket, _, key = manifest_uri[5:].partition("/")
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    folder = key.rsplit("/", 1)[0]
    shards = [recordio.records_to_numpy(recordio.read_records(
        s3.get_object(Bucket=bucket, Key=f"{folder}/{name}")["Body"].read())) for name in manifest[1:]]
    labels = None if shards[0][1] is None else np.concatenate([shard[1] for shard in shards])
    return np.concatenate([shard[0] for shard in shards]), labels, manifest


def test_record_set_writes_the_shards_and_returns_the_channel(s3, credentials):
    rows = np.arange(24, dtype=np.float64).reshape(8, 3)
    labels = np.array([0, 1] * 4)

    @flow
    def stage() -> dict:
        return record_set(rows, labels, instance_count=2, algorithm="kmeans", aws_credentials=credentials)

    records = stage()
    assert records["s3_data"].startswith(f"s3://{BUCKET}/sagemaker-record-sets/KMeans-")
    assert {key: records[key] for key in ("s3_data_type", "distribution", "channel", "num_records", "feature_dim")} == {
        "s3_data_type": "ManifestFile", "distribution": "ShardedByS3Key", "channel": "train", "num_records": 8,
        "feature_dim": 3}
    features, read_labels, manifest = read_back(s3, records["s3_data"])
    assert manifest[1:] == ["matrix_0.pbr", "matrix_1.pbr"]
    assert np.array_equal(features, rows) and np.array_equal(read_labels, labels)


def test_arecord_set_in_an_async_flow_and_bad_input_is_named(s3, credentials):
    s3.create_bucket(Bucket="data")
    rows = np.ones((4, 2), dtype=np.float32)

    @flow
    async def stage() -> dict:
        return await arecord_set(rows, channel="validation", data_location="s3://data/sets",
                                 aws_credentials=credentials)

    records = asyncio.run(stage())
    assert records["channel"] == "validation" and records["s3_data"].startswith("s3://data/sets/RecordSet-")
    features, labels, _ = read_back(s3, records["s3_data"])
    assert np.array_equal(features, rows) and labels is None

    @flow
    def bad() -> dict:
        return record_set(np.ones(5), aws_credentials=credentials)

    state = bad(return_state=True)
    assert state.is_failed() and "record_set needs a 2-D array (rows x features), got shape (5,)" in state.message
