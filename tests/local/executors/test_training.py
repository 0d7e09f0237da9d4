"""The local training executor runs real training jobs end to end.

Each test packages a script the way the SageMaker Python SDK does (``sourcedir.tar.gz`` in S3,
JSON-encoded ``sagemaker_*`` hyperparameters), runs a :class:`TrainingRun` against an S3 /
CloudWatch Logs endpoint on 127.0.0.1, and checks what a user can observe: statuses, S3
artifacts, log events, failure reasons.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib.util
import io
import json
import re
import shutil
import sys
import tarfile
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn import datasets

from smflow.archives import make_tar_gz
from smflow.image_uris import retrieve
from smflow.local.support.aws import ACCOUNT_ID, LocalAws
from smflow.local.executors import training
from smflow.local.executors.training import LOG_GROUP, TrainingRun
from smflow.local.server import LocalRuntime
from smflow.local.support.files import safe_extract_tar
from smflow.local.support.processes import group_members, start_time

REGION = "us-east-1"
IMAGE = retrieve("sklearn", REGION, "1.2-1")
SCRIPTS = Path(__file__).parents[1] / "scripts"
TERMINAL = {"Completed", "Failed", "Stopped"}


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A real local runtime on 127.0.0.1 (S3, CloudWatch Logs and the SageMaker API)."""
    with LocalRuntime(state_dir=tmp_path_factory.mktemp("state"), port=0) as local_runtime:
        yield local_runtime


@pytest.fixture(scope="module")
def endpoint(runtime):
    return runtime.url


@pytest.fixture
def aws(endpoint):
    return LocalAws(endpoint, REGION)


@pytest.fixture
def bucket(aws):
    name = f"smflow-training-{uuid.uuid4().hex[:10]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


# -- helpers ------------------------------------------------------------------------------------


class Recorder:
    """The backend's side of on_update: merges fields into the stored description."""

    def __init__(self, description: dict):
        self.description = copy.deepcopy(description)
        self.updates: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, fields: dict) -> None:
        with self._lock:
            self.updates.append(copy.deepcopy(fields))
            self.description.update(copy.deepcopy(fields))

    @property
    def status(self) -> str:
        return self.description["TrainingJobStatus"]

    def secondary_statuses(self) -> list[str]:
        return [t["Status"] for t in self.description["SecondaryStatusTransitions"]]


def job_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def describe_job(
    aws: LocalAws,
    bucket: str,
    name: str,
    source_dir: Path,
    entry_point: str,
    hyperparameters: dict | None = None,
    channels: dict[str, str] | None = None,
    max_runtime: int = 86400,
    environment: dict | None = None,
    image: str = IMAGE,
) -> dict:
    """Upload ``source_dir`` as the SDK does and return a DescribeTrainingJob-shaped dict."""
    source_key = f"{name}/source/sourcedir.tar.gz"
    with tempfile.TemporaryDirectory() as scratch:
        archive = make_tar_gz(source_dir, Path(scratch) / "sourcedir.tar.gz")
        aws.client("s3").upload_file(str(archive), bucket, source_key)
    encoded = {str(k): json.dumps(v) for k, v in (hyperparameters or {}).items()}
    encoded.update(
        {
            "sagemaker_program": json.dumps(entry_point),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{source_key}"),
            "sagemaker_container_log_level": json.dumps(20),
            "sagemaker_job_name": json.dumps(name),
            "sagemaker_region": json.dumps(REGION),
        }
    )
    now = time.time()
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/{name}",
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": encoded,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, uri in (channels or {}).items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "Environment": environment or {},
        "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/SageMakerRole",
        "CreationTime": now,
        "LastModifiedTime": now,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": now, "StatusMessage": "Launching requested ML instances"}
        ],
    }


def run_job(description: dict, work_dir: Path, aws: LocalAws, timeout: float = 60, **kwargs) -> Recorder:
    recorder = Recorder(description)
    run = TrainingRun(description, work_dir, aws, recorder, **kwargs)
    run.start()
    run.join(timeout)
    assert recorder.status in TERMINAL, f"job still {recorder.status} after {timeout} s"
    assert_update_protocol(recorder)
    return recorder


