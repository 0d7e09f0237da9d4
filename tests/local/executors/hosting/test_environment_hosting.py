"""Endpoints and batch transform served from a framework environment built on demand, through the
SageMaker API of a real local runtime: the model server runs the environment's python (forked from
a fork server of that environment when the framework is FORK_SAFE, a fresh process otherwise),
and an environment that cannot be built fails CreateEndpoint with pip's error.

The scikit-learn image is given a small environment (six plus the real base requirements, shared
with tests/local/executors/test_training_environments.py through $SMFLOW_ENVIRONMENTS_DIR).
"""

from __future__ import annotations

import json
import os
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from smflow.image_uris import retrieve
from smflow.local.containers.environments import EnvironmentSpec, environments_dir
from smflow.local.containers.frameworks import sklearn as sklearn_module

IMAGE = retrieve("sklearn", "us-east-1", "1.2-1")
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SCRIPT = Path(__file__).resolve().parents[2] / "serving_scripts" / "in_environment.py"
TINY = EnvironmentSpec(framework="sklearn", family="test-six", framework_version="1.2-1",
                       display="Six-only test", install_steps=(("six==1.16.0",),),
                       note="A test environment: six instead of scikit-learn")
BROKEN = EnvironmentSpec(framework="sklearn", family="test-broken", framework_version="0",
                         display="Broken test", install_steps=(("smflow-test-no-such-package==0.0.1",),))


@pytest.fixture
def model(runtime, tmp_path):
    """A model whose code (in_environment.py) is packed in model.tar.gz; returns its name."""
    s3 = runtime.client("s3")
    bucket = f"envs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    (tmp_path / "model" / "code").mkdir(parents=True)
    (tmp_path / "model" / "code" / "in_environment.py").write_text(SCRIPT.read_text())
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as archive:
        archive.add(tmp_path / "model", arcname=".")
    s3.upload_file(str(tmp_path / "model.tar.gz"), bucket, "model.tar.gz")
    name = f"env-model-{uuid.uuid4().hex[:8]}"
    runtime.client("sagemaker").create_model(
        ModelName=name, ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/model.tar.gz",
                          "Environment": {"SAGEMAKER_PROGRAM": "in_environment.py",
                                          "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})
    return name, bucket


def deploy(runtime, model_name: str) -> dict:
    sagemaker = runtime.client("sagemaker")
    name = f"env-endpoint-{uuid.uuid4().hex[:8]}"
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model_name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        if endpoint["EndpointStatus"] not in ("Creating", "Updating"):
            return endpoint
        time.sleep(0.2)
    raise AssertionError(f"endpoint {name} still creating")


def invoke(runtime, endpoint: str) -> dict:
    answer = runtime.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=b"[1, 2]")
    return json.loads(answer["Body"].read())


@pytest.mark.parametrize("fork_safe", [True, False], ids=["forked", "fresh-process"])
def test_an_endpoint_is_served_by_its_environment(runtime, model, monkeypatch, fork_safe):
    monkeypatch.setattr(sklearn_module, "environment", lambda version: TINY)
    monkeypatch.setattr(sklearn_module, "FORK_SAFE", fork_safe)

    endpoint = deploy(runtime, model[0])
    try:
        assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
        answer = invoke(runtime, endpoint["EndpointName"])
    finally:
        runtime.client("sagemaker").delete_endpoint(EndpointName=endpoint["EndpointName"])

    assert answer["prefix"] == str(environments_dir() / "sklearn-test-six")
    assert (answer["six"], answer["moto"], answer["body"]) == ("1.16.0", False, "[1, 2]")
    if fork_safe:  # forked from a fork server that runs the environment's python
        assert answer["parent"][0] == str(environments_dir() / "sklearn-test-six" / "bin" / "python")
        assert "--fork-server" in answer["parent"]
    else:  # started by the runtime itself
        assert answer["parent_pid"] == os.getpid() and "--fork-server" not in answer["parent"]


def test_a_transform_job_runs_in_the_environment(runtime, model, monkeypatch):
    monkeypatch.setattr(sklearn_module, "environment", lambda version: TINY)
    model_name, bucket = model
    s3, sagemaker = runtime.client("s3"), runtime.client("sagemaker")
    s3.put_object(Bucket=bucket, Key="input/records.json", Body=b'{"x": 1}')
    name = f"env-transform-{uuid.uuid4().hex[:8]}"
    sagemaker.create_transform_job(
        TransformJobName=name, ModelName=model_name,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/input"}},
                        "ContentType": "application/json"},
        TransformOutput={"S3OutputPath": f"s3://{bucket}/output"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    deadline = time.monotonic() + 600
    while (job := sagemaker.describe_transform_job(TransformJobName=name))["TransformJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)

    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    answer = json.loads(s3.get_object(Bucket=bucket, Key="output/records.json.out")["Body"].read())
    assert answer["prefix"] == str(environments_dir() / "sklearn-test-six") and answer["body"] == '{"x": 1}'


def test_an_environment_that_cannot_be_built_fails_the_endpoint_with_pips_error(runtime, model, monkeypatch):
    monkeypatch.setattr(sklearn_module, "environment", lambda version: BROKEN)

    endpoint = deploy(runtime, model[0])

    assert endpoint["EndpointStatus"] == "Failed"
    reason = endpoint["FailureReason"]
    assert "Could not prepare the Broken test environment of model" in reason
    assert reason.endswith("No matching distribution found for smflow-test-no-such-package==0.0.1")
    assert not list(environments_dir().glob("*test-broken*"))
