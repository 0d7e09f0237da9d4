"""Training jobs through the SageMaker API of a real local runtime: framework environments built on
demand (SecondaryStatus Downloading, pip's output in the job's log, a failed build fails the job),
checkpoint_s3_uri (restored before, uploaded during and after training) and metric_definitions
(FinalMetricDataList).

The environment tests give the scikit-learn image a small environment (six, plus the real base
requirements) instead of the runtime's interpreter, so that they run a real build without a big
framework; it lands in the shared cache ($SMFLOW_ENVIRONMENTS_DIR) and is built once.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from smflow.archives import make_tar_gz
from smflow.image_uris import retrieve
from smflow.local.containers.environments import EnvironmentSpec, environments_dir
from smflow.local.containers.frameworks import sklearn as sklearn_module

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = retrieve("sklearn", REGION, "1.2-1")
SCRIPTS = Path(__file__).parents[1] / "scripts"
TINY = EnvironmentSpec(framework="sklearn", family="test-six", framework_version="1.2-1",
                       display="Six-only test", install_steps=(("six==1.16.0",),),
                       note="A test environment: six instead of scikit-learn")
BROKEN = EnvironmentSpec(framework="sklearn", family="test-broken", framework_version="0",
                         display="Broken test", install_steps=(("smflow-test-no-such-package==0.0.1",),))


@pytest.fixture
def clients(runtime):
    s3 = runtime.client("s3")
    bucket = f"envs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    return runtime.client("sagemaker"), s3, runtime.client("logs"), bucket


def start_job(clients, tmp_path, script_dir: str, hyperparameters=None, **request) -> str:
    sagemaker, s3, _, bucket = clients
    name = f"{script_dir.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    archive = make_tar_gz(SCRIPTS / script_dir, tmp_path / f"{name}.tar.gz")
    s3.upload_file(str(archive), bucket, f"{name}/source/sourcedir.tar.gz")
    encoded = {str(k): json.dumps(v) for k, v in (hyperparameters or {}).items()}
    encoded.update(sagemaker_program=json.dumps("train.py"),
                   sagemaker_submit_directory=json.dumps(f"s3://{bucket}/{name}/source/sourcedir.tar.gz"),
                   sagemaker_region=json.dumps(REGION))
    algorithm = {"TrainingImage": IMAGE, "TrainingInputMode": "File", **request.pop("algorithm", {})}
    sagemaker.create_training_job(
        TrainingJobName=name, AlgorithmSpecification=algorithm, HyperParameters=encoded, RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 900}, **request,
    )
    return name


def wait(clients, name: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = clients[0].describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"{name} did not end in {timeout} s")


def log_lines(clients, name: str) -> list[str]:
    logs = clients[2]
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name)
    assert len(streams["logStreams"]) == 1  # the environment's preparation and the training share it
    stream = streams["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream,
                                 startFromHead=True, limit=10000)["events"]
    return [event["message"] for event in events]


def model_file(clients, job: dict, member: str) -> str:
    _, s3, _, _ = clients
    bucket, key = job["ModelArtifacts"]["S3ModelArtifacts"][len("s3://"):].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return archive.extractfile(member).read().decode()


# -- framework environments ---------------------------------------------------------------------


def test_a_job_runs_in_its_framework_environment(clients, tmp_path, monkeypatch):
    monkeypatch.setattr(sklearn_module, "environment", lambda version: TINY)

    job = wait(clients, start_job(clients, tmp_path, "in_environment"))

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    lines = log_lines(clients, job["TrainingJobName"])
    assert lines[0] == "A test environment: six instead of scikit-learn"  # the spec's note
    using = next(line for line in lines if line.startswith("Using the Six-only test environment"))
    prefix = next(line for line in lines if line.startswith("prefix: "))
    assert "/sklearn-test-six" in using and "six: 1.16.0" in lines
    assert "runtime packages visible: False" in lines
    assert prefix.endswith("/.smflow/venv")  # the job's venv, layered over the environment
    assert model_file(clients, job, "six.txt") == "1.16.0"


def test_a_failed_build_fails_the_job_with_pips_error(clients, tmp_path, monkeypatch):
    monkeypatch.setattr(sklearn_module, "environment", lambda version: BROKEN)

    job = wait(clients, start_job(clients, tmp_path, "in_environment"), timeout=300)

    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("ClientError: Could not prepare the Broken test environment: pip install "
                             "smflow-test-no-such-package==0.0.1 failed")
    assert reason.endswith("No matching distribution found for smflow-test-no-such-package==0.0.1")
    assert len(reason) <= 1024
    downloading = [t for t in job["SecondaryStatusTransitions"] if t["Status"] == "Downloading"]
    assert downloading[0]["StatusMessage"] == "Preparing the Broken test environment"
    lines = log_lines(clients, job["TrainingJobName"])
    assert any(line.startswith("Building the Broken test environment") for line in lines)
    assert any("No matching distribution found" in line for line in lines)  # pip's own output
    assert not list(environments_dir().glob("*test-broken*")) and not list(environments_dir().glob(".*test-broken*"))


# -- checkpoints --------------------------------------------------------------------------------


def test_checkpoints_are_uploaded_during_and_after_training_and_restored_by_the_next_job(clients, tmp_path):
    _, s3, _, bucket = clients
    uri = f"s3://{bucket}/checkpoints/run"
    first = wait(clients, start_job(clients, tmp_path, "checkpoints", {"run": 1},
                                    CheckpointConfig={"S3Uri": uri}, Environment={"CHECKPOINT_S3_URI": uri}))
    assert first["TrainingJobStatus"] == "Completed", first.get("FailureReason")
    assert first["CheckpointConfig"] == {"S3Uri": uri}
    assert "uploaded while training: True" in log_lines(clients, first["TrainingJobName"])
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="checkpoints/")["Contents"])
    assert keys == ["checkpoints/run/final-1.txt", "checkpoints/run/nested/during-1.txt"]
    assert json.loads(model_file(clients, first, "found.json")) == []

    second = wait(clients, start_job(clients, tmp_path, "checkpoints", {"run": 2},
                                     CheckpointConfig={"S3Uri": uri, "LocalPath": "/opt/ml/checkpoints"},
                                     Environment={"CHECKPOINT_S3_URI": uri}))

    assert second["TrainingJobStatus"] == "Completed", second.get("FailureReason")
    assert json.loads(model_file(clients, second, "found.json")) == ["final-1.txt", "nested"]
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="checkpoints/")["Contents"])
    assert keys == ["checkpoints/run/final-1.txt", "checkpoints/run/final-2.txt",
                    "checkpoints/run/nested/during-1.txt", "checkpoints/run/nested/during-2.txt"]


def test_a_checkpoint_local_path_outside_opt_ml_fails_the_job_naming_the_field(clients, tmp_path):
    uri = f"s3://{clients[3]}/checkpoints"
    job = wait(clients, start_job(clients, tmp_path, "metrics",
                                  CheckpointConfig={"S3Uri": uri, "LocalPath": "/tmp/my-checkpoints"}))

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: CheckpointConfig.LocalPath '/tmp/my-checkpoints' is not "
                                           "a folder under /opt/ml")


# -- metrics ------------------------------------------------------------------------------------


def test_metric_definitions_give_the_final_metric_data_list(clients, tmp_path):
    definitions = [{"Name": "train:loss", "Regex": r"loss: ([0-9\.]+)"},
                   {"Name": "train:accuracy", "Regex": r"accuracy=(\S+)"},
                   {"Name": "never", "Regex": r"no such line: (\d+)"}]
    before = time.time()

    job = wait(clients, start_job(clients, tmp_path, "metrics", algorithm={"MetricDefinitions": definitions}))

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == definitions
    metrics = job["FinalMetricDataList"]
    assert [(m["MetricName"], m["Value"]) for m in metrics] == [("train:loss", 0.25), ("train:accuracy", 0.875)]
    assert all(before <= m["Timestamp"].timestamp() <= job["TrainingEndTime"].timestamp() for m in metrics)


def test_a_job_without_metric_definitions_has_no_final_metric_data_list(clients, tmp_path):
    job = wait(clients, start_job(clients, tmp_path, "metrics"))

    assert job["TrainingJobStatus"] == "Completed" and "FinalMetricDataList" not in job


def test_a_metric_regex_that_does_not_compile_is_refused(clients, tmp_path):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as raised:
        start_job(clients, tmp_path, "metrics",
                  algorithm={"MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9"}]})

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.match(r"MetricDefinitions\[0\] \(loss\): Regex 'loss: \(\[0-9' is not a valid regular expression")
