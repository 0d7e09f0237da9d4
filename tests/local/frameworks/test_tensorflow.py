"""TensorFlow images on the local runtime (``smflow.local.containers.frameworks.tensorflow``).

The first part checks the contract's pure pieces (image tags, the environment chosen for a
version, the TensorFlow Serving container's request conversion and model layout); it needs no
TensorFlow. The second part runs the real thing through the smflow client against a local
runtime: a Keras script trained in script mode on scikit-learn's Iris (SavedModel export to
``SM_MODEL_DIR/1``), served by the TensorFlow Serving contract (JSON, CSV, JSON Lines, the
``tfs-method`` header, ``inference.py`` handlers), batch transform, and the bad inputs. The
TensorFlow environment is built once (``SMFLOW_ENVIRONMENTS_DIR`` is shared by the session).
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from smflow import image_uris
from smflow.errors import InvocationError, ResourceFailedError
from smflow.local.containers import environments
from smflow.local.containers.environments import UnsupportedImageError
from smflow.local.containers.frameworks import tensorflow as tf_contract
from smflow.local.containers.serving.handlers import ServingError

SCRIPTS = Path(__file__).resolve().parent / "scripts" / "tensorflow"
VERSION = "2.19"  # smflow's default TensorFlow version: one environment for every test here
PY_VERSION = "py312"


# ------------------------------------------------------------------------------ pure pieces
@pytest.mark.parametrize("tag, expected", [
    ("2.19.0-cpu-py312", "2.19.0"),
    ("2.13-cpu-py310", "2.13"),
    ("2.13.0-cpu", "2.13.0"),
    ("2.14.1-gpu-py310-cu118-ubuntu20.04-sagemaker", "2.14.1"),
    ("1.12.0-cpu-py3", "1.12.0"),
    ("latest", None),
    (None, None),
])
def test_the_version_comes_from_the_image_tag(tag, expected):
    assert tf_contract.version(tag) == expected


def test_the_repositories_of_the_sdk_registry_are_claimed():
    image = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.19.0-cpu"
    assert environments.resolve_environment(image).name == "tensorflow"
    legacy = "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow-serving:1.12.0-cpu"
    assert environments.resolve_environment(legacy).name == "tensorflow"


def test_an_installable_version_gets_its_family_newest_release():
    spec = tf_contract.environment("2.19.0")
    assert (spec.framework, spec.family, spec.display) == ("tensorflow", "2.19", "TensorFlow 2.19")
    assert spec.install_steps[0][0] == f"tensorflow-cpu=={spec.framework_version}"
    assert spec.framework_version.startswith("2.19.")
    assert spec.framework_version in tf_contract.installable_versions()
    assert ("--no-deps", tf_contract.TRAINING_TOOLKIT) in spec.install_steps
    family_only = tf_contract.environment("2.19")  # the same environment, and nothing to say
    assert (family_only.framework_version, family_only.install_steps, family_only.note) == \
        (spec.framework_version, spec.install_steps, None)


def test_a_version_without_a_wheel_for_this_python_uses_the_nearest_and_says_so():
    oldest = tf_contract.installable_versions()[-1]
    spec = tf_contract.environment("1.15.5")
    assert spec.family == ".".join(oldest.split(".")[:2])
    assert "1.15.5 does not install on Python" in spec.note and spec.framework_version in spec.note


def test_an_unknown_version_is_refused_naming_the_versions_that_exist():
    with pytest.raises(UnsupportedImageError) as error:
        tf_contract.environment("9.9.9")
    assert "'9.9.9'" in str(error.value) and "2.19.0" in str(error.value) and "framework_version" in str(error.value)
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:9.9.9-cpu-py310"
    with pytest.raises(UnsupportedImageError):
        environments.resolve_environment(image)


def test_an_image_by_digest_gets_the_newest_version():
    spec = tf_contract.environment(None)
    assert spec.framework_version == tf_contract.installable_versions()[0] and "digest" in spec.note


@pytest.mark.parametrize("body, content_type, expected", [
    ('{"instances": [[1, 2]]}', "application/json", {"instances": [[1, 2]]}),
    ('{"inputs": {"x": [1]}}', "application/json", {"inputs": {"x": [1]}}),
    ("[1, 2, 3, 4]", "application/json", {"instances": [[1, 2, 3, 4]]}),
    ("[[1, 2], [3, 4]]", "application/json", {"instances": [[1, 2], [3, 4]]}),
    ('{"x": 1}', "application/json", {"instances": [{"x": 1}]}),
    ("[1, 2]\n[3, 4]\n", "application/jsonlines", {"instances": [[1, 2], [3, 4]]}),
    ('{"x": 1}\n{"x": 2}', "application/jsonlines", {"instances": [{"x": 1}, {"x": 2}]}),
    ("1,2.5\n3,4e1\n", "text/csv", {"instances": [[1, 2.5], [3, 40.0]]}),
    ("7\n8\n", "text/csv", {"instances": [7, 8]}),
    ("a,b\n", "text/csv", {"instances": [["a", "b"]]}),
    ("a,1\nb,2\n", "text/csv", {"instances": [["a", "1"], ["b", "2"]]}),
])
def test_requests_are_converted_as_the_containers_nginx_module_does(body, content_type, expected):
    assert json.loads(tf_contract.to_tfs_request(body, content_type)) == expected


def test_other_content_types_answer_415():
    with pytest.raises(ServingError) as error:
        tf_contract.to_tfs_request("x", "application/x-npy")
    assert error.value.status == 415 and "Unsupported Media Type: application/x-npy" in str(error.value)


def test_custom_attributes_name_the_model_version_and_method():
    header = "tfs-model-name=iris,tfs-model-version=2, tfs-method=classify,other=1"
    assert tf_contract.parse_custom_attributes(header) == {
        "tfs-model-name": "iris", "tfs-model-version": "2", "tfs-method": "classify"}
    assert tf_contract.parse_custom_attributes(None) == {}


def test_savedmodels_are_found_in_both_layouts(tmp_path):
    for folder in ("1", "code/ignored", "iris/1", "iris/00002", "other/3"):
        (tmp_path / folder).mkdir(parents=True)
    for folder in ("iris/1", "iris/00002", "other/3"):
        (tmp_path / folder / "saved_model.pb").write_bytes(b"")
    found = tf_contract.find_models(str(tmp_path))
    assert {name: sorted(versions) for name, versions in found.items()} == {"iris": [1, 2], "other": [3]}
    top = tmp_path / "top"
    (top / "5").mkdir(parents=True)
    (top / "5" / "saved_model.pb").write_bytes(b"")
    assert tf_contract.find_models(str(top)) == {"model": {5: str(top / "5")}}


def test_no_savedmodel_in_a_numbered_folder_is_a_clear_load_error(tmp_path):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(tf_contract.ModelLoadError) as error:
        tf_contract.TfsModels(str(tmp_path))
    assert "No SavedModel bundles" in str(error.value) and "export" in str(error.value)


# ------------------------------------------------------------------ through the local runtime
SPECIES = ["setosa", "versicolor", "virginica"]
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
METRICS = [{"Name": "train:accuracy", "Regex": "final accuracy=([0-9.]+);"}]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """A real local runtime (S3, CloudWatch Logs, SageMaker) on a free port."""
    from smflow.local.server import LocalRuntime

    server = LocalRuntime(tmp_path_factory.mktemp("state"), deployment_timeout=180)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(local):
    from smflow.client import SageMakerClient
    from smflow.waiting import Backoff

    return SageMakerClient(endpoint_url=local.url, backoff=Backoff(initial=0.2, factor=1.3, maximum=2.0),
                           log=lambda line: None)


@pytest.fixture(scope="module")
def iris(client, tmp_path_factory):
    """scikit-learn's Iris: the training CSV (label first) and the batch input (features only)."""
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    root = tmp_path_factory.mktemp("iris")
    (root / "train").mkdir()
    (root / "batch").mkdir()
    np.savetxt(root / "train" / "iris.csv", np.column_stack([labels, features]), delimiter=",", fmt="%g")
    np.savetxt(root / "batch" / "features.csv", features, delimiter=",", fmt="%g")
    return {
        "train": client.upload_data(str(root / "train"), key_prefix="tf-tests/train"),
        "batch": client.upload_data(str(root / "batch"), key_prefix="tf-tests/batch"),
        "features": features,
        "labels": labels,
    }


