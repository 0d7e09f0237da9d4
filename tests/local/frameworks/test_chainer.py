"""SageMaker's Chainer images on the local runtime, through the smflow client: a Chainer network
trains on scikit-learn's digits in the Chainer environment (AWS's training toolkit) and is saved
with ``save_npz``; the Chainer model server loads it with the script's required ``model_fn`` and
serves it with the container's defaults (JSON, CSV, NPY in and out; ``model(data)``), in an
endpoint and in batch transform; and the bad inputs: an unknown version, a missing package, no
model_fn, a model_fn that raises, a payload of the wrong shape."""

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
from smflow.local.containers.frameworks import chainer
from smflow.local.containers.serving.handlers import ServingError
from tests.local.frameworks import deep_learning_support as support

FRAMEWORK = {"framework": "chainer", "framework_version": "5.0.0", "py_version": "py3"}
SCRIPTS = support.SCRIPTS / "chainer"
HYPERPARAMETERS = {"epochs": 150, "lr": 0.01}


# ---------------------------------------------------------------------- the module, without an environment
@pytest.mark.parametrize(("tag", "version"), [
    ("5.0.0-cpu-py3", "5.0.0"), ("4.1.0-gpu-py2", "4.1.0"), ("4.0-cpu-py3", "4.0"), (None, None),
])
def test_every_chainer_image_runs_in_the_one_chainer_environment(tag, version):
    repository = "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-chainer"
    environment = resolve_environment(f"{repository}:{tag}" if tag else f"{repository}@sha256:{'cd' * 32}")
    assert (environment.name, environment.framework_version) == ("chainer", version)
    spec = environment.spec
    assert (spec.family, spec.framework_version, spec.display) == ("7", "7.8.1", "Chainer 7")
    assert spec.install_steps == (("numpy<1.24", "setuptools<70", "wheel"), ("--no-build-isolation", "chainer==7.8.1"))
    assert "using chainer 7.8.1" in spec.note


def test_an_unknown_chainer_version_is_refused_naming_the_versions():
    with pytest.raises(UnsupportedImageError, match=r"Chainer 6.0.0 is not a version .* \(4.0.0, 4.1.0, 5.0.0\)"):
        resolve_environment("520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-chainer:6.0.0-cpu-py3")


def test_the_default_input_and_output_functions_take_json_csv_and_npy():
    rows = chainer.default_input_fn("[[1, 2], [3, 4]]", "application/json")
    assert rows.dtype == np.float32 and rows.shape == (2, 2)
    assert chainer.default_input_fn("1,2\n3,4\n", "text/csv").dtype == np.float32
    npy = codecs.encode(np.arange(4, dtype=np.int64).reshape(2, 2), codecs.NPY)
    assert chainer.default_input_fn(npy, codecs.NPY).dtype == np.int64  # NPY keeps its dtype
    assert chainer.default_output_fn(np.array([[0.5, 1.5]]), "text/csv") == (b"0.5,1.5\n", "text/csv")
    with pytest.raises(ServingError) as refused:
        chainer.default_input_fn(b"x", "image/png")
    assert refused.value.status == 415
    with pytest.raises(ServingError) as refused:
        chainer.default_output_fn(np.zeros(2), "image/png")
    assert refused.value.status == 406
    assert chainer.serving_defaults().model_fn is None  # the container has no default model loader


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
    return support.Digits(tmp_path_factory.mktemp("digits"), client, "chainer-digits")


@pytest.fixture(scope="module")
def job(client, digits):
    return client.train(entry_point=str(SCRIPTS / "digits.py"), **FRAMEWORK, hyperparameters=HYPERPARAMETERS,
                        inputs={"train": digits.train_uri}, instance_type=support.INSTANCE_TYPE,
                        metric_definitions=support.METRICS, base_job_name="ch-digits", logs=False)


@pytest.fixture(scope="module")
def model(client, job):
    return client.create_model(training_job_name=job["TrainingJobName"], model_name="ch-digits",
                               instance_type=support.INSTANCE_TYPE)


@pytest.fixture(scope="module")
def endpoint(client, model):
    described = client.deploy(model_name=model["ModelName"], endpoint_name="ch-digits",
                              instance_type=support.INSTANCE_TYPE)
    yield described["EndpointName"]
    client.delete_endpoint(described["EndpointName"])