def assert_update_protocol(recorder: Recorder) -> None:
    """Every update is stamped, times never go back, and only the last one is terminal."""
    stamps = [update["LastModifiedTime"] for update in recorder.updates]
    assert stamps == sorted(stamps)
    statuses = [update["TrainingJobStatus"] for update in recorder.updates]
    assert statuses[-1] in TERMINAL
    assert not TERMINAL.intersection(statuses[:-1])
    for transition in recorder.description["SecondaryStatusTransitions"]:
        assert transition["StartTime"] <= transition["EndTime"]
        assert transition["StatusMessage"]


def s3_tar_members(aws: LocalAws, uri: str, tmp_path: Path) -> dict[str, bytes]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def log_messages(aws: LocalAws, name: str) -> tuple[list[str], list[str]]:
    logs = aws.client("logs")
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")
    streams = streams["logStreams"]
    names = [s["logStreamName"] for s in streams]
    messages: list[str] = []
    for stream in names:
        events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True)
        messages.extend(event["message"] for event in events["events"])
    return names, messages


def process_is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an orphan killed but not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def write_wheel(path: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal pure-Python wheel (PEP 427), so pip installs it with no network or build."""
    dist_info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: smflow-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )

    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{n},{digest(d)},{len(d)}\n" for n, d in contents.items()) + f"{dist_info}/RECORD,,\n"
    wheel = path / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
        archive.writestr(f"{dist_info}/RECORD", record)
    return wheel


# -- tests --------------------------------------------------------------------------------------


def test_blog_iris_decision_tree_trains_and_uploads_a_loadable_model(aws, bucket, tmp_path):
    # The blog's data preparation: label first, then the four features, one CSV.
    iris = datasets.load_iris()
    joined_iris = np.insert(iris.data, 0, iris.target, axis=1)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    np.savetxt(data_dir / "iris.csv", joined_iris, delimiter=",", fmt="%1.1f, %1.3f, %1.3f, %1.3f, %1.3f")
    aws.client("s3").upload_file(str(data_dir / "iris.csv"), bucket, "scikit-iris/data/iris.csv")

    name = job_name("iris")
    description = describe_job(
        aws,
        bucket,
        name,
        SCRIPTS / "iris",
        "scikit_learn_iris.py",
        hyperparameters={"max_leaf_nodes": 30},
        channels={"train": f"s3://{bucket}/scikit-iris/data"},
    )
    work_dir = tmp_path / "job"
    started = time.monotonic()
    job = run_job(description, work_dir, aws)
    print(f"\nIris training job wall time: {time.monotonic() - started:.2f} s")

    final = job.description
    assert final["TrainingJobStatus"] == "Completed", final.get("FailureReason")
    assert final["SecondaryStatus"] == "Completed"
    assert job.secondary_statuses() == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert final["SecondaryStatusTransitions"][-1]["StatusMessage"] == "Training job completed"
    assert final["TrainingStartTime"] <= final["TrainingEndTime"]
    assert final["TrainingTimeInSeconds"] >= 1
    assert final["BillableTimeInSeconds"] == final["TrainingTimeInSeconds"]
    assert "FailureReason" not in final

    # The container contract on disk: hyperparameters exactly as sent, the channel's data.
    config = work_dir / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == description["HyperParameters"]
    assert json.loads((config / "resourceconfig.json").read_text())["hosts"] == ["algo-1"]
    assert (work_dir / "input" / "data" / "train" / "iris.csv").is_file()

    model_uri = final["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://{bucket}/output/{name}/output/model.tar.gz"
    extracted = tmp_path / "model"
    archive = tmp_path / "model.tar.gz"
    bucket_name, _, key = model_uri[len("s3://") :].partition("/")
    aws.client("s3").download_file(bucket_name, key, str(archive))
    safe_extract_tar(archive, extracted)
    clf = joblib.load(extracted / "model.joblib")
    assert clf.max_leaf_nodes == 30  # the hyperparameter reached the script
    # The blog's evaluation rows.
    indices = [50 * i + 40 + j for i in range(3) for j in range(10)][:-1]
    predictions = clf.predict(joined_iris[indices, 1:])
    assert (predictions == joined_iris[indices, 0]).mean() >= 0.95

    streams, messages = log_messages(aws, name)
    assert len(streams) == 1 and re.fullmatch(rf"{name}/algo-1-\d{{10}}", streams[0])
    assert "Trained a decision tree on 150 rows with max_leaf_nodes=30" in messages
    assert any("Invoking user script" in message for message in messages)


def test_script_receives_sm_environment_and_hyperparameters_as_arguments(aws, bucket, tmp_path, endpoint):
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key="inputs/train/part-0.csv", Body=b"1,2\n")
    s3.put_object(Bucket=bucket, Key="inputs/train/nested/part-1.csv", Body=b"3,4\n")
    s3.put_object(Bucket=bucket, Key="inputs/test/part-0.csv", Body=b"5,6\n")
    name = job_name("env")
    description = describe_job(
        aws,
        bucket,
        name,
        SCRIPTS / "env_dump",
        "train.py",
        hyperparameters={"epochs": 3, "learning-rate": 0.05, "optimizer": "adam"},
        channels={"train": f"s3://{bucket}/inputs/train", "test": f"s3://{bucket}/inputs/test"},
        environment={"MY_SETTING": "on"},
    )
    work_dir = tmp_path / "job"
    job = run_job(description, work_dir, aws)
    assert job.status == "Completed", job.description.get("FailureReason")

    members = s3_tar_members(aws, job.description["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)
    received = json.loads(members["received.json"])
    assert received["argv"] == ["--epochs", "3", "--learning-rate", "0.05", "--optimizer", "adam"]
    sm = received["sm_env"]
    assert sm["SM_MODEL_DIR"] == str(work_dir / "model")
    assert sm["SM_OUTPUT_DATA_DIR"] == str(work_dir / "output" / "data")
    assert sm["SM_CHANNEL_TRAIN"] == str(work_dir / "input" / "data" / "train")
    assert sm["SM_CHANNEL_TEST"] == str(work_dir / "input" / "data" / "test")
    assert json.loads(sm["SM_CHANNELS"]) == ["test", "train"]
    assert json.loads(sm["SM_HPS"]) == {"epochs": 3, "learning-rate": 0.05, "optimizer": "adam"}
    assert sm["SM_HP_EPOCHS"] == "3"
    assert sm["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(sm["SM_HOSTS"]) == ["algo-1"]
    assert sm["SM_USER_ENTRY_POINT"] == "train.py"
    assert received["job_env"] == {
        "TRAINING_JOB_NAME": name,
        "TRAINING_JOB_ARN": description["TrainingJobArn"],
        "SAGEMAKER_BASE_DIR": str(work_dir),
        "AWS_ENDPOINT_URL": endpoint,
        "MY_SETTING": "on",
    }
    assert received["cwd"] == str(work_dir / "code")
    # Both channels downloaded, keys below the prefix kept as paths.
    assert (work_dir / "input" / "data" / "train" / "nested" / "part-1.csv").read_bytes() == b"3,4\n"
    assert json.loads((work_dir / "input" / "config" / "inputdataconfig.json").read_text())["test"] == {
        "TrainingInputMode": "File",
        "S3DistributionType": "FullyReplicated",
        "RecordWrapperType": "None",
    }
    # output/data is packed beside the model.
    outputs = s3_tar_members(aws, f"s3://{bucket}/output/{name}/output/output.tar.gz", tmp_path)
    assert outputs == {"notes.txt": b"output data\n"}


def test_failing_script_ends_failed_with_its_exception(aws, bucket, tmp_path):
    name = job_name("fail")
    description = describe_job(aws, bucket, name, SCRIPTS / "failing", "train.py")
    job = run_job(description, tmp_path / "job", aws)

    final = job.description
    assert final["TrainingJobStatus"] == "Failed"
    assert job.secondary_statuses() == ["Starting", "Downloading", "Training", "Failed"]
    reason = final["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:")
    assert "ValueError: No training data found under /nonexistent/train: check the 'train' channel" in reason
    assert reason.endswith(", exit code: 1")
    assert "ModelArtifacts" not in final
    _, messages = log_messages(aws, name)
    assert "starting to train" in messages
    assert any(message.startswith("ValueError: No training data found") for message in messages)


def test_failure_reason_keeps_the_exception_line_within_1024_characters(aws, bucket, tmp_path):
    name = job_name("longfail")
    description = describe_job(
        aws, bucket, name, SCRIPTS / "failing", "train.py", hyperparameters={"long-message": 1}
    )
    job = run_job(description, tmp_path / "job", aws)

    reason = job.description["FailureReason"]
    assert job.status == "Failed"
    assert len(reason) <= 1024
    assert reason.startswith("AlgorithmError: ")
    assert "No training data found under /nonexistent/train: check the 'train' channel" in reason


def test_stop_ends_a_running_job_stopped_and_uploads_the_saved_model(aws, bucket, tmp_path):
    name = job_name("stop")
    description = describe_job(
        aws, bucket, name, SCRIPTS / "sleeper", "train.py", hyperparameters={"ignore-sigterm": 1}
    )
    recorder = Recorder(description)
    run = TrainingRun(description, tmp_path / "job", aws, recorder, stop_grace_seconds=1.0)
    run.start()
    # Output reaches CloudWatch Logs while the job runs.
    deadline = time.monotonic() + 30
    messages: list[str] = []
    while "checkpoint saved, training for a long time" not in messages and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            _, messages = log_messages(aws, name)
        except aws.client("logs").exceptions.ResourceNotFoundException:
            pass
    assert "checkpoint saved, training for a long time" in messages
    assert recorder.status == "InProgress" and recorder.description["SecondaryStatus"] == "Training"
    # The running job's process group is recorded (for a restarted runtime to end it): the
    # toolkit leads its own group, which holds the script too.
    process = recorder.description["_Process"]
    assert process["ProcessGroupId"] == process["ProcessId"]
    assert start_time(process["ProcessId"]) == process["StartTime"]
    script_pid = int((tmp_path / "job" / "model" / "pid").read_text())
    assert {process["ProcessId"], script_pid} <= set(group_members(process["ProcessGroupId"]))

    started = time.monotonic()
    run.stop()
    run.join(15)
    stop_seconds = time.monotonic() - started
    print(f"\nstop() to Stopped (script ignores SIGTERM, 1 s grace): {stop_seconds:.2f} s")
    assert stop_seconds < 5
    assert_update_protocol(recorder)
    final = recorder.description
    assert final["TrainingJobStatus"] == "Stopped"
    assert final["SecondaryStatus"] == "Stopped"
    assert recorder.secondary_statuses()[-3:] == ["Training", "Stopping", "Stopped"]
    assert any(u["TrainingJobStatus"] == "Stopping" for u in recorder.updates)
    members = s3_tar_members(aws, final["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)
    assert members["partial.txt"] == b"saved before the stop\n"
    # The whole process tree is gone, including the script that ignored SIGTERM, and the job no
    # longer records a process.
    assert not process_is_running(int(members["pid"]))
    assert group_members(process["ProcessGroupId"]) == []
    assert recorder.description["_Process"] is None
    run.stop()  # no-op once ended
    assert recorder.updates[-1]["TrainingJobStatus"] == "Stopped"


def test_max_runtime_stops_the_job_with_max_runtime_exceeded(aws, bucket, tmp_path):
    name = job_name("maxrt")
    description = describe_job(aws, bucket, name, SCRIPTS / "sleeper", "train.py", max_runtime=2)
    started = time.monotonic()
    job = run_job(description, tmp_path / "job", aws, timeout=30)
    elapsed = time.monotonic() - started
    print(f"\nMaxRuntimeInSeconds=2 job wall time: {elapsed:.2f} s")

    final = job.description
    assert final["TrainingJobStatus"] == "Stopped"
    assert final["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert job.secondary_statuses()[-2:] == ["Stopping", "MaxRuntimeExceeded"]
    assert "MaxRuntimeInSeconds (2 s)" in final["SecondaryStatusTransitions"][-1]["StatusMessage"]
    assert 2 <= final["TrainingTimeInSeconds"] <= 10
    assert elapsed < 15
    assert "partial.txt" in s3_tar_members(aws, final["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)


def test_unsupported_image_fails_without_starting_a_process(aws, bucket, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")  # it would run in Docker otherwise
    name = job_name("image")
    image = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/my-xgboost:latest"
    description = describe_job(aws, bucket, name, SCRIPTS / "env_dump", "train.py", image=image)
    work_dir = tmp_path / "job"
    job = run_job(description, work_dir, aws)

    final = job.description
    assert final["TrainingJobStatus"] == "Failed"
    assert job.secondary_statuses() == ["Starting", "Failed"]
    assert final["FailureReason"].startswith(f"Image '{image}' cannot run on the smflow local runtime")
    assert "sagemaker-scikit-learn" in final["FailureReason"]
    assert not (work_dir / "code").exists()
    assert "TrainingStartTime" not in final


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"TrainingInputMode": "Streaming"}, "uses TrainingInputMode 'Streaming'"),
        ({"S3DataType": "AugmentedManifestFile"}, "uses S3DataType 'AugmentedManifestFile'"),
    ],
)
def test_unsupported_input_modes_fail_with_a_clear_reason(aws, bucket, tmp_path, change, expected):
    name = job_name("mode")
    description = describe_job(
        aws, bucket, name, SCRIPTS / "env_dump", "train.py", channels={"train": f"s3://{bucket}/inputs"}
    )
    if "TrainingInputMode" in change:
        description["AlgorithmSpecification"]["TrainingInputMode"] = change["TrainingInputMode"]
    else:
        description["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = change["S3DataType"]
    job = run_job(description, tmp_path / "job", aws)
    assert job.status == "Failed"
    assert job.description["FailureReason"].startswith("ClientError: channel 'train' " + expected)


def test_empty_channel_prefix_fails_with_a_client_error(aws, bucket, tmp_path):
    name = job_name("nodata")
    description = describe_job(
        aws, bucket, name, SCRIPTS / "env_dump", "train.py", channels={"train": f"s3://{bucket}/missing/"}
    )
    job = run_job(description, tmp_path / "job", aws)
    assert job.status == "Failed"
    assert job.secondary_statuses() == ["Starting", "Downloading", "Failed"]
    assert job.description["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "s3://{bucket}/missing/"'
    )


def test_unexpected_error_in_the_runner_ends_the_job_failed(aws, bucket, tmp_path, monkeypatch):
    def broken_download(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(training.channels_module, "download_s3_prefix", broken_download)
    name = job_name("internal")
    description = describe_job(
        aws, bucket, name, SCRIPTS / "env_dump", "train.py", channels={"train": f"s3://{bucket}/inputs"}
    )
    job = run_job(description, tmp_path / "job", aws)
    assert job.status == "Failed"
    assert job.description["FailureReason"].startswith("InternalServerError: ")
    assert "RuntimeError: disk on fire" in job.description["FailureReason"]


def test_requirements_install_into_the_job_not_the_runtime_environment(aws, bucket, tmp_path):
    source = tmp_path / "source"
    shutil.copytree(SCRIPTS / "requirements", source)
    (source / "wheels").mkdir()
    package = {"tinypkg/__init__.py": b"GREETING = 'hello from tinypkg'\n"}
    write_wheel(source / "wheels", "tinypkg", "1.0", package)
    site_packages = Path(joblib.__file__).parent.parent  # the runtime's (and the image's) environment

    name = job_name("reqs")
    description = describe_job(aws, bucket, name, source, "train.py")
    work_dir = tmp_path / "job"
    job = run_job(description, work_dir, aws)
    assert job.status == "Completed", job.description.get("FailureReason")

    members = s3_tar_members(aws, job.description["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)
    installed = json.loads(members["tinypkg.json"])
    assert installed["greeting"] == "hello from tinypkg"
    assert Path(installed["file"]).is_relative_to(work_dir)  # installed into the job's own venv
    assert installed["joblib"] == joblib.__file__  # the environment's joblib, not a new copy
    # Nothing went into the runtime's environment: pip left joblib where it was, tinypkg is absent.
    assert not list(site_packages.glob("tinypkg*"))
    assert importlib.util.find_spec("tinypkg") is None
    _, messages = log_messages(aws, name)
    assert any(
        message.startswith(f"Requirement already satisfied: joblib in {site_packages}") for message in messages
    )
    assert any("Successfully installed tinypkg-1.0" in message for message in messages)


PREFIX_SCRIPT = """
import json, os, sys, sysconfig
with open(os.path.join(os.environ["SM_MODEL_DIR"], "prefix.json"), "w") as f:
    json.dump({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "executable": sys.executable,
               "purelib": sysconfig.get_paths()["purelib"], "joblib": __import__("joblib").__file__}, f)
"""


def _prefix_job(aws, bucket, tmp_path, prefix: str) -> tuple[dict, Path]:
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").write_text(PREFIX_SCRIPT)
    name = job_name(prefix)
    work_dir = tmp_path / "job"
    job = run_job(describe_job(aws, bucket, name, source, "train.py"), work_dir, aws)
    assert job.status == "Completed", job.description.get("FailureReason")
    members = s3_tar_members(aws, job.description["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)
    return json.loads(members["prefix.json"]), work_dir


def test_the_jobs_venv_is_written_without_starting_python_m_venv(aws, bucket, tmp_path, monkeypatch):
    commands: list[list[str]] = []
    real_run, real_popen = training.subprocess.run, training.subprocess.Popen

    def run(command, *args, **kwargs):
        commands.append([str(part) for part in command])
        return real_run(command, *args, **kwargs)

    class Popen(real_popen):
        def __init__(self, command, *args, **kwargs):
            commands.append([str(part) for part in command])
            super().__init__(command, *args, **kwargs)

    monkeypatch.setattr(training.subprocess, "run", run)
    monkeypatch.setattr(training.subprocess, "Popen", Popen)
    seen, work_dir = _prefix_job(aws, bucket, tmp_path, "venvless")

    assert not any(command[1:3] == ["-m", "venv"] for command in commands), commands
    venv = (work_dir / ".smflow" / "venv").resolve()
    # What python -m venv gives: the job's prefix, the same base interpreter, its own site-packages
    # (where pip installs requirements.txt), the environment's packages after it.
    assert Path(seen["prefix"]) == venv
    assert seen["base_prefix"] == sys.base_prefix
    assert Path(seen["executable"]) == venv / "bin" / "python"
    assert Path(seen["purelib"]).is_relative_to(venv)
    assert seen["joblib"] == joblib.__file__
    config = dict(line.split(" = ", 1) for line in (venv / "pyvenv.cfg").read_text().splitlines())
    assert config["include-system-site-packages"] == "false"
    assert config["version"] == ".".join(map(str, sys.version_info[:3]))


def test_the_jobs_venv_falls_back_to_python_m_venv_without_symlinks(aws, bucket, tmp_path, monkeypatch):
    def no_symlinks(self, target, target_is_directory=False):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(Path, "symlink_to", no_symlinks)
    seen, work_dir = _prefix_job(aws, bucket, tmp_path, "venvcopy")

    venv = (work_dir / ".smflow" / "venv").resolve()
    assert Path(seen["prefix"]) == venv and seen["joblib"] == joblib.__file__
    assert (venv / "bin" / "activate").is_file()  # made by python -m venv


def _warm_up_moments(aws, bucket, tmp_path, script: str) -> tuple[Recorder, list[tuple]]:
    """Runs a job with a warm_up that notes (SecondaryStatus, _Process, ModelArtifacts uploaded)
    when it is called."""
    moments: list[tuple] = []
    description = describe_job(aws, bucket, job_name("warm"), SCRIPTS / script, "train.py")
    recorder = Recorder(description)

    def warm_up() -> None:
        seen = recorder.description
        moments.append((seen["SecondaryStatus"], seen.get("_Process"), "ModelArtifacts" in seen))

    run = TrainingRun(description, tmp_path / f"job-{script}", aws, recorder, warm_up=warm_up)
    run.start()
    run.join(60)
    assert recorder.status in TERMINAL
    return recorder, moments


def test_on_a_busy_machine_the_warm_up_waits_until_the_training_process_has_ended(
        aws, bucket, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "core_to_spare", lambda: False)

    job, moments = _warm_up_moments(aws, bucket, tmp_path, "env_dump")
    assert job.status == "Completed", job.description.get("FailureReason")
    # Once, when the job is Uploading: its process has ended, its artifacts are not uploaded yet.
    assert moments == [("Uploading", None, False)]

    job, moments = _warm_up_moments(aws, bucket, tmp_path, "failing")
    assert job.status == "Failed" and moments == []  # no model to deploy: no warm-up


def test_with_a_core_to_spare_the_warm_up_starts_with_the_job(aws, bucket, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "core_to_spare", lambda: True)

    job, moments = _warm_up_moments(aws, bucket, tmp_path, "env_dump")
    assert job.status == "Completed", job.description.get("FailureReason")
    assert moments == [("Starting", None, False)]  # once, before the training process started


def test_a_failing_warm_up_does_not_fail_the_job(aws, bucket, tmp_path, monkeypatch):
    def broken() -> None:
        raise RuntimeError("warm-up on fire")

    for spare in (True, False):
        monkeypatch.setattr(training, "core_to_spare", lambda spare=spare: spare)
        description = describe_job(aws, bucket, job_name("warm-broken"), SCRIPTS / "env_dump", "train.py")
        job = run_job(description, tmp_path / f"job-{spare}", aws, warm_up=broken)
        assert job.status == "Completed", job.description.get("FailureReason")


def test_core_to_spare_reads_the_load_against_the_usable_cores(monkeypatch):
    monkeypatch.setattr(training.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(training.os, "getloadavg", lambda: (0.5, 0.0, 0.0))
    assert training.core_to_spare()
    monkeypatch.setattr(training.os, "getloadavg", lambda: (1.0, 0.0, 0.0))
    assert not training.core_to_spare()  # one core busy of two: the training needs the other
    monkeypatch.setattr(training.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(training.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert not training.core_to_spare()  # pinned to one core (taskset): nothing to spare

    def unknown():
        raise OSError("no load average here")

    monkeypatch.setattr(training.os, "getloadavg", unknown)
    assert not training.core_to_spare()


def test_stop_before_start_ends_stopped_without_running(aws, bucket, tmp_path):
    name = job_name("early")
    description = describe_job(aws, bucket, name, SCRIPTS / "env_dump", "train.py")
    recorder = Recorder(description)
    run = TrainingRun(description, tmp_path / "job", aws, recorder)
    run.stop()
    run.start()
    run.join(10)
    assert recorder.status == "Stopped"
    assert recorder.secondary_statuses() == ["Starting", "Stopped"]
    assert len(recorder.updates) == 1 and "ModelArtifacts" not in recorder.description
    assert not (tmp_path / "job").exists()


def test_jobs_run_and_stop_through_the_runtime_sagemaker_api(runtime, aws, bucket, tmp_path):
    """CreateTrainingJob / StopTrainingJob on the runtime drive TrainingRun; Describe shows it."""
    sagemaker = aws.client("sagemaker")
    request_fields = (
        "TrainingJobName", "AlgorithmSpecification", "HyperParameters", "InputDataConfig",
        "OutputDataConfig", "ResourceConfig", "StoppingCondition", "RoleArn",
    )

    def create(description: dict) -> str:
        request = {k: description[k] for k in request_fields if description.get(k)}
        sagemaker.create_training_job(**request)
        return description["TrainingJobName"]

    def wait(name: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = sagemaker.describe_training_job(TrainingJobName=name)
            if job["TrainingJobStatus"] in TERMINAL:
                return job
            time.sleep(0.2)
        raise AssertionError(f"{name} did not end within {timeout} s")

    completed = create(describe_job(aws, bucket, job_name("api"), SCRIPTS / "env_dump", "train.py"))
    stopped = create(describe_job(aws, bucket, job_name("apistop"), SCRIPTS / "sleeper", "train.py"))

    job = wait(completed)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"
    ]
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://{bucket}/output/{completed}/output/model.tar.gz"
    assert job["TrainingEndTime"] >= job["TrainingStartTime"]

    deadline = time.monotonic() + 30
    while sagemaker.describe_training_job(TrainingJobName=stopped)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sagemaker.stop_training_job(TrainingJobName=stopped)
    job = wait(stopped, timeout=20)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "partial.txt" in s3_tar_members(aws, job["ModelArtifacts"]["S3ModelArtifacts"], tmp_path)


def test_missing_output_bucket_fails_with_a_client_error(aws, bucket, tmp_path):
    name = job_name("nobucket")
    description = describe_job(aws, bucket, name, SCRIPTS / "env_dump", "train.py")
    description["OutputDataConfig"]["S3OutputPath"] = "s3://smflow-no-such-bucket/output"
    job = run_job(description, tmp_path / "job", aws)
    assert job.status == "Failed"
    assert job.secondary_statuses()[-2:] == ["Uploading", "Failed"]
    reason = job.description["FailureReason"]
    assert reason.startswith('ClientError: could not upload "s3://smflow-no-such-bucket/output/')
    assert "NoSuchBucket" in reason
