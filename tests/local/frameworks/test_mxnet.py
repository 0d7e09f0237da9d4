"""MXNet images on the local runtime, without Docker, through the smflow client.

The contract is AWS's (aws/sagemaker-mxnet-inference-toolkit, the SageMaker Python SDK's MXNet
page, ``smflow.local.containers.frameworks.mxnet``): a Gluon script (``scripts/mxnet/
gluon_digits.py``, the shape of the SDK's Gluon example) trains on scikit-learn's digits in the
MXNet environment under ``sagemaker-training``, saves its parameters for its own ``model_fn``
and exports the symbol / params / shapes files for the default model_fn. The Gluon model answers
JSON and NPY (not CSV, as AWS's container); the exported model, loaded as a Module by the
default model_fn, answers JSON, CSV and NPY, with the same scores, and batch-transforms CSV.
Bad input: an unknown version, a missing package, a ``model_fn`` that raises, a ``predict_fn``
that raises, payloads of the wrong shape.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets
from smflow import naming
from smflow.client import SageMakerClient
from smflow.errors import ConfigurationError, InvocationError, ResourceFailedError
from smflow.image_uris import config_for_framework, retrieve
from smflow.local.containers.environments import (
    UnsupportedImageError,
    resolve_environment,
)
from smflow.local.containers.frameworks import mxnet
from smflow.local.containers.serving.handlers import ModelLoadError
from smflow.local.server import LocalRuntime
from smflow.waiting import Backoff

REGION = "us-east-1"
SCRIPTS = Path(__file__).parent / "scripts" / "mxnet"
VERSION, PY_VERSION = "1.9.0", "py38"
FRAMEWORK = {"framework": "mxnet", "framework_version": VERSION, "py_version": PY_VERSION}
ACCURACY = "train_accuracy=([0-9.]+)"
CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"


# -- the container contract, without a runtime ---------------------------------------------------


@pytest.mark.parametrize(("tag", "expected"), [
    ("1.9.0-cpu-py38", "1.9.0"),
    ("1.8.0-gpu-py37-cu110-ubuntu16.04", "1.8.0"),
    ("1.4.1-cpu-py3", "1.4.1"),
    ("1.9-cpu-py38", "1.9"),
    ("latest", None),
    (None, None),
])
def test_the_image_tag_names_the_version(tag, expected):
    assert mxnet.version(tag) == expected


@pytest.mark.parametrize(("image_version", "family", "installed", "note"), [
    ("1.9.0", "1.9", "1.9.1", "MXNet 1.9.0 images run with mxnet 1.9.1"),
    ("1.9", "1.9", "1.9.1", "MXNet 1.9.0 images run with mxnet 1.9.1"),
    ("1.8.0", "1.8", "1.8.0.post0", None),
    ("1.6.0", "1.6", "1.6.0", None),
    ("1.4.1", "1.5", "1.5.1.post0", "MXNet 1.4.1 does not install on this Python"),
    ("0.12.1", "1.5", "1.5.1.post0", "using MXNet 1.5.1.post0, the nearest version that does"),
    (None, "1.9", "1.9.1", "named by digest"),
])
def test_each_minor_version_has_its_environment_and_older_ones_the_nearest(image_version, family, installed, note):
    spec = mxnet.environment(image_version)
    assert (spec.framework, spec.family, spec.framework_version) == ("mxnet", family, installed)
    assert spec.display == f"MXNet {family}"
    assert spec.install_steps[0][0] == f"mxnet=={installed}" and "numpy==1.23.5" in spec.install_steps[0]
    assert (spec.note is None) if note is None else (note in spec.note)


def test_an_unknown_version_is_refused_with_the_versions_that_run():
    with pytest.raises(UnsupportedImageError) as info:
        mxnet.environment("1.5.9")
    assert "MXNet version '1.5.9' has no SageMaker MXNet image" in str(info.value)
    assert "1.4.1" in str(info.value) and "1.9.0" in str(info.value)


def test_every_image_of_the_registry_runs_in_an_mxnet_environment():
    config = config_for_framework("mxnet")
    for scope in ("training", "inference"):
        for version, entry in config[scope]["versions"].items():
            py_versions = entry.get("py_versions") or [key for key in entry if key.startswith("py")]
            uri = retrieve("mxnet", REGION, version, py_version=py_versions[-1], image_scope=scope,
                           instance_type="ml.m5.xlarge")
            environment = resolve_environment(uri)
            assert environment.name == "mxnet" and environment.framework_version == version, uri
            assert environment.spec.family in mxnet.RELEASES, uri


@pytest.mark.parametrize(("hyperparameters", "expected"), [
    ({}, ["-m", "sagemaker_training.cli.train"]),
    ({"sagemaker_parameter_server_enabled": "false"}, ["-m", "sagemaker_training.cli.train"]),
    ({"sagemaker_parameter_server_enabled": "true"},
     ["-m", "smflow.local.containers.frameworks.mxnet", "--parameter-server", "0", "0"]),
    ({"sagemaker_parameter_server_enabled": "true", "_ps_port": '"8123"', "_ps_verbose": "1"},
     ["-m", "smflow.local.containers.frameworks.mxnet", "--parameter-server", "8123", "1"]),
])
def test_the_parameter_server_hyperparameter_starts_the_launcher(hyperparameters, expected):
    assert mxnet.training_command("1.9.0", hyperparameters) == expected


def test_the_default_model_fn_names_the_files_it_needs(tmp_path):
    (tmp_path / "model.params").write_bytes(b"")
    with pytest.raises(ModelLoadError) as info:
        mxnet.default_model_fn(str(tmp_path))
    message = str(info.value)
    assert "missing: model-symbol.json, model-0000.params, model-shapes.json" in message
    assert "it holds: model.params" in message and "define model_fn(model_dir)" in message


def test_model_shapes_set_the_batch_size(tmp_path):
    shapes = tmp_path / "model-shapes.json"
    shapes.write_text(json.dumps([{"name": "data", "shape": [100, 1, 28, 28]}]))
    assert mxnet.read_data_shapes(str(shapes)) == (["data"], [("data", [1, 1, 28, 28])])
    shapes.write_text(json.dumps({"data": [1, 4]}))
    with pytest.raises(ModelLoadError, match="must be a JSON list"):
        mxnet.read_data_shapes(str(shapes))


# -- train, deploy, predict and transform on a local runtime --------------------------------------


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    with LocalRuntime(state_dir=tmp_path_factory.mktemp("state"), port=0) as local_runtime:
        yield local_runtime


@pytest.fixture(scope="module")
def client(runtime):
    return SageMakerClient(endpoint_url=runtime.url, backoff=Backoff(initial=0.1, factor=1.2, maximum=1.0),
                           log=lambda line: None)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits, pixels scaled to [0, 1]: (train features, labels, test features, labels)."""
    data = datasets.load_digits()
    features, labels = (data.data / 16.0).astype("float32"), data.target
    return features[:1500], labels[:1500], features[1500:], labels[1500:]


