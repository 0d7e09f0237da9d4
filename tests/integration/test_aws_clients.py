"""Unmodified AWS clients with their default settings against the runtime: the SageMaker Python
SDK v2 running the Scikit-Learn Iris notebook's calls (its own virtual environment, fixture
``sagemaker_sdk``), and the AWS CLI's SageMaker waiter and error output. (Airflow's Amazon
provider: tests/airflow/test_amazon_provider_dag.py.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smflow.examples import iris
from tests.sdk.conftest import sagemaker_sdk  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
NOTEBOOK = Path(__file__).resolve().parent / "clients" / "sdk_notebook.py"
# The SDK's telemetry is switched off in its own configuration file (a request to an AWS host
# per call otherwise); SAGEMAKER_USER_CONFIG_OVERRIDE names it.
SDK_CONFIG = 'SchemaVersion: "1.0"\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n'


def client_environment(runtime, tmp_path: Path) -> dict[str, str]:
    """What a user exports to point any AWS client at the runtime (README)."""
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(SDK_CONFIG)
    return {**os.environ, "AWS_ENDPOINT_URL": runtime.url, "AWS_ACCESS_KEY_ID": "smflow",
            "AWS_SECRET_ACCESS_KEY": "smflow", "AWS_DEFAULT_REGION": "us-east-1",
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "AWS_PAGER": ""}


def aws_cli() -> list[str]:
    """The AWS CLI of the dev extra (``aws`` beside this interpreter, else on PATH)."""
    beside = Path(sys.executable).with_name("aws")
    found = str(beside) if beside.is_file() else shutil.which("aws")
    if found is None:
        pytest.fail("the AWS CLI is not installed: pip install -e '.[dev]' installs it")
    return [found]


def test_sdk_v2_runs_the_iris_notebook_with_its_defaults(runtime, sagemaker_sdk, tmp_path, monkeypatch):  # noqa: F811
    data = iris.write_training_csv(tmp_path / "data" / "iris.csv").parent
    features, labels = iris.blog_test_rows()
    iris.write_features_csv(tmp_path / "batch" / "test.csv", features)
    for name, value in client_environment(runtime, tmp_path).items():
        monkeypatch.setenv(name, value)
    runtime.boto3_client("s3").create_bucket(Bucket="sdk-notebook")

    result = sagemaker_sdk.run(NOTEBOOK.read_text(), {
        "bucket": "sdk-notebook", "entry_point": str(iris.training_script()), "data_dir": str(data),
        "features": features.tolist(), "role": ROLE}, timeout=600)

    assert iris.accuracy(np.asarray(result["predictions"], dtype=float), labels) >= 0.9
    assert result["second_predictions"] == result["predictions"]  # same model data, second endpoint
    (key, text), = result["transform_outputs"].items()
    assert key.endswith("test.csv.out")  # the model's default answer type, JSON, as the notebook gets it
    assert iris.accuracy(np.asarray(json.loads(text), dtype=float), labels) >= 0.9
    sagemaker = runtime.boto3_client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=result["job_name"])
    assert job["TrainingJobStatus"] == "Completed" and job["HyperParameters"]["max_leaf_nodes"] == "30"
    names = [e["EndpointName"] for e in sagemaker.list_endpoints(MaxResults=100)["Endpoints"]]
    assert result["endpoint_name"] not in names  # deleted
    print("SDK notebook steps (s):", result["steps"], "total", result["seconds"])


def test_aws_cli_waiter_finds_a_local_endpoint_in_service_at_its_first_look(runtime, iris_job, tmp_path):
    sagemaker = runtime.boto3_client("sagemaker")
    name = "cli-waiter"
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": iris_job["AlgorithmSpecification"]["TrainingImage"],
        "ModelDataUrl": iris_job["ModelArtifacts"]["S3ModelArtifacts"],
        "Environment": {"SAGEMAKER_PROGRAM": "scikit_learn_iris.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": iris_job["HyperParameters"]["sagemaker_submit_directory"].strip('"')}})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    env = client_environment(runtime, tmp_path)
    created = subprocess.run([*aws_cli(), "sagemaker", "create-endpoint", "--endpoint-name", name,
                              "--endpoint-config-name", name], env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    # The waiter looks at once, then every 30 s: it must succeed at its first look.
    assert sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    waited = subprocess.run([*aws_cli(), "sagemaker", "wait", "endpoint-in-service", "--endpoint-name", name],
                            env=env, capture_output=True, text=True, timeout=25)
    assert waited.returncode == 0, waited.stderr

    deleted = subprocess.run([*aws_cli(), "sagemaker", "delete-endpoint", "--endpoint-name", name],
                             env=env, capture_output=True, text=True, timeout=60)
    assert deleted.returncode == 0, deleted.stderr
    gone = subprocess.run([*aws_cli(), "sagemaker", "wait", "endpoint-deleted", "--endpoint-name", name],
                          env=env, capture_output=True, text=True, timeout=25)
    assert gone.returncode == 0, gone.stderr


def test_aws_cli_bad_role_and_instance_type_get_sagemakers_errors(runtime, tmp_path):
    env = client_environment(runtime, tmp_path)
    role_name = "SageMakerExecutionRole"  # a role name where an ARN belongs
    failed = subprocess.run([*aws_cli(), "sagemaker", "create-model", "--model-name", "role-name",
                             "--execution-role-arn", role_name, "--primary-container", "Image=img:1"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0
    assert re.search(r"An error occurred \(ValidationException\) when calling the CreateModel operation: "
                     r"1 validation error detected: Value 'SageMakerExecutionRole' at 'executionRoleArn' failed "
                     r"to satisfy constraint: Member must satisfy regular expression pattern: \^?arn:aws", failed.stderr), \
        failed.stderr
    failed = subprocess.run([*aws_cli(), "sagemaker", "create-endpoint-config", "--endpoint-config-name", "local",
                             "--production-variants",
                             "VariantName=AllTraffic,ModelName=m,InitialInstanceCount=1,InstanceType=local"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0
    assert re.search(r"\(ValidationException\) when calling the CreateEndpointConfig operation: 1 validation error "
                     r"detected: Value 'local' at 'productionVariants\.1\.member\.instanceType' failed to satisfy "
                     r"constraint: Member must satisfy enum value set: \[ml\.", failed.stderr), failed.stderr
