"""Unmodified AWS clients against the runtime: boto3 alone (with botocore's waiters) and the
AWS CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smflow import codecs
from smflow.examples import iris

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
FAST = {"Delay": 1, "MaxAttempts": 120}


def test_boto3_lifecycle_with_botocore_waiters(runtime, iris_job):
    sagemaker = runtime.boto3_client("sagemaker")
    smr = runtime.boto3_client("sagemaker-runtime")
    s3 = runtime.boto3_client("s3")
    name = "boto3-only"
    container = {
        "Image": iris_job["AlgorithmSpecification"]["TrainingImage"],
        "ModelDataUrl": iris_job["ModelArtifacts"]["S3ModelArtifacts"],
        "Environment": {
            "SAGEMAKER_PROGRAM": "scikit_learn_iris.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": iris_job["HyperParameters"]["sagemaker_submit_directory"].strip('"'),
        },
    }
    sagemaker.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=ROLE)
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST)

    features, labels = iris.blog_test_rows()
    response = smr.invoke_endpoint(EndpointName=name, ContentType="text/csv", Accept="application/json",
                                   Body=codecs.encode(features, "text/csv"))
    assert response["ContentType"].startswith("application/json")
    assert response["InvokedProductionVariant"] == "AllTraffic"
    predictions = codecs.decode(response["Body"].read(), "application/json")
    assert iris.accuracy(predictions, labels) >= 0.9

    s3.create_bucket(Bucket="boto3-batch")
    s3.put_object(Bucket="boto3-batch", Key="in/a.csv", Body=codecs.encode(features[:10], "text/csv"))
    s3.put_object(Bucket="boto3-batch", Key="in/b.csv", Body=codecs.encode(features[10:], "text/csv"))
    sagemaker.create_transform_job(
        TransformJobName=name, ModelName=name, BatchStrategy="MultiRecord", MaxPayloadInMB=1,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://boto3-batch/in/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://boto3-batch/out", "AssembleWith": "Line", "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2})
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName=name, WaiterConfig=FAST)
    assert sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Completed"
    a = s3.get_object(Bucket="boto3-batch", Key="out/a.csv.out")["Body"].read().decode().split()
    b = s3.get_object(Bucket="boto3-batch", Key="out/b.csv.out")["Body"].read().decode().split()
    assert len(a) == 10 and len(b) == 19
    assert iris.accuracy(np.array(a + b, dtype=float), labels) >= 0.9

    sagemaker.delete_endpoint(EndpointName=name)
    sagemaker.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig=FAST)


def test_missing_resources_raise_client_errors_like_aws(runtime):
    from botocore.exceptions import ClientError

    sagemaker = runtime.boto3_client("sagemaker")
    with pytest.raises(ClientError) as info:
        sagemaker.describe_training_job(TrainingJobName="does-not-exist")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as info:
        runtime.boto3_client("sagemaker-runtime").invoke_endpoint(
            EndpointName="nope", Body=b"1", ContentType="text/csv")
    assert info.value.response["Error"]["Code"] == "ValidationError"


def aws_cli(runtime, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ENDPOINT_URL": runtime.url, "AWS_ACCESS_KEY_ID": "smflow",
           "AWS_SECRET_ACCESS_KEY": "smflow", "AWS_DEFAULT_REGION": "us-east-1"}
    aws = Path(sys.executable).with_name("aws")
    return subprocess.run([str(aws), *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_aws_cli_s3_cp_and_list_training_jobs(runtime, iris_job, tmp_path):
    source = tmp_path / "hello.txt"
    source.write_text("hello from the aws cli\n")
    assert aws_cli(runtime, "s3", "mb", "s3://cli-bucket").returncode == 0
    copied = aws_cli(runtime, "s3", "cp", str(source), "s3://cli-bucket/dir/hello.txt")
    assert copied.returncode == 0, copied.stderr
    back = tmp_path / "back.txt"
    assert aws_cli(runtime, "s3", "cp", "s3://cli-bucket/dir/hello.txt", str(back)).returncode == 0
    assert back.read_text() == source.read_text()

    listed = aws_cli(runtime, "sagemaker", "list-training-jobs", "--name-contains", iris_job["TrainingJobName"],
                     "--output", "json")
    assert listed.returncode == 0, listed.stderr
    assert iris_job["TrainingJobName"] in listed.stdout and "Completed" in listed.stdout