@pytest.fixture(scope="module")
def digits_data(client, digits, tmp_path_factory) -> str:
    """The training rows in S3 (``digits.csv``: label, then the 64 pixels)."""
    train_x, train_y, _, _ = digits
    folder = tmp_path_factory.mktemp("digits") / "train"
    folder.mkdir()
    np.savetxt(folder / "digits.csv", np.column_stack([train_y, train_x]), delimiter=",", fmt="%.6g")
    return client.upload_data(folder, key_prefix="mxnet/digits")


@pytest.fixture(scope="module")
def digits_job(client, digits_data):
    data = digits_data
    return client.train(entry_point=str(SCRIPTS / "gluon_digits.py"), **FRAMEWORK,
                        hyperparameters={"epochs": 10, "lr": 0.01}, inputs={"train": data},
                        metric_definitions=[{"Name": "train:accuracy", "Regex": ACCURACY}],
                        base_job_name="mxnet-digits", logs=False)


def test_parameter_server_training_runs_the_script_as_a_worker(runtime, client, digits_data):
    job = client.train(entry_point="parameter_server.py", source_dir=str(SCRIPTS), **FRAMEWORK,
                       hyperparameters={"epochs": 5}, inputs={"train": digits_data},
                       distribution={"parameter_server": {"enabled": True}}, base_job_name="mxnet-ps", logs=False)
    assert job["TrainingJobStatus"] == "Completed"
    log = _log_text(runtime, "/aws/sagemaker/TrainingJobs", job["TrainingJobName"])
    assert "Starting the MXNet parameter server on 127.0.0.1:" in log
    assert "kvstore=dist_sync role=worker rank=0 workers=1" in log
    assert float(log.split("train_accuracy=")[1].split()[0]) >= 0.9


