"""upload_data and aupload_data in Prefect flows, against moto's S3."""

from __future__ import annotations

import asyncio

import boto3
import pytest

pytest.importorskip("prefect")

from prefect import flow  # noqa: E402

from smflow_prefect import aupload_data, upload_data  # noqa: E402

from .conftest import REGION  # noqa: E402


@pytest.fixture
def s3(aws_env):
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("s3", region_name=REGION)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "iris"
    (root / "nested").mkdir(parents=True)
    (root / "train.csv").write_text("0,5.1,3.5,1.4,0.2\n")
    (root / "nested" / "more.csv").write_text("2,6.7,3.0,5.2,2.3\n")
    return root


def keys(s3, bucket: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def test_upload_data_puts_a_folder_and_a_file_in_the_default_bucket(s3, credentials, folder):
    @flow
    def stage() -> tuple[str, str]:
        return (upload_data(str(folder), key_prefix="iris/data", aws_credentials=credentials),
                upload_data(str(folder / "train.csv"), key_prefix="iris/one", aws_credentials=credentials))

    prefix_uri, file_uri = stage()
    bucket = "sagemaker-us-east-1-123456789012"  # moto's account; created because it was missing
    assert prefix_uri == f"s3://{bucket}/iris/data"
    assert file_uri == f"s3://{bucket}/iris/one/train.csv"
    assert keys(s3, bucket) == {
        "iris/data/train.csv": b"0,5.1,3.5,1.4,0.2\n",
        "iris/data/nested/more.csv": b"2,6.7,3.0,5.2,2.3\n",
        "iris/one/train.csv": b"0,5.1,3.5,1.4,0.2\n",
    }


def test_aupload_data_uploads_to_a_given_bucket_and_a_missing_path_is_named(s3, credentials, folder, tmp_path):
    s3.create_bucket(Bucket="my-bucket")

    @flow
    async def stage() -> str:
        return await aupload_data(str(folder), key_prefix="in", bucket="my-bucket", aws_credentials=credentials)

    assert asyncio.run(stage()) == "s3://my-bucket/in"
    assert sorted(keys(s3, "my-bucket")) == ["in/nested/more.csv", "in/train.csv"]

    @flow
    def missing() -> str:
        return upload_data(str(tmp_path / "no-such-folder"), aws_credentials=credentials)

    state = missing(return_state=True)
    assert state.is_failed() and "no-such-folder" in state.message
    with pytest.raises(ValueError):  # ConfigurationError
        state.result()
