"""SageMaker's PyTorch images on the local runtime, through the smflow client: a PyTorch module
trains on scikit-learn's digits in the PyTorch environment (AWS's training toolkit), is served by
the PyTorch inference toolkit's defaults (TorchScript ``model.pt``; JSON, CSV and NPY) and
batch-transforms; and the bad inputs: an unknown version, a missing package, a model_fn that
raises, a payload of the wrong shape."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from botocore.exceptions import ClientError

from smflow import codecs
from smflow.errors import ConfigurationError, InvocationError, ResourceFailedError
from smflow.local.containers.environments import UnsupportedImageError, resolve_environment
from smflow.local.containers.frameworks import pytorch
from smflow.local.containers.serving.handlers import ModelLoadError
from tests.local.frameworks import deep_learning_support as support

FRAMEWORK = {"framework": "pytorch", "framework_version": "2.0.1", "py_version": "py310"}
SCRIPTS = support.SCRIPTS / "pytorch"
HYPERPARAMETERS = {"epochs": 150, "hidden": 48, "lr": 0.01}


# ---------------------------------------------------------------------- the module, without an environment
@pytest.mark.parametrize(("image", "version"), [
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.0.1-cpu-py310", "2.0.1"),
    ("763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:1.13.1-gpu-py39", "1.13.1"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference-graviton:2.0.1-cpu-py310-ubuntu20.04-sagemaker",
     "2.0.1"),
    ("520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-pytorch:1.0.0-cpu-py3", "1.0.0"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference@sha256:" + "ab" * 32, None),
])
def test_every_pytorch_image_runs_in_the_one_torch_environment(image, version):
    environment = resolve_environment(image)
    assert (environment.name, environment.framework_version) == ("pytorch", version)
    spec = environment.spec
    assert (spec.family, spec.framework_version, spec.display) == ("2.13", "2.13.0", "PyTorch 2.13")
    assert spec.install_steps == (("torch==2.13.0",),)
    assert "using torch 2.13.0 (CPU build)" in spec.note


def test_an_unknown_pytorch_version_is_refused_naming_the_versions():
    with pytest.raises(UnsupportedImageError) as info:
        resolve_environment("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:3.1.0-cpu-py312")
    assert "PyTorch 3.1.0 is not a version of SageMaker's PyTorch images" in str(info.value)
    assert "2.0.1" in str(info.value) and "framework_version" in str(info.value)


def test_the_default_model_fn_finds_model_pt_or_the_only_model_file(tmp_path):
    (tmp_path / "weights.pth").write_bytes(b"")
    assert pytorch.model_file(str(tmp_path)) == str(tmp_path / "weights.pth")
    (tmp_path / "model.pt").write_bytes(b"")
    assert pytorch.model_file(str(tmp_path)) == str(tmp_path / "model.pt")
    (tmp_path / "model.pt").unlink()
    (tmp_path / "other.pt").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"found other.pt, weights.pth.*torch.jit.save"):
        pytorch.model_file(str(tmp_path))


# ---------------------------------------------------------------------- through the runtime
@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    runtime = support.start_runtime(tmp_path_factory.mktemp("state"))
    yield runtime
    runtime.stop()


@pytest.fixture(scope="module")
def client(runtime):
    return support.client_for(runtime)


@pytest.fixture(scope="module")
def digits(tmp_path_factory, client):
    return support.Digits(tmp_path_factory.mktemp("digits"), client, "pytorch-digits")


@pytest.fixture(scope="module")
def job(client, digits):
    return client.train(entry_point=str(SCRIPTS / "digits.py"), **FRAMEWORK, hyperparameters=HYPERPARAMETERS,
                        inputs={"train": digits.train_uri}, instance_type=support.INSTANCE_TYPE,
                        metric_definitions=support.METRICS, base_job_name="pt-digits", logs=False)


@pytest.fixture(scope="module")
def model(client, job):
    return client.create_model(training_job_name=job["TrainingJobName"], model_name="pt-digits",
                               instance_type=support.INSTANCE_TYPE)


@pytest.fixture(scope="module")
def endpoint(client, model):
    described = client.deploy(model_name=model["ModelName"], endpoint_name="pt-digits",
                              instance_type=support.INSTANCE_TYPE)
    yield described["EndpointName"]
    client.delete_endpoint(described["EndpointName"])


def test_the_module_trains_in_the_pytorch_environment_with_the_toolkits_contract(runtime, client, job):
    described = client.describe_training_job(job["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Completed"
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("/pytorch-training:2.0.1-cpu-py310")
    metrics = {metric["MetricName"]: metric["Value"] for metric in described["FinalMetricDataList"]}
    assert metrics["train:accuracy"] > 0.95  # metric_definitions applied to the script's log
    seen = support.training_run(client, job)
    assert (seen["epochs"], seen["hidden"], seen["rows"]) == (150, 48, 1500)  # hyperparameters as arguments
    assert seen["torch"].startswith("2.13.0")  # the environment's torch, whatever version the image names
    assert json.loads(seen["SM_HPS"]) == HYPERPARAMETERS
    assert seen["SM_CHANNEL_TRAIN"].endswith("/input/data/train")
    assert seen["SM_MODEL_DIR"].endswith("model") and seen["SM_CURRENT_HOST"] == "algo-1"
    assert model_pt_is_torchscript(support.model_archive_member(client, job, "model.pt"))
    log = support.log_text(runtime, "/aws/sagemaker/TrainingJobs", job["TrainingJobName"])
    assert "using torch 2.13.0" in log  # the job says which torch runs a PyTorch 2.0.1 image
    assert "train_accuracy=" in log


def model_pt_is_torchscript(data: bytes) -> bool:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # TorchScript archives hold code/ and constants
        return any("/code/" in name for name in archive.namelist())


def test_the_model_is_served_by_the_pytorch_inference_images(client, model):
    described = client.sagemaker.describe_model(ModelName=model["ModelName"])
    assert described["PrimaryContainer"]["Image"].endswith("/pytorch-inference:2.0.1-cpu-py310")


@pytest.mark.parametrize("content_type", [codecs.JSON, codecs.CSV, codecs.NPY])
def test_the_default_handlers_predict_in_every_content_type(client, digits, endpoint, content_type):
    scores = client.predict(endpoint, digits.test_x, content_type=content_type, accept=content_type)
    assert scores.shape == (len(digits.test_y), 10)  # the module's output: one score per class
    assert digits.accuracy(scores) > 0.9


def test_batch_transform_scores_every_line(client, digits, model):
    job = client.batch_transform(model_name=model["ModelName"], data=digits.batch_uri, content_type="text/csv",
                                 split_type="Line", accept="text/csv", instance_type=support.INSTANCE_TYPE,
                                 base_job_name="pt-digits-batch")
    assert job["TransformJobStatus"] == "Completed"
    output = support.read_s3(client, job["TransformOutput"]["S3OutputPath"].rstrip("/") + "/digits.csv.out")
    scores = np.loadtxt(io.StringIO(output.decode()), delimiter=",", ndmin=2)
    assert scores.shape == (len(digits.test_y), 10)
    assert digits.accuracy(scores) > 0.9


def test_a_payload_of_the_wrong_shape_is_a_model_error_with_torchs_message(runtime, client, digits, endpoint):
    with pytest.raises(InvocationError) as info:
        client.predict(endpoint, digits.test_x[:2, :60], content_type=codecs.JSON, accept=codecs.JSON)
    assert info.value.status == 500
    assert "mat1 and mat2 shapes cannot be multiplied (2x60 and 64x48)" in info.value.message
    with pytest.raises(ClientError) as raw:  # what boto3 sees: SageMaker Runtime's ModelError, a 4xx
        support.boto3_client(runtime, "sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, Body=b"1,2,3", ContentType="text/csv")
    assert raw.value.response["Error"]["Code"] == "ModelError"
    assert raw.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "mat1 and mat2 shapes cannot be multiplied" in raw.value.response["Error"]["Message"]
    scores = client.predict(endpoint, digits.test_x[:5], content_type=codecs.JSON, accept=codecs.JSON)
    assert scores.shape == (5, 10)  # the endpoint stays up


def test_an_unsupported_content_type_is_a_415_naming_the_types(client, endpoint):
    with pytest.raises(InvocationError) as info:
        client.invoke(endpoint, b"<rows/>", content_type="application/xml")
    assert info.value.status == 415
    assert "application/x-npy, application/json, text/csv" in info.value.message


def test_an_unknown_framework_version_is_refused_by_the_client_and_by_the_runtime(client, digits):
    with pytest.raises(ConfigurationError, match="framework_version"):
        client.train(entry_point=str(SCRIPTS / "digits.py"), framework="pytorch", framework_version="9.9.9",
                     py_version="py310", inputs={"train": digits.train_uri}, instance_type=support.INSTANCE_TYPE)
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:9.9.9-cpu-py310"
    failure = support.failed_job(client, image_uri=image, entry_point=str(SCRIPTS / "digits.py"),
                                 inputs={"train": digits.train_uri}, base_job_name="pt-unknown")
    assert "PyTorch 9.9.9 is not a version of SageMaker's PyTorch images" in failure.failure_reason
    assert "2.0.1" in failure.failure_reason


def test_a_script_that_imports_a_missing_package_fails_naming_it(client, digits):
    failure = support.failed_job(client, entry_point=str(SCRIPTS / "missing_package.py"), **FRAMEWORK,
                                 inputs={"train": digits.train_uri}, base_job_name="pt-missing")
    assert "No module named 'smflow_absent_package'" in failure.failure_reason


def test_a_model_fn_that_raises_fails_the_deployment_and_leaves_a_serving_endpoint_up(client, job, endpoint):
    broken = client.create_model(model_name="pt-broken", model_data=job["ModelArtifacts"]["S3ModelArtifacts"],
                                 entry_point=str(SCRIPTS / "broken_model_fn.py"), **FRAMEWORK,
                                 instance_type=support.INSTANCE_TYPE)
    with pytest.raises(ResourceFailedError) as info:
        client.deploy(model_name=broken["ModelName"], endpoint_name="pt-broken", instance_type=support.INSTANCE_TYPE)
    assert "cannot load weights: model.pt was saved by another network" in info.value.failure_reason
    with pytest.raises(ResourceFailedError) as update:  # an update to it rolls back: the endpoint keeps serving
        client.deploy(model_name=broken["ModelName"], endpoint_name=endpoint, instance_type=support.INSTANCE_TYPE)
    assert "cannot load weights" in update.value.failure_reason
    assert client.describe_endpoint(endpoint)["EndpointStatus"] == "InService"
    assert client.predict(endpoint, np.zeros((1, 64), np.float32), content_type=codecs.JSON,
                          accept=codecs.JSON).shape == (1, 10)
    client.delete_endpoint("pt-broken")


def test_model_servers_are_forked_from_a_process_that_imported_torch(client, job):
    """FORK_SAFE: the model server starts from the environment's fork server, torch imported."""
    probe = client.create_model(model_name="py-probe", model_data=job["ModelArtifacts"]["S3ModelArtifacts"],
                                entry_point=str(SCRIPTS / "process_probe.py"), **FRAMEWORK,
                                instance_type=support.INSTANCE_TYPE)
    endpoint = client.deploy(model_name=probe["ModelName"], endpoint_name="py-probe",
                             instance_type=support.INSTANCE_TYPE)["EndpointName"]
    try:
        seen = json.loads(client.invoke(endpoint, b"{}", content_type=codecs.JSON)[0])
    finally:
        client.delete_endpoint(endpoint)
    assert seen["preloaded"] == sorted(["numpy", "torch"])  # imported before the entry point was
    assert seen["parent"] != os.getpid()  # not started by the runtime (this process) itself