def test_the_network_trains_in_the_chainer_environment_and_is_saved_with_save_npz(runtime, client, job):
    described = client.describe_training_job(job["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Completed"
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-chainer:5.0.0-cpu-py3")
    metrics = {metric["MetricName"]: metric["Value"] for metric in described["FinalMetricDataList"]}
    assert metrics["train:accuracy"] > 0.95  # metric_definitions applied to the script's log
    seen = support.training_run(client, job)
    assert (seen["epochs"], seen["rows"]) == (150, 1500)  # hyperparameters as arguments
    assert seen["chainer"] == "7.8.1"  # the environment's chainer, whatever version the image names
    assert json.loads(seen["SM_HPS"]) == HYPERPARAMETERS
    assert seen["SM_CHANNEL_TRAIN"].endswith("/input/data/train")
    assert seen["SM_MODEL_DIR"].endswith("model") and seen["SM_CURRENT_HOST"] == "algo-1"
    with np.load(io.BytesIO(support.model_archive_member(client, job, "model.npz"))) as weights:
        assert weights["l1/W"].shape == (32, 64) and weights["l2/W"].shape == (10, 32)
    log = support.log_text(runtime, "/aws/sagemaker/TrainingJobs", job["TrainingJobName"])
    assert "using chainer 7.8.1" in log  # the job says which chainer runs a Chainer 5.0.0 image
    assert "train_accuracy=" in log


def test_the_model_is_served_by_the_chainer_image(client, model):
    described = client.sagemaker.describe_model(ModelName=model["ModelName"])
    assert described["PrimaryContainer"]["Image"].endswith("/sagemaker-chainer:5.0.0-cpu-py3")


@pytest.mark.parametrize("content_type", [codecs.JSON, codecs.CSV, codecs.NPY])
def test_the_default_handlers_predict_in_every_content_type(client, digits, endpoint, content_type):
    scores = client.predict(endpoint, digits.test_x, content_type=content_type, accept=content_type)
    assert scores.shape == (len(digits.test_y), 10)  # model(data): one score per class
    assert digits.accuracy(scores) > 0.9


def test_batch_transform_scores_every_line(client, digits, model):
    job = client.batch_transform(model_name=model["ModelName"], data=digits.batch_uri, content_type="text/csv",
                                 split_type="Line", accept="text/csv", instance_type=support.INSTANCE_TYPE,
                                 base_job_name="ch-digits-batch")
    assert job["TransformJobStatus"] == "Completed"
    output = support.read_s3(client, job["TransformOutput"]["S3OutputPath"].rstrip("/") + "/digits.csv.out")
    scores = np.loadtxt(io.StringIO(output.decode()), delimiter=",", ndmin=2)
    assert scores.shape == (len(digits.test_y), 10)
    assert digits.accuracy(scores) > 0.9


def test_a_payload_of_the_wrong_shape_is_a_model_error_with_chainers_message(runtime, client, digits, endpoint):
    with pytest.raises(InvocationError) as info:
        client.predict(endpoint, digits.test_x[:2, :60], content_type=codecs.JSON, accept=codecs.JSON)
    assert info.value.status == 500
    assert "Invalid operation is performed in: LinearFunction (Forward)" in info.value.message
    assert "x.shape[1] == W.shape[1]" in info.value.message
    with pytest.raises(ClientError) as raw:  # what boto3 sees: SageMaker Runtime's ModelError, a 4xx
        support.boto3_client(runtime, "sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, Body=b"1,2,3", ContentType="text/csv")
    assert raw.value.response["Error"]["Code"] == "ModelError"
    assert raw.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "LinearFunction" in raw.value.response["Error"]["Message"]
    scores = client.predict(endpoint, digits.test_x[:5], content_type=codecs.JSON, accept=codecs.JSON)
    assert scores.shape == (5, 10)  # the endpoint stays up


def test_an_unsupported_accept_type_is_a_406_naming_the_types(client, endpoint):
    with pytest.raises(InvocationError) as info:
        client.invoke(endpoint, json.dumps([[0.0] * 64]).encode(), content_type=codecs.JSON, accept="image/png")
    assert info.value.status == 406
    assert "application/x-npy, application/json, text/csv" in info.value.message


def test_an_unknown_framework_version_is_refused_by_the_client_and_by_the_runtime(client, digits):
    with pytest.raises(ConfigurationError, match="framework_version"):
        client.train(entry_point=str(SCRIPTS / "digits.py"), framework="chainer", framework_version="6.0.0",
                     py_version="py3", inputs={"train": digits.train_uri}, instance_type=support.INSTANCE_TYPE)
    image = "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-chainer:6.0.0-cpu-py3"
    failure = support.failed_job(client, image_uri=image, entry_point=str(SCRIPTS / "digits.py"),
                                 inputs={"train": digits.train_uri}, base_job_name="ch-unknown")
    expected = "Chainer 6.0.0 is not a version of SageMaker's Chainer images (4.0.0, 4.1.0, 5.0.0)"
    assert expected in failure.failure_reason


def test_a_script_that_imports_a_missing_package_fails_naming_it(client, digits):
    failure = support.failed_job(client, entry_point=str(SCRIPTS / "missing_package.py"), **FRAMEWORK,
                                 inputs={"train": digits.train_uri}, base_job_name="ch-missing")
    assert "No module named 'smflow_absent_package'" in failure.failure_reason


def test_a_script_without_model_fn_cannot_be_served_and_says_how_to_add_one(client, job):
    model = client.create_model(model_name="ch-no-model-fn", model_data=job["ModelArtifacts"]["S3ModelArtifacts"],
                                entry_point=str(SCRIPTS / "no_model_fn.py"), **FRAMEWORK,
                                instance_type=support.INSTANCE_TYPE)
    with pytest.raises(ResourceFailedError) as info:
        client.deploy(model_name=model["ModelName"], endpoint_name="ch-no-model-fn",
                      instance_type=support.INSTANCE_TYPE)
    assert "The Chainer model server has no default model loader" in info.value.failure_reason
    client.delete_endpoint("ch-no-model-fn")


def test_a_model_fn_that_raises_fails_the_deployment_and_leaves_a_serving_endpoint_up(client, job, endpoint):
    broken = client.create_model(model_name="ch-broken", model_data=job["ModelArtifacts"]["S3ModelArtifacts"],
                                 entry_point=str(SCRIPTS / "broken_model_fn.py"), **FRAMEWORK,
                                 instance_type=support.INSTANCE_TYPE)
    with pytest.raises(ResourceFailedError) as info:
        client.deploy(model_name=broken["ModelName"], endpoint_name="ch-broken", instance_type=support.INSTANCE_TYPE)
    assert "cannot load weights: model.npz was saved by another network" in info.value.failure_reason
    with pytest.raises(ResourceFailedError) as update:  # an update to it rolls back: the endpoint keeps serving
        client.deploy(model_name=broken["ModelName"], endpoint_name=endpoint, instance_type=support.INSTANCE_TYPE)
    assert "cannot load weights" in update.value.failure_reason
    assert client.describe_endpoint(endpoint)["EndpointStatus"] == "InService"
    assert client.predict(endpoint, np.zeros((1, 64), np.float32), content_type=codecs.JSON,
                          accept=codecs.JSON).shape == (1, 10)
    client.delete_endpoint("ch-broken")


def test_model_servers_are_forked_from_a_process_that_imported_chainer(client, job):
    """FORK_SAFE: the model server starts from the environment's fork server, chainer imported."""
    probe = client.create_model(model_name="ch-probe", model_data=job["ModelArtifacts"]["S3ModelArtifacts"],
                                entry_point=str(SCRIPTS / "process_probe.py"), **FRAMEWORK,
                                instance_type=support.INSTANCE_TYPE)
    endpoint = client.deploy(model_name=probe["ModelName"], endpoint_name="ch-probe",
                             instance_type=support.INSTANCE_TYPE)["EndpointName"]
    try:
        seen = json.loads(client.invoke(endpoint, b"{}", content_type=codecs.JSON)[0])
    finally:
        client.delete_endpoint(endpoint)
    assert seen["preloaded"] == sorted(["numpy", "chainer"])  # imported before the entry point was
    assert seen["parent"] != os.getpid()  # not started by the runtime (this process) itself