def _deploy(client, job, prefix: str, entry_point: str | None = None, **model_arguments):
    if entry_point is not None:
        model_arguments.update(entry_point=entry_point, source_dir=str(SCRIPTS))
    name = naming.timestamped_name(prefix)
    model = client.create_model(training_job_name=job["TrainingJobName"], model_name=name, **model_arguments)
    client.deploy(model_name=model["ModelName"], endpoint_name=name)
    return model["ModelName"], name


@pytest.fixture(scope="module")
def gluon_endpoint(client, digits_job):
    """The training job's script serves: its model_fn returns the Gluon net."""
    _, name = _deploy(client, digits_job, "mxnet-gluon")
    yield name
    client.delete_endpoint(name)


@pytest.fixture(scope="module")
def module_model(client, digits_job):
    """An entry point without serving functions: the default model_fn loads the exported files as
    a Module. Returns (model name, endpoint name)."""
    model_name, name = _deploy(client, digits_job, "mxnet-module", "defaults_only.py", model_server_workers=4)
    yield model_name, name
    client.delete_endpoint(name)


def _log_text(runtime, group: str, prefix: str) -> str:
    from smflow.local.support.aws import LocalAws

    logs = LocalAws(runtime.url, REGION).client("logs")
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)["logStreams"]
    return "\n".join(event["message"] for stream in streams
                     for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                                      startFromHead=True)["events"])


