"""What the PyTorch and Chainer lifecycle tests share: a local runtime in this process, the smflow
client on it, scikit-learn's digits split into a training CSV and test rows, and readers of what
jobs leave in S3."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import boto3
import numpy as np
import pytest

from smflow.client import SageMakerClient
from smflow.errors import ResourceFailedError
from smflow.local.server import LocalRuntime
from smflow.waiting import Backoff

SCRIPTS = Path(__file__).resolve().parent / "scripts"
INSTANCE_TYPE = "ml.m5.xlarge"
METRICS = [{"Name": "train:accuracy", "Regex": "train_accuracy=([0-9.]+)"}]


def start_runtime(state_dir: Path) -> LocalRuntime:
    runtime = LocalRuntime(state_dir, deployment_timeout=180)
    runtime.start()
    return runtime


def client_for(runtime: LocalRuntime) -> SageMakerClient:
    return SageMakerClient(endpoint_url=runtime.url, backoff=Backoff(initial=0.1, factor=1.3, maximum=1.0),
                           log=lambda line: None)


def boto3_client(runtime: LocalRuntime, service: str):
    session = boto3.session.Session(aws_access_key_id="smflow", aws_secret_access_key="smflow",
                                    region_name="us-east-1")
    return session.client(service, endpoint_url=runtime.url)


class Digits:
    """scikit-learn's 8x8 digits (64 pixel values 0-16, 10 classes): 1,500 training rows written
    as CSV (label first) and uploaded, the other 297 kept as test rows."""

    def __init__(self, folder: Path, client: SageMakerClient, key_prefix: str):
        from sklearn.datasets import load_digits

        pixels, labels = load_digits(return_X_y=True)
        order = np.random.default_rng(0).permutation(len(labels))
        pixels, labels = pixels[order], labels[order]
        self.test_x, self.test_y = pixels[1500:].astype(np.float32), labels[1500:]
        train = folder / "train" / "digits.csv"
        train.parent.mkdir(parents=True)
        np.savetxt(train, np.column_stack([labels[:1500], pixels[:1500]]), delimiter=",", fmt="%g")
        self.train_uri = client.upload_data(train.parent, key_prefix=f"{key_prefix}/train")
        batch = folder / "batch" / "digits.csv"
        batch.parent.mkdir(parents=True)
        np.savetxt(batch, self.test_x, delimiter=",", fmt="%g")
        self.batch_uri = client.upload_data(batch.parent, key_prefix=f"{key_prefix}/batch")

    def accuracy(self, scores) -> float:
        """The share of test rows whose highest score is their label."""
        return float((np.asarray(scores).argmax(axis=1) == self.test_y).mean())


def read_s3(client: SageMakerClient, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return client.s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def model_archive_member(client: SageMakerClient, job: dict, name: str) -> bytes:
    """A file of the training job's model.tar.gz."""
    archive = read_s3(client, job["ModelArtifacts"]["S3ModelArtifacts"])
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return tar.extractfile(name).read()


def training_run(client: SageMakerClient, job: dict) -> dict:
    """What the digits script saw while training (its ``training-run.json``)."""
    return json.loads(model_archive_member(client, job, "training-run.json"))


def failed_job(client: SageMakerClient, **arguments) -> ResourceFailedError:
    with pytest.raises(ResourceFailedError) as info:
        client.train(instance_type=INSTANCE_TYPE, logs=False, **arguments)
    assert info.value.status == "Failed"
    return info.value


def log_text(runtime: LocalRuntime, log_group: str, prefix: str) -> str:
    """Every event of the CloudWatch log streams of ``log_group`` that start with ``prefix``."""
    logs = boto3_client(runtime, "logs")
    streams = logs.describe_log_streams(logGroupName=log_group, logStreamNamePrefix=prefix)["logStreams"]
    lines = []
    for stream in streams:
        events = logs.get_log_events(logGroupName=log_group, logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]
        lines.extend(event["message"] for event in events)
    return "\n".join(lines)