def _train(client, iris, entry_point: str, **arguments) -> dict:
    return client.train(
        entry_point=str(SCRIPTS / entry_point), framework="tensorflow", framework_version=VERSION,
        py_version=PY_VERSION, inputs={"train": iris["train"]}, logs=False, timeout=1800, **arguments,
    )


@pytest.fixture(scope="module")
def keras_job(client, iris):
    """The seed's shape: a Keras script in script mode, exported as a SavedModel to SM_MODEL_DIR/1."""
    return _train(client, iris, "train_keras.py", hyperparameters={"epochs": 60, "learning-rate": 0.05},
                  metric_definitions=METRICS, base_job_name="tf-keras")


@pytest.fixture(scope="module")
def endpoint(client, keras_job):
    model = client.create_model(training_job_name=keras_job["TrainingJobName"], model_name="tf-keras-model")
    name = client.deploy(model_name=model["ModelName"], endpoint_name="tf-keras")["EndpointName"]
    yield name
    client.delete_endpoint(name)


def _accuracy(scores, labels) -> float:
    return float((np.asarray(scores).argmax(axis=1) == np.asarray(labels)).mean())


def _training_log(local, job_name: str) -> str:
    import boto3

    logs = boto3.client("logs", endpoint_url=local.url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job_name)["logStreams"]
    return "\n".join(event["message"] for stream in streams for event in logs.get_log_events(
        logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)["events"])