def test_the_gluon_script_trains_in_the_mxnet_environment(runtime, client, digits_job):
    assert digits_job["TrainingJobStatus"] == "Completed"
    image = digits_job["AlgorithmSpecification"]["TrainingImage"]
    assert image.endswith(".amazonaws.com/mxnet-training:1.9.0-cpu-py38")
    bucket, _, key = digits_job["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
    archive = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = {Path(name).name for name in tar.getnames()}
    assert {"model.params", "model-symbol.json", "model-0000.params", "model-shapes.json"} <= names
    log = _log_text(runtime, "/aws/sagemaker/TrainingJobs", digits_job["TrainingJobName"])
    accuracy = float(log.split("train_accuracy=")[1].split()[0])
    assert accuracy >= 0.95
    assert "MXNet 1.9.0 images run with mxnet 1.9.1" in log  # the environment's note


def test_the_gluon_model_answers_json_and_npy(client, digits, gluon_endpoint):
    _, _, test_x, test_y = digits
    scores = client.predict(gluon_endpoint, test_x, content_type=JSON, accept=JSON)
    assert scores.shape == (len(test_x), 10)
    assert (scores.argmax(axis=1) == test_y).mean() >= 0.9
    from_npy = client.predict(gluon_endpoint, test_x, content_type=NPY, accept=NPY)
    np.testing.assert_allclose(from_npy, scores, rtol=1e-5, atol=1e-5)


def test_the_gluon_model_refuses_csv_as_aws_container_does(client, digits, gluon_endpoint):
    _, _, test_x, _ = digits
    with pytest.raises(InvocationError) as refused_input:
        client.predict(gluon_endpoint, test_x[:2], content_type=CSV, accept=JSON)
    assert refused_input.value.status == 415
    assert "'text/csv' is not supported by the default input_fn" in refused_input.value.message
    assert "application/json, application/x-npy" in refused_input.value.message
    with pytest.raises(InvocationError) as refused_output:
        client.predict(gluon_endpoint, test_x[:2], content_type=JSON, accept=CSV)
    assert refused_output.value.status == 415 and "output_fn" in refused_output.value.message


def test_the_default_model_fn_serves_the_exported_model_as_json_csv_and_npy(client, digits, gluon_endpoint,
                                                                              module_model):
    _, _, test_x, test_y = digits
    _, endpoint = module_model
    reference = client.predict(gluon_endpoint, test_x, content_type=JSON, accept=JSON)
    for content_type in (JSON, CSV, NPY):
        for accept in (JSON, CSV, NPY):
            scores = client.predict(endpoint, test_x, content_type=content_type, accept=accept)
            assert scores.shape == (len(test_x), 10), (content_type, accept)
            np.testing.assert_allclose(scores, reference, rtol=1e-4, atol=1e-4, err_msg=f"{content_type} -> {accept}")
    assert (reference.argmax(axis=1) == test_y).mean() >= 0.9


def test_concurrent_requests_each_get_their_own_answer(client, digits, module_model):
    """MXNet is not thread-safe (a Module's executor holds one batch): the model server must not
    run two requests in MXNet at once, even with several workers."""
    _, _, test_x, _ = digits
    _, endpoint = module_model
    rows = test_x[:16]
    expected = [client.predict(endpoint, row[None, :], content_type=JSON, accept=JSON) for row in rows]

    def ask(index: int) -> bool:
        answer = client.predict(endpoint, rows[index % 16][None, :], content_type=JSON, accept=JSON)
        return bool(np.allclose(answer, expected[index % 16], atol=1e-5))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(400)))
    assert answers.count(False) == 0, f"{answers.count(False)} of {len(answers)} answers were another row's"


def test_batch_transform_of_the_exported_model(client, digits, module_model, gluon_endpoint, tmp_path):
    _, _, test_x, _ = digits
    model_name, _ = module_model
    folder = tmp_path / "batch"
    folder.mkdir()
    np.savetxt(folder / "digits-features.csv", test_x, delimiter=",", fmt="%.6g")
    data = client.upload_data(folder, key_prefix="mxnet/batch-input")
    job = client.batch_transform(model_name=model_name, data=data, content_type=CSV, accept=CSV,
                                 split_type="Line", base_job_name="mxnet-transform")
    assert job["TransformJobStatus"] == "Completed"
    output = job["TransformOutput"]["S3OutputPath"].rstrip("/") + "/digits-features.csv.out"
    bucket, _, key = output[5:].partition("/")
    body = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    scores = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2)
    reference = client.predict(gluon_endpoint, np.loadtxt(folder / "digits-features.csv", delimiter=","),
                               content_type=JSON, accept=JSON)
    np.testing.assert_allclose(scores, reference, rtol=1e-4, atol=1e-4)


def test_input_fn_with_a_model_argument_gets_the_module(client, digits_job, digits, gluon_endpoint):
    _, _, test_x, _ = digits
    _, endpoint = _deploy(client, digits_job, "mxnet-input-fn", "module_input_fn.py")
    try:
        body, content_type = client.invoke(
            endpoint, json.dumps({"images": test_x.reshape(-1, 8, 8).tolist()}).encode(),
            content_type="application/vnd+digits-images", accept=JSON)
        reference = client.predict(gluon_endpoint, test_x, content_type=JSON, accept=JSON)
        assert content_type == JSON
        np.testing.assert_allclose(np.asarray(json.loads(body)), reference, rtol=1e-4, atol=1e-4)
    finally:
        client.delete_endpoint(endpoint)


