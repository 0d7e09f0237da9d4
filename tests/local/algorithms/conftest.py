"""Fixtures of the built-in algorithm tests: a real local runtime (module scope) driven with raw
boto3, and helpers that train, deploy, invoke and batch-transform through its API."""

from __future__ import annotations

import io
import itertools
import json
import tarfile
import time

import boto3
import numpy as np
import pytest
from botocore.config import Config

from smflow.local.server import LocalRuntime

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "algorithms"
ALGORITHM_ACCOUNT = "382416733822"  # us-east-1's account of the built-in algorithm images
XGBOOST_ACCOUNT = "683313688378"


def algorithm_image(repository: str) -> str:
    return f"{ALGORITHM_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repository}:1"


XGBOOST_IMAGE = f"{XGBOOST_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"
_counter = itertools.count()


class Api:
    """boto3 clients bound to one local runtime, and the lifecycle steps the tests use."""

    def __init__(self, url: str):
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
        config = Config(retries={"max_attempts": 1})
        self.sagemaker = session.client("sagemaker", endpoint_url=url, config=config)
        self.runtime = session.client("sagemaker-runtime", endpoint_url=url, config=config)
        self.s3 = session.client("s3", endpoint_url=url, config=config)
        self.s3.create_bucket(Bucket=BUCKET)

    @staticmethod
    def name(prefix: str) -> str:
        return f"{prefix}-{int(time.time())}-{next(_counter)}"

    def put(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return f"s3://{BUCKET}/{key}"

    def train(self, prefix: str, image: str, hyperparameters: dict, channels: dict, *, input_mode: str = "File",
              timeout: float = 600) -> dict:
        """Run a training job; ``channels``: name -> S3 URI or a Channel dict's fields
        (``{"uri", "content_type", "data_type", "input_mode"}``). Returns DescribeTrainingJob."""
        name = self.name(prefix)
        config = []
        for channel_name, spec in channels.items():
            spec = {"uri": spec} if isinstance(spec, str) else spec
            entry = {"ChannelName": channel_name, "DataSource": {"S3DataSource": {
                "S3DataType": spec.get("data_type", "S3Prefix"), "S3Uri": spec["uri"],
                "S3DataDistributionType": "FullyReplicated"}}}
            if spec.get("content_type"):
                entry["ContentType"] = spec["content_type"]
            if spec.get("input_mode"):
                entry["InputMode"] = spec["input_mode"]
            config.append(entry)
        self.sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": input_mode},
            RoleArn=ROLE,
            HyperParameters={key: str(value) for key, value in hyperparameters.items()},
            InputDataConfig=config,
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
        deadline = time.monotonic() + timeout
        while True:
            job = self.sagemaker.describe_training_job(TrainingJobName=name)
            if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
                return job
            assert time.monotonic() < deadline, f"training job {name} still {job['TrainingJobStatus']}"
            time.sleep(0.2)

    def model_files(self, job: dict) -> dict[str, bytes]:
        uri = job["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, key = uri[len("s3://"):].split("/", 1)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            return {member.name.lstrip("./"): archive.extractfile(member).read()
                    for member in archive.getmembers() if member.isfile()}

    def create_model(self, job: dict, image: str, environment: dict | None = None) -> str:
        name = self.name("model")
        container = {"Image": image, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]}
        if environment:
            container["Environment"] = environment
        self.sagemaker.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=ROLE)
        return name

    def deploy(self, model: str, timeout: float = 300) -> str:
        name = self.name("endpoint")
        self.sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        self.sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        deadline = time.monotonic() + timeout
        while True:
            status = self.sagemaker.describe_endpoint(EndpointName=name)
            if status["EndpointStatus"] in ("InService", "Failed"):
                assert status["EndpointStatus"] == "InService", status.get("FailureReason")
                return name
            assert time.monotonic() < deadline
            time.sleep(0.2)

    def invoke(self, endpoint: str, body: bytes | str, content_type: str, accept: str | None = None) -> tuple[bytes, str]:
        arguments = {"EndpointName": endpoint, "Body": body, "ContentType": content_type}
        if accept:
            arguments["Accept"] = accept
        response = self.runtime.invoke_endpoint(**arguments)
        return response["Body"].read(), response["ContentType"]

    def delete_endpoint(self, endpoint: str) -> None:
        self.sagemaker.delete_endpoint(EndpointName=endpoint)

    def transform(self, model: str, input_uri: str, content_type: str, accept: str, split_type: str,
                  timeout: float = 300, **extra) -> dict:
        name = self.name("transform")
        self.sagemaker.create_transform_job(
            TransformJobName=name, ModelName=model,
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
                            "ContentType": content_type, "SplitType": split_type},
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/transform/{name}", "Accept": accept,
                             "AssembleWith": "Line"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1}, **extra)
        deadline = time.monotonic() + timeout
        while True:
            job = self.sagemaker.describe_transform_job(TransformJobName=name)
            if job["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
                return job
            assert time.monotonic() < deadline
            time.sleep(0.2)

    def output(self, job: dict, key: str) -> bytes:
        prefix = job["TransformOutput"]["S3OutputPath"][len(f"s3://{BUCKET}/"):]
        return self.s3.get_object(Bucket=BUCKET, Key=f"{prefix}/{key}")["Body"].read()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    server = LocalRuntime(tmp_path_factory.mktemp("state"), deployment_timeout=300)
    url = server.start()
    yield Api(url)
    server.stop()


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    features, labels = load_digits(return_X_y=True)
    return features.astype(np.float32), labels.astype(np.float32)


def csv_bytes(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(f"{value:g}" for value in row) for row in np.atleast_2d(rows)).encode() + b"\n"


def json_answers(body: bytes) -> dict:
    return json.loads(body)
