"""``create_model`` for the deep-learning frameworks: the inference image that goes with the
training image (CPU or GPU by the hosting ``instance_type``), ``model_server_workers``, the job's
VPC and network isolation kept, the code of a network-isolated job found in its ``code``
channel. Requests recorded by ``tests.sdk.fake_aws``."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest

from smflow.client import SageMakerClient
from smflow.waiting import Backoff
from tests.sdk.fake_aws import FakeAws

REGION = "us-west-2"


@pytest.fixture
def recorded(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    fake = FakeAws(REGION)
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    fake.attach(session)
    client = SageMakerClient(session, role="arn:aws:iam::123456789012:role/r", backoff=Backoff.fixed(0.0),
                             log=lambda line: None)
    return fake, client, str(script)


def created(fake, operation):
    return [params for _, name, params in fake.calls if name == operation][-1]


def test_a_gpu_trained_model_serves_on_the_hosting_instance_types_image(recorded):
    fake, client, script = recorded
    client.train(entry_point=script, framework="pytorch", framework_version="2.0.1", py_version="py310",
                 instance_type="ml.p3.2xlarge", instance_count=2, job_name="job", wait=False,
                 distribution={"torch_distributed": {"enabled": True}})
    assert created(fake, "CreateTrainingJob")["AlgorithmSpecification"]["TrainingImage"].endswith(
        "/pytorch-training:2.0.1-gpu-py310")
    client.create_model(training_job_name="job", model_name="on-gpu")
    assert created(fake, "CreateModel")["PrimaryContainer"]["Image"].endswith("/pytorch-inference:2.0.1-gpu-py310")
    client.create_model(training_job_name="job", model_name="on-cpu", instance_type="ml.c5.xlarge",
                        model_server_workers="2")
    container = created(fake, "CreateModel")["PrimaryContainer"]
    assert container["Image"].endswith("/pytorch-inference:2.0.1-cpu-py310")
    assert container["Environment"]["SAGEMAKER_MODEL_SERVER_WORKERS"] == "2"
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "train.py"
    # these containers load the code from the model archive: repacked with code/, as the SDK
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    bucket, _, key = container["ModelDataUrl"][len("s3://"):].partition("/")
    assert key.startswith("on-cpu/model-") and key.endswith("/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(fake.objects[(bucket, key)]), mode="r:gz") as archive:
        assert sorted(archive.getnames()) == ["code/train.py", "model.bin"]


def test_the_model_of_an_isolated_job_keeps_its_vpc_isolation_and_code(recorded):
    fake, client, script = recorded
    client.train(entry_point=script, framework="mxnet", framework_version="1.9.0", py_version="py38",
                 subnets=["subnet-1"], security_group_ids=["sg-1"], enable_network_isolation=True,
                 job_name="iso", wait=False)
    job = created(fake, "CreateTrainingJob")
    code_uri = job["InputDataConfig"][-1]["DataSource"]["S3DataSource"]["S3Uri"]
    assert json.loads(job["HyperParameters"]["sagemaker_submit_directory"]) == "/opt/ml/input/data/code/sourcedir.tar.gz"
    client.create_model(training_job_name="iso", model_name="iso-model")
    model = created(fake, "CreateModel")
    assert model["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    bucket, _, key = model["PrimaryContainer"]["ModelDataUrl"][len("s3://"):].partition("/")
    with tarfile.open(fileobj=io.BytesIO(fake.objects[(bucket, key)]), mode="r:gz") as archive:
        assert "code/train.py" in archive.getnames()  # read from the job's code channel
    assert code_uri.endswith("/iso/source/sourcedir.tar.gz")
    assert model["PrimaryContainer"]["Image"].endswith("/mxnet-inference:1.9.0-cpu-py38")


def test_a_distribution_the_framework_lacks_fails_before_any_call(recorded):
    fake, client, script = recorded
    from smflow.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="distribution"):
        client.train(entry_point=script, framework="xgboost", instance_count=2, wait=False,
                     distribution={"parameter_server": {"enabled": True}})
    with pytest.raises(ConfigurationError, match="py_version"):
        client.train(entry_point=script, framework="pytorch", framework_version="2.0.1", py_version="py27",
                     wait=False)
    assert [name for _, name, _ in fake.calls if name not in ("GetCallerIdentity",)] == []
