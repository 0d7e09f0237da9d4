"""Endpoint hosting (smflow.local.executors.hosting.Deployment) with real model-server processes.

S3 is moto's server on 127.0.0.1, reached through LocalAws like the runtime's own executors.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import tarfile
from pathlib import Path

import boto3
import numpy as np
import pytest

from smflow.local.support.aws import LocalAws
from smflow.local.executors.hosting import Deployment, ModelServerError, VariantNotFoundError
from smflow.local.server import LocalRuntime

_SUPPORT_PATH = Path(__file__).resolve().parents[2] / "serving_scripts" / "support.py"
_spec = importlib.util.spec_from_file_location("smflow_serving_test_support", _SUPPORT_PATH)
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)

BUCKET = "hosting-tests"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A real local runtime (S3, CloudWatch Logs, SageMaker API) on a free port."""
    server = LocalRuntime(tmp_path_factory.mktemp("state"), deployment_timeout=60)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws(runtime):
    local_aws = LocalAws(runtime.url)
    local_aws.client("s3").create_bucket(Bucket=BUCKET)
    return local_aws


@pytest.fixture(scope="module")
def s3(aws):
    return aws.client("s3")


@pytest.fixture(scope="module")
def iris_artifacts(tmp_path_factory, s3):
    """model.tar.gz = model.joblib + code/scikit_learn_iris.py (code packed with the model)."""
    root = tmp_path_factory.mktemp("iris")
    model = support.train_iris_model(root / "model")
    support.copy_script("scikit_learn_iris.py", root / "model" / "code")
    uri = support.upload(
        s3, support.make_tar_gz(root / "model", root / "model.tar.gz"), BUCKET, "iris/model.tar.gz"
    )
    return model, uri


@pytest.fixture(scope="module")
def whoami_artifacts(tmp_path_factory, s3):
    """A model.tar.gz with one data file, and whoami.py in an S3 sourcedir.tar.gz."""
    root = tmp_path_factory.mktemp("whoami")
    (root / "model").mkdir()
    (root / "model" / "weights.bin").write_bytes(b"\x00" * 16)
    model_uri = support.upload(
        s3, support.make_tar_gz(root / "model", root / "model.tar.gz"), BUCKET, "whoami/model.tar.gz"
    )
    support.copy_script("whoami.py", root / "source")
    source_uri = support.upload(
        s3, support.make_tar_gz(root / "source", root / "sourcedir.tar.gz"), BUCKET, "whoami/sourcedir.tar.gz"
    )
    return model_uri, source_uri


def _variant(name: str, model_name: str, count: int = 1, weight: float = 1.0) -> dict:
    return {
        "VariantName": name,
        "ModelName": model_name,
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": weight,
    }


def _whoami_model(name: str, artifacts, color: str = "blue") -> dict:
    model_uri, source_uri = artifacts
    return support.model_description(
        name,
        model_uri,
        {"SAGEMAKER_PROGRAM": "whoami.py", "SAGEMAKER_SUBMIT_DIRECTORY": source_uri, "COLOR": color},
    )


