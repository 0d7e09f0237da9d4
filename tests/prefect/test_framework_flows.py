"""The framework flow of the Iris lifecycle (``flows/iris_frameworks.py``): the requests its
training arguments make, recorded by ``tests.sdk.fake_aws``, and whole flow runs on a real local
runtime process (PyTorch and Chainer: their environments train and serve without Docker)."""

from __future__ import annotations

import importlib.util
import inspect
import json
from pathlib import Path

import boto3
import numpy as np
import pytest

from smflow.client import SageMakerClient
from smflow.waiting import Backoff
from tests.sdk.fake_aws import ACCOUNT, FakeAws

pytest.importorskip("prefect")

FLOW_FILE = Path(__file__).resolve().parents[2] / "flows" / "iris_frameworks.py"
REGION = "ap-southeast-2"


@pytest.fixture(scope="module")
def module():
    spec = importlib.util.spec_from_file_location("iris_frameworks_flow", FLOW_FILE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.mark.parametrize(("framework", "training", "inference"), [
    ("pytorch", "pytorch-training:2.0.1-cpu-py310", "pytorch-inference:2.0.1-cpu-py310"),
    ("tensorflow", "tensorflow-training:2.13-cpu-py310", "tensorflow-inference:2.13-cpu"),
    ("chainer", "sagemaker-chainer:5.0.0-cpu-py3", "sagemaker-chainer:5.0.0-cpu-py3"),
])
def test_the_flow_trains_and_serves_with_the_framework_images(module, framework, training, inference):
    fake = FakeAws(REGION)
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    fake.attach(session)
    client = SageMakerClient(session, backoff=Backoff.fixed(0.0), log=lambda line: None)
    arguments = module.training_arguments(framework, "s3://bucket/iris/data", "SageMakerRole")
    assert set(arguments) <= set(inspect.signature(module.train_model.fn).parameters)
    client.train(**arguments, job_name="iris-job", wait=False)
    client.create_model(training_job_name="iris-job", model_name="iris-model", instance_type=module.INSTANCE_TYPE,
                        role="SageMakerRole")
    requests = {operation: params for _, operation, params in fake.calls if operation.startswith("Create")}
    job = requests["CreateTrainingJob"]
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith(f".amazonaws.com/{training}")
    assert job["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
    assert job["InputDataConfig"][0]["ChannelName"] == "train"
    assert json.loads(job["HyperParameters"]["sagemaker_program"]) == f"{framework}_iris.py"
    assert requests["CreateModel"]["PrimaryContainer"]["Image"].endswith(f".amazonaws.com/{inference}")


def test_the_flow_takes_the_framework_as_a_parameter(module):
    parameters = inspect.signature(module.iris_framework_lifecycle.fn).parameters
    assert parameters["framework"].default == "pytorch"
    assert set(module.VARIANTS) == {"pytorch", "tensorflow", "mxnet", "chainer", "xgboost"}
    assert all(Path(variant["entry_point"]) == module.SCRIPTS / f"{name}_iris.py"
               for name, variant in module.VARIANTS.items())
    # the MXNet and XGBoost scripts, and their flow runs, are their engineers' (tests beside them)
    assert all(Path(module.VARIANTS[name]["entry_point"]).is_file() for name in ("pytorch", "tensorflow", "chainer"))


@pytest.mark.integration
@pytest.mark.parametrize(("framework", "image"), [
    ("pytorch", "pytorch-training:2.0.1-cpu-py310"),
    ("chainer", "sagemaker-chainer:5.0.0-cpu-py3"),
])
def test_the_flow_runs_on_the_local_runtime(runtime, module, framework, image):
    """One whole flow run: upload -> train in the framework's environment -> create the model ->
    deploy -> predict the blog's 29 rows as JSON -> delete the endpoint."""
    from smflow.examples import iris

    result = module.iris_framework_lifecycle(framework, aws_credentials=runtime.credentials())
    sagemaker = runtime.boto3_client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=result["training_job"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith(f".amazonaws.com/{image}")
    _, labels = iris.blog_test_rows()
    predictions = np.asarray(result["predictions"])
    assert predictions.shape == (29,)  # one class index per row
    assert (predictions == labels).mean() >= 0.9
    endpoints = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    assert result["endpoint"] not in endpoints  # deleted at the end