def test_transform_fn_gets_the_default_model_fn_module(client, digits_job, digits):
    _, _, test_x, test_y = digits
    _, endpoint = _deploy(client, digits_job, "mxnet-transform-fn", "transform_classes.py")
    try:
        body, _ = client.invoke(endpoint, json.dumps(test_x.tolist()).encode(), content_type=JSON)
        classes = np.asarray(json.loads(body)["classes"])
        assert classes.shape == test_y.shape and (classes == test_y).mean() >= 0.9
    finally:
        client.delete_endpoint(endpoint)


def test_a_payload_of_the_wrong_shape_answers_with_mxnet_message(runtime, client, digits, gluon_endpoint,
                                                                 module_model):
    _, _, test_x, _ = digits
    _, module_endpoint = module_model
    sagemaker_runtime = client.runtime
    for endpoint in (gluon_endpoint, module_endpoint):
        with pytest.raises(sagemaker_runtime.exceptions.ModelError) as info:
            sagemaker_runtime.invoke_endpoint(EndpointName=endpoint, ContentType=JSON, Accept=JSON,
                                              Body=json.dumps(test_x[:2, :10].tolist()))
        error = info.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert error["OriginalStatusCode"] == 500
        assert "MXNetError" in error["OriginalMessage"] and "hape" in error["OriginalMessage"], error
        # the endpoint goes on answering
        assert client.predict(endpoint, test_x[:1], content_type=JSON, accept=JSON).shape == (1, 10)


def test_a_predict_fn_error_is_a_model_error_and_the_endpoint_stays_up(client, digits_job, digits):
    _, _, test_x, test_y = digits
    _, endpoint = _deploy(client, digits_job, "mxnet-refusing", "refusing_predict.py")
    try:
        with pytest.raises(client.runtime.exceptions.ModelError) as info:
            client.runtime.invoke_endpoint(EndpointName=endpoint, ContentType=JSON,
                                           Body=json.dumps((-test_x[:1]).tolist()))
        assert "ValueError: pixel values must be in [0, 1], got -1.0" in info.value.response["OriginalMessage"]
        assert client.describe_endpoint(endpoint)["EndpointStatus"] == "InService"
        scores = client.predict(endpoint, test_x, content_type=NPY, accept=JSON)
        assert (scores.argmax(axis=1) == test_y).mean() >= 0.9
    finally:
        client.delete_endpoint(endpoint)


def test_a_model_fn_that_raises_fails_the_endpoint_with_its_message(client, digits_job):
    with pytest.raises(ResourceFailedError) as info:
        _deploy(client, digits_job, "mxnet-broken", "broken_model_fn.py")
    assert info.value.status == "Failed"
    assert "cannot load weights: model.params is truncated" in info.value.failure_reason
    client.delete_endpoint(info.value.name)


def test_an_unknown_framework_version_is_refused(client):
    with pytest.raises(ConfigurationError, match="framework_version '1.5.9' is not available"):
        client.train(entry_point=str(SCRIPTS / "gluon_digits.py"), framework="mxnet", framework_version="1.5.9",
                     py_version=PY_VERSION, wait=False)
    image = retrieve("mxnet", REGION, VERSION, py_version=PY_VERSION, image_scope="training",
                     instance_type="ml.m5.xlarge").replace(":1.9.0-", ":1.5.9-")
    with pytest.raises(ResourceFailedError) as info:
        client.train(entry_point=str(SCRIPTS / "gluon_digits.py"), image_uri=image, base_job_name="mxnet-unknown",
                     logs=False)
    assert "MXNet version '1.5.9' has no SageMaker MXNet image" in info.value.failure_reason
    assert "1.9.0" in info.value.failure_reason


def test_a_script_importing_a_missing_package_names_it(client):
    with pytest.raises(ResourceFailedError) as info:
        client.train(entry_point=str(SCRIPTS / "missing_package.py"), **FRAMEWORK, base_job_name="mxnet-missing",
                     logs=False)
    assert "No module named 'gluonts'" in info.value.failure_reason