def _log_messages(aws, group: str, stream_prefix: str) -> list[str]:
    events = aws.client("logs").filter_log_events(logGroupName=group, logStreamNamePrefix=stream_prefix)[
        "events"
    ]
    return [event["message"] for event in events]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_blog_model_with_code_in_model_tar_serves_its_predictions(tmp_path, aws, iris_artifacts):
    model, model_uri = iris_artifacts
    description = support.model_description(
        "iris",
        model_uri,
        {"SAGEMAKER_PROGRAM": "scikit_learn_iris.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    )
    deployment = Deployment("iris-endpoint", [(_variant("AllTraffic", "iris"), description)], tmp_path, aws)
    features, _ = support.iris()
    buffer = io.BytesIO()
    np.save(buffer, features)
    deployment.start(timeout=60)
    try:
        result = deployment.invoke(buffer.getvalue(), "application/x-npy", "application/x-npy")
        csv_result = deployment.invoke(b"5.9,3.0,5.1,1.8\n", "text/csv", "text/csv")
        bad = deployment.invoke(b"{", "application/json", None)
    finally:
        deployment.stop()

    assert (result.status, result.content_type, result.variant_name) == (
        200,
        "application/x-npy",
        "AllTraffic",
    )
    assert np.load(io.BytesIO(result.body)).tolist() == model.predict(features).tolist()
    assert csv_result.body == f"{model.predict(features[149:150])[0]}\n".encode()
    assert bad.status == 500 and b"not valid JSON" in bad.body  # the model's own error
    assert (tmp_path / "AllTraffic" / "model" / "model.joblib").is_file()
    messages = _log_messages(aws, "/aws/sagemaker/Endpoints/iris-endpoint", "AllTraffic/i-")
    assert any("Traceback" in message for message in messages)  # the container log, in CloudWatch


def test_two_instances_from_s3_sourcedir_share_requests_and_stop_cleanly(tmp_path, aws, whoami_artifacts):
    description = _whoami_model("whoami", whoami_artifacts)
    deployment = Deployment("who", [(_variant("AllTraffic", "whoami", count=2), description)], tmp_path, aws)
    deployment.start(timeout=60)
    pids = {server.pid for server in deployment.servers}
    try:
        answers = [json.loads(deployment.invoke(b"{}", "application/json", None).body) for _ in range(6)]
    finally:
        deployment.stop()

    assert len(pids) == 2
    assert {answer["pid"] for answer in answers} == pids  # round-robin over both instances
    assert answers[0]["files"] == ["weights.bin"]  # model.tar.gz extracted into model_dir
    assert answers[0]["color"] == "blue"  # the model's Environment reaches the server
    assert not any(_pid_alive(pid) for pid in pids)
    deployment.stop()  # idempotent


def test_variants_are_chosen_by_target_or_weight(tmp_path, aws, whoami_artifacts):
    variants = [
        (_variant("Blue", "whoami-blue", weight=1.0), _whoami_model("whoami-blue", whoami_artifacts, "blue")),
        (
            _variant("Green", "whoami-green", weight=0.0),
            _whoami_model("whoami-green", whoami_artifacts, "green"),
        ),
    ]
    deployment = Deployment("colors", variants, tmp_path, aws)
    deployment.start(timeout=60)
    try:
        weighted = [deployment.invoke(b"{}", "application/json", None) for _ in range(10)]
        targeted = deployment.invoke(b"{}", "application/json", None, target_variant="Green")
        with pytest.raises(VariantNotFoundError, match="'Red'.*Blue, Green"):
            deployment.invoke(b"{}", "application/json", None, target_variant="Red")
    finally:
        deployment.stop()

    assert {result.variant_name for result in weighted} == {"Blue"}  # weight 0 gets no traffic
    assert {json.loads(result.body)["color"] for result in weighted} == {"blue"}
    assert targeted.variant_name == "Green" and json.loads(targeted.body)["color"] == "green"


def test_model_fn_error_fails_the_start_with_its_message(tmp_path, aws, s3, whoami_artifacts):
    (tmp_path / "src").mkdir()
    support.copy_script("broken_model_fn.py", tmp_path / "src")
    source_uri = support.upload(
        s3, support.make_tar_gz(tmp_path / "src", tmp_path / "src.tar.gz"), BUCKET, "broken/sourcedir.tar.gz"
    )
    description = support.model_description(
        "broken",
        whoami_artifacts[0],
        {"SAGEMAKER_PROGRAM": "broken_model_fn.py", "SAGEMAKER_SUBMIT_DIRECTORY": source_uri},
    )
    deployment = Deployment(
        "broken", [(_variant("AllTraffic", "broken", count=2), description)], tmp_path / "work", aws
    )

    with pytest.raises(ModelServerError) as failure:
        deployment.start(timeout=60)

    assert "cannot load weights: model.joblib is corrupted" in str(failure.value)
    assert "AllTraffic" in str(failure.value)
    assert not any(_pid_alive(server.pid) for server in deployment.servers)
    messages = _log_messages(aws, "/aws/sagemaker/Endpoints/broken", "AllTraffic/")
    assert any("cannot load weights" in message for message in messages)


def test_unsupported_image_is_refused_with_the_reason(tmp_path, aws, whoami_artifacts, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")  # it would run in Docker otherwise
    description = _whoami_model("own", whoami_artifacts)
    description["PrimaryContainer"]["Image"] = "683313688378.dkr.ecr.us-east-1.amazonaws.com/my-own-image:1.0"
    deployment = Deployment("own", [(_variant("AllTraffic", "own"), description)], tmp_path, aws)
    with pytest.raises(ModelServerError, match="no local environment runs it, and no Docker daemon is reachable"
                                               ".*sagemaker-scikit-learn"):
        deployment.start(timeout=30)


def test_missing_model_data_is_a_clear_error(tmp_path, aws, whoami_artifacts):
    description = _whoami_model("missing", whoami_artifacts)
    description["PrimaryContainer"]["ModelDataUrl"] = f"s3://{BUCKET}/nowhere/model.tar.gz"
    deployment = Deployment("missing", [(_variant("AllTraffic", "missing"), description)], tmp_path, aws)
    with pytest.raises(ModelServerError, match="ModelDataUrl s3://.*/nowhere/model.tar.gz .*does not exist"):
        deployment.start(timeout=30)


def test_model_archive_escaping_its_folder_is_refused(tmp_path, aws, s3, whoami_artifacts):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"pwned"
        member = tarfile.TarInfo("../escaped.txt")
        member.size = len(payload)
        tar.addfile(member, io.BytesIO(payload))
    description = _whoami_model("evil", whoami_artifacts)
    description["PrimaryContainer"]["ModelDataUrl"] = support.upload(s3, archive, BUCKET, "evil/model.tar.gz")
    deployment = Deployment("evil", [(_variant("AllTraffic", "evil"), description)], tmp_path / "work", aws)

    with pytest.raises(ModelServerError, match="unsafe"):
        deployment.start(timeout=30)
    assert not list(tmp_path.rglob("escaped.txt"))


def test_requirements_txt_is_installed_beside_the_runtime_not_into_it(tmp_path, aws, s3, whoami_artifacts):
    source = tmp_path / "source"
    support.copy_script("needs_dependency.py", source)
    wheel = support.build_wheel(source)
    (source / "requirements.txt").write_text(f"./{wheel.name}\n")
    source_uri = support.upload(
        s3, support.make_tar_gz(source, tmp_path / "sourcedir.tar.gz"), BUCKET, "deps/sourcedir.tar.gz"
    )
    description = support.model_description(
        "deps",
        whoami_artifacts[0],
        {"SAGEMAKER_PROGRAM": "needs_dependency.py", "SAGEMAKER_SUBMIT_DIRECTORY": source_uri},
    )
    deployment = Deployment("deps", [(_variant("AllTraffic", "deps"), description)], tmp_path / "work", aws)
    deployment.start(timeout=120)
    try:
        answer = json.loads(deployment.invoke(b"{}", "application/json", None).body)
    finally:
        deployment.stop()

    assert answer["value"] == 42
    assert answer["module"].startswith(str(tmp_path / "work" / "AllTraffic" / "site-packages"))
    assert importlib.util.find_spec("tinydep") is None  # the runtime's environment is untouched


def test_invoke_before_start_is_refused(tmp_path, aws, whoami_artifacts):
    deployment = Deployment(
        "idle", [(_variant("AllTraffic", "w"), _whoami_model("w", whoami_artifacts))], tmp_path, aws
    )
    with pytest.raises(ModelServerError, match="not serving"):
        deployment.invoke(b"{}", "application/json", None)


def test_endpoint_through_the_runtime_api_serves_the_blog_model(runtime, iris_artifacts):
    """CreateModel / CreateEndpointConfig / CreateEndpoint, then InvokeEndpoint with boto3."""
    model, model_uri = iris_artifacts
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    sagemaker = session.client("sagemaker", endpoint_url=runtime.url)
    sagemaker_runtime = session.client("sagemaker-runtime", endpoint_url=runtime.url)
    sagemaker.create_model(
        ModelName="iris-api",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        PrimaryContainer={
            "Image": support.SKLEARN_IMAGE,
            "ModelDataUrl": model_uri,
            "Environment": {
                "SAGEMAKER_PROGRAM": "scikit_learn_iris.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="iris-api",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "iris-api",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="iris-api", EndpointConfigName="iris-api")
    sagemaker.get_waiter("endpoint_in_service").wait(
        EndpointName="iris-api", WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
    )
    features, _ = support.iris()
    try:
        answer = sagemaker_runtime.invoke_endpoint(
            EndpointName="iris-api",
            ContentType="text/csv",
            Accept="text/csv",
            Body="\n".join(",".join(str(v) for v in row) for row in features[:10]),
        )
        with pytest.raises(sagemaker_runtime.exceptions.ModelError) as unsupported:
            sagemaker_runtime.invoke_endpoint(
                EndpointName="iris-api", ContentType="image/png", Body=b"\x89PNG"
            )
    finally:
        sagemaker.delete_endpoint(EndpointName="iris-api")

    assert answer["ContentType"] == "text/csv" and answer["InvokedProductionVariant"] == "AllTraffic"
    assert [int(line) for line in answer["Body"].read().decode().split()] == model.predict(
        features[:10]
    ).tolist()
    assert unsupported.value.response["OriginalStatusCode"] == 415
    assert "image/png" in unsupported.value.response["OriginalMessage"]