def test_keras_trains_in_script_mode_and_exports_a_savedmodel(client, local, keras_job):
    description = client.describe_training_job(keras_job["TrainingJobName"])
    assert description["TrainingJobStatus"] == "Completed"
    image = description["AlgorithmSpecification"]["TrainingImage"]
    assert "/tensorflow-training:2.19-cpu-py312" in image
    # The SDK's model_dir (an S3 URI) reaches the script as --model_dir, as in AWS's container.
    model_dir = json.loads(description["HyperParameters"]["model_dir"])
    assert model_dir.startswith("s3://") and model_dir.endswith(f"/{keras_job['TrainingJobName']}/model")
    log = _training_log(local, keras_job["TrainingJobName"])
    assert f'model_dir hyperparameter: "{model_dir}"' in log
    bucket, _, key = description["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
    with tarfile.open(fileobj=io.BytesIO(client.s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        names = archive.getnames()
    assert any(name.lstrip("./") == "1/saved_model.pb" for name in names), names


def test_the_endpoint_answers_tfs_json_csv_and_json_lines(client, endpoint, iris):
    features, labels = iris["features"], iris["labels"]
    body, content_type = client.invoke(endpoint, json.dumps({"instances": features.tolist()}).encode(),
                                       content_type="application/json", accept="application/json")
    assert content_type.startswith("application/json")
    assert _accuracy(json.loads(body)["predictions"], labels) > 0.9

    columnar, _ = client.invoke(endpoint, json.dumps({"inputs": features[:3].tolist()}).encode(),
                                content_type="application/json")
    assert np.asarray(json.loads(columnar)["outputs"]).shape == (3, 3)

    bare, _ = client.invoke(endpoint, json.dumps(features[0].tolist()).encode(), content_type="application/json")
    assert np.asarray(json.loads(bare)["predictions"]).shape == (1, 3)

    csv_body = "\n".join(",".join(f"{value:g}" for value in row) for row in features) + "\n"
    answer, _ = client.invoke(endpoint, csv_body.encode(), content_type="text/csv")
    assert _accuracy(json.loads(answer)["predictions"], labels) > 0.9

    lines = "\n".join(json.dumps(row) for row in features[:5].tolist())
    answer, content_type = client.invoke(endpoint, lines.encode(), content_type="application/jsonlines",
                                         accept="application/jsonlines")
    assert content_type.startswith("application/jsonlines")
    assert np.asarray(json.loads(answer)["predictions"]).shape == (5, 3)


def test_the_tfs_method_header_is_answered_from_the_signatures(client, endpoint, iris):
    request = json.dumps({"instances": iris["features"][:2].tolist()}).encode()
    answer, _ = client.invoke(endpoint, request, content_type="application/json",
                              custom_attributes="tfs-method=predict")
    assert len(json.loads(answer)["predictions"]) == 2
    # A Keras export has a predict signature only: TensorFlow Serving refuses classify with a 400.
    with pytest.raises(InvocationError) as error:
        client.invoke(endpoint, request, content_type="application/json", custom_attributes="tfs-method=classify")
    assert error.value.status == 400
    assert "Expected classification signature method_name to be tensorflow/serving/classify" in error.value.message
    with pytest.raises(InvocationError) as error:
        client.invoke(endpoint, request, content_type="application/json", custom_attributes="tfs-model-name=nope")
    assert error.value.status == 404 and "Servable not found for request: Latest(nope)" in error.value.message


def test_a_payload_of_the_wrong_shape_answers_400_with_tensorflows_message(client, endpoint, iris):
    with pytest.raises(InvocationError) as error:
        client.invoke(endpoint, json.dumps({"instances": [[1.0, 2.0, 3.0]]}).encode(), content_type="application/json")
    assert error.value.status == 400
    assert "incompatible" in error.value.message or "shape" in error.value.message.lower(), error.value.message
    with pytest.raises(InvocationError) as error:
        client.invoke(endpoint, b"\x93NUMPY", content_type="application/x-npy")
    assert error.value.status == 415
    # The endpoint is still up.
    answer, _ = client.invoke(endpoint, json.dumps([iris["features"][0].tolist()]).encode(),
                              content_type="application/json")
    assert "predictions" in json.loads(answer)


def test_batch_transform_uses_the_same_model_server(client, keras_job, iris):
    model = client.create_model(training_job_name=keras_job["TrainingJobName"], model_name="tf-keras-batch")
    job = client.batch_transform(model_name=model["ModelName"], data=iris["batch"], content_type="text/csv",
                                 split_type="Line", batch_strategy="MultiRecord", max_payload_mb=1,
                                 base_job_name="tf-batch", timeout=900)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    output = job["TransformOutput"]["S3OutputPath"].rstrip("/") + "/features.csv.out"
    bucket, _, key = output[5:].partition("/")
    text = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    scores = [row for line in text.splitlines() if line.strip() for row in json.loads(line)["predictions"]]
    assert len(scores) == len(iris["labels"])
    assert _accuracy(scores, iris["labels"]) > 0.9


def test_inference_script_input_and_output_handlers(client, keras_job, iris):
    model = client.create_model(training_job_name=keras_job["TrainingJobName"], model_name="tf-handlers",
                                entry_point=str(SCRIPTS / "handlers" / "inference.py"))
    name = client.deploy(model_name=model["ModelName"], endpoint_name="tf-handlers")["EndpointName"]
    try:
        rows = "\n".join(" ".join(f"{value:g}" for value in row) for row in iris["features"][[0, 60, 120]])
        body, _ = client.invoke(name, rows.encode(), content_type="application/x-iris",
                                           accept="application/json", custom_attributes="tfs-method=predict")
        answer = json.loads(body)
        assert answer["species"] == ["setosa", "versicolor", "virginica"]
        assert (answer["content_type"], answer["accept"], answer["method"]) == \
            ("application/x-iris", "application/json", "predict")
        assert answer["rest_uri"].endswith("/v1/models/model:predict")
        # A handler that raises: a ModelError with its message, and the endpoint stays up.
        with pytest.raises(InvocationError) as error:
            client.invoke(name, b"boom", content_type="application/x-iris")
        assert error.value.status == 500 and "boom: input_handler refused the request" in error.value.message
        body, _ = client.invoke(name, json.dumps({"instances": iris["features"][:1].tolist()}).encode(),
                                content_type="application/json")
        assert json.loads(body)["species"] == ["setosa"]
    finally:
        client.delete_endpoint(name)


def test_inference_script_handler_posts_to_the_rest_api_itself(client, keras_job, iris):
    model = client.create_model(training_job_name=keras_job["TrainingJobName"], model_name="tf-handler",
                                entry_point=str(SCRIPTS / "handler" / "inference.py"))
    name = client.deploy(model_name=model["ModelName"], endpoint_name="tf-handler")["EndpointName"]
    try:
        body, content_type = client.invoke(name, json.dumps(iris["features"].tolist()).encode(),
                                           content_type="application/json")
        assert content_type.startswith("text/csv")
        classes = [int(line) for line in body.decode().split()]
        assert float((np.asarray(classes) == iris["labels"]).mean()) > 0.9
    finally:
        client.delete_endpoint(name)


def test_a_script_importing_a_missing_package_fails_naming_it(client, iris):
    job = client.train(
        entry_point=str(SCRIPTS / "missing_package.py"), framework="tensorflow", framework_version=VERSION,
        py_version=PY_VERSION, inputs={"train": iris["train"]}, logs=False, timeout=1800, wait=False,
        base_job_name="tf-missing",
    )
    with pytest.raises(ResourceFailedError):
        client.wait_for_training_job(job["TrainingJobName"], logs=False, timeout=1800)
    description = client.describe_training_job(job["TrainingJobName"])
    assert description["TrainingJobStatus"] == "Failed"
    assert "No module named 'iris_feature_store_client'" in description["FailureReason"]


def test_an_unknown_framework_version_fails_with_the_versions_that_exist(client, iris):
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:9.9.9-cpu-py310"
    job = client.train(entry_point=str(SCRIPTS / "train_keras.py"), image_uri=image, inputs={"train": iris["train"]},
                       logs=False, wait=False, base_job_name="tf-unknown")
    with pytest.raises(ResourceFailedError):
        client.wait_for_training_job(job["TrainingJobName"], logs=False, timeout=300)
    description = client.describe_training_job(job["TrainingJobName"])
    assert description["TrainingJobStatus"] == "Failed"
    assert "TensorFlow version '9.9.9'" in description["FailureReason"]
    assert "2.19.0" in description["FailureReason"]


def test_a_savedmodel_without_a_serving_signature_fails_the_endpoint(client, keras_job, tmp_path):
    from smflow.local.containers.environments import ensure_environment

    python = ensure_environment(tf_contract.environment("2.19.0"))
    subprocess.run([python, str(SCRIPTS / "no_signature.py"), str(tmp_path / "model")], check=True,
                   capture_output=True, timeout=300)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "model" / "1", arcname="1")
    uri = client.upload_data(str(archive), key_prefix="tf-tests/no-signature")
    # boto3's create_model: the client's create_model asks for an entry point with model_data.
    image = image_uris.retrieve("tensorflow", region="us-east-1", version=VERSION, image_scope="inference",
                                instance_type="ml.m5.large")
    model = client.sagemaker.create_model(ModelName="tf-no-signature", ExecutionRoleArn=ROLE,
                                          PrimaryContainer={"Image": image, "ModelDataUrl": uri})
    model = {"ModelName": "tf-no-signature", **model}
    with pytest.raises(ResourceFailedError):
        client.deploy(model_name=model["ModelName"], endpoint_name="tf-no-signature")
    description = client.describe_endpoint("tf-no-signature")
    assert description["EndpointStatus"] == "Failed"
    assert "has no serving signature" in description["FailureReason"]
    client.delete_endpoint("tf-no-signature")
