"""Batch transform (smflow.local.executors.transform.TransformRun) with real model servers and moto S3."""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import boto3
import pytest

from smflow.local.support.aws import LocalAws
from smflow.local.executors.transform import TransformRun, relative_name
from smflow.local.server import LocalRuntime

_SUPPORT_PATH = Path(__file__).resolve().parents[1] / "serving_scripts" / "support.py"
_spec = importlib.util.spec_from_file_location("smflow_serving_test_support", _SUPPORT_PATH)
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)

BUCKET = "transform-tests"
MB = 1024 * 1024


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


def _model_with_code(root: Path, s3, name: str, script: str, environment: dict | None = None, iris=False):
    """A model whose model.tar.gz holds code/<script> (SAGEMAKER_SUBMIT_DIRECTORY /opt/ml/model/code)."""
    model_dir = root / "model"
    model = support.train_iris_model(model_dir) if iris else None
    if not iris:
        model_dir.mkdir(parents=True)
    support.copy_script(script, model_dir / "code")
    uri = support.upload(
        s3, support.make_tar_gz(model_dir, root / "model.tar.gz"), BUCKET, f"{name}/model.tar.gz"
    )
    env = {
        "SAGEMAKER_PROGRAM": script,
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        **(environment or {}),
    }
    return model, support.model_description(name, uri, env)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory, s3):
    return _model_with_code(tmp_path_factory.mktemp("iris"), s3, "iris", "scikit_learn_iris.py", iris=True)


@pytest.fixture(scope="module")
def rowid_model(tmp_path_factory, s3):
    """Predicts each CSV row's first column + ROWID_OFFSET (0 in the model's Environment)."""
    return _model_with_code(tmp_path_factory.mktemp("rowid"), s3, "rowid", "rowid.py", {"ROWID_OFFSET": "0"})[
        1
    ]


def _put(s3, key: str, data: bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    return f"s3://{BUCKET}/{key}"


def _get(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _keys(s3, prefix: str) -> list[str]:
    return sorted(
        item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    )


def _rows(ids) -> bytes:
    return "".join(f"{i},{i % 7}.25,1.5\n" for i in ids).encode()


def _job(
    name: str,
    input_uri: str,
    output_uri: str,
    *,
    split="Line",
    strategy=None,
    max_payload=None,
    accept="text/csv",
    assemble="Line",
    instances=1,
    max_concurrent=None,
    environment=None,
) -> dict:
    description = {
        "TransformJobName": name,
        "TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
        "ModelName": "model",
        "TransformJobStatus": "InProgress",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "text/csv",
            "CompressionType": "None",
            "SplitType": split,
        },
        "TransformOutput": {"S3OutputPath": output_uri, "Accept": accept, "AssembleWith": assemble},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": instances},
        "CreationTime": time.time(),
    }
    for field, value in (
        ("BatchStrategy", strategy),
        ("MaxPayloadInMB", max_payload),
        ("MaxConcurrentTransforms", max_concurrent),
        ("Environment", environment),
    ):
        if value is not None:
            description[field] = value
    return description


class Job:
    def __init__(self, description: dict, model: dict, work_dir: Path, aws: LocalAws):
        self.updates: list[dict] = []
        self.state = dict(description)
        self.run = TransformRun(description, model, work_dir, aws, self._on_update)

    def _on_update(self, fields: dict) -> None:
        self.updates.append(dict(fields))
        self.state.update(fields)

    def execute(self, timeout: float = 120) -> dict:
        self.run.start()
        self.run.join(timeout)
        assert self.state["TransformJobStatus"] in ("Completed", "Failed", "Stopped"), self.state
        return self.state


def test_blog_iris_transform_writes_one_prediction_per_line_per_object(tmp_path, aws, s3, iris_model):
    model, description = iris_model
    features, _ = support.iris()
    as_csv = lambda rows: "".join(
        ",".join(f"{v:.1f}" for v in row) + "\n" for row in rows
    ).encode()  # noqa: E731
    input_uri = _put(s3, "blog/in/part-a.csv", as_csv(features[:100]))
    _put(s3, "blog/in/sub/part-b.csv", as_csv(features[100:]))

    job = Job(_job("blog", f"s3://{BUCKET}/blog/in/", f"s3://{BUCKET}/blog/out"), description, tmp_path, aws)
    state = job.execute()

    assert state["TransformJobStatus"] == "Completed", state.get("FailureReason")
    assert input_uri.endswith("part-a.csv")
    assert _keys(s3, "blog/out") == ["blog/out/part-a.csv.out", "blog/out/sub/part-b.csv.out"]
    for key, rows in (
        ("blog/out/part-a.csv.out", features[:100]),
        ("blog/out/sub/part-b.csv.out", features[100:]),
    ):
        lines = _get(s3, key).decode().splitlines()
        assert [int(line) for line in lines] == model.predict(rows).tolist()
    statuses = [update["TransformJobStatus"] for update in job.updates if "TransformJobStatus" in update]
    assert statuses == ["InProgress", "Completed"]
    assert state["TransformStartTime"] <= state["TransformEndTime"]


def test_multi_record_packs_mini_batches_under_max_payload_in_order(tmp_path, aws, s3, rowid_model):
    big_ids = range(150_000)  # ~2.3 MB: at least three 1 MB mini-batches
    big = _rows(big_ids)
    assert len(big) > 2 * MB
    _put(s3, "multi/in/big.csv", big)
    _put(s3, "multi/in/small.csv", _rows(range(5)))
    description = _job(
        "multi",
        f"s3://{BUCKET}/multi/in",
        f"s3://{BUCKET}/multi/out/",
        strategy="MultiRecord",
        max_payload=1,
        accept="application/json",
        instances=2,
        max_concurrent=2,
        environment={"ROWID_OFFSET": "1000"},
    )

    state = Job(description, rowid_model, tmp_path, aws).execute()

    assert state["TransformJobStatus"] == "Completed", state.get("FailureReason")
    batches = [json.loads(line) for line in _get(s3, "multi/out/big.csv.out").decode().splitlines()]
    assert len(batches) >= 3  # AssembleWith Line: one JSON answer per mini-batch
    assert [value for batch in batches for value in batch] == [i + 1000.0 for i in big_ids]  # job env wins
    assert json.loads(_get(s3, "multi/out/small.csv.out")) == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]


def test_single_record_sends_one_request_per_line(tmp_path, aws, s3, rowid_model):
    _put(s3, "single/in/data.csv", _rows(range(10)) + b"\n" + _rows(range(10, 20)).rstrip(b"\n"))
    description = _job(
        "single",
        f"s3://{BUCKET}/single/in/",
        f"s3://{BUCKET}/single/out",
        strategy="SingleRecord",
        accept="application/json",
        max_concurrent=3,
    )

    state = Job(description, rowid_model, tmp_path, aws).execute()

    assert state["TransformJobStatus"] == "Completed", state.get("FailureReason")
    lines = _get(s3, "single/out/data.csv.out").decode().splitlines()
    assert [json.loads(line) for line in lines] == [[float(i)] for i in range(20)]  # one answer per record


def test_split_type_none_sends_each_object_whole(tmp_path, aws, s3, rowid_model):
    _put(s3, "whole/in/a.csv", _rows(range(10)))
    description = _job(
        "whole",
        f"s3://{BUCKET}/whole/in/",
        f"s3://{BUCKET}/whole/out",
        split="None",
        accept="application/json",
        assemble="None",
    )

    state = Job(description, rowid_model, tmp_path, aws).execute()

    assert state["TransformJobStatus"] == "Completed", state.get("FailureReason")
    assert json.loads(_get(s3, "whole/out/a.csv.out")) == [float(i) for i in range(10)]  # one request


def test_bad_input_object_fails_the_job_naming_it(tmp_path, aws, s3, rowid_model):
    _put(s3, "bad/in/good.csv", _rows(range(3)))
    _put(s3, "bad/in/zbad.csv", b"1,2,3\nnot-a-number,2,3\n")
    description = _job("bad", f"s3://{BUCKET}/bad/in/", f"s3://{BUCKET}/bad/out", strategy="MultiRecord")

    state = Job(description, rowid_model, tmp_path, aws).execute()

    assert state["TransformJobStatus"] == "Failed"
    reason = state["FailureReason"]
    assert f"s3://{BUCKET}/bad/in/zbad.csv" in reason
    assert "500" in reason and "could not convert string to float" in reason
    assert _keys(s3, "bad/out") == ["bad/out/good.csv.out"]  # successful objects are still uploaded
    events = aws.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix="bad/i-"
    )["events"]
    assert any("could not convert string to float" in event["message"] for event in events)


def test_record_larger_than_max_payload_fails_clearly(tmp_path, aws, s3, rowid_model):
    _put(s3, "huge/in/data.csv", b"1,2\n" + b"3," + b"4" * (MB + 10) + b"\n")
    description = _job(
        "huge", f"s3://{BUCKET}/huge/in/", f"s3://{BUCKET}/huge/out", strategy="MultiRecord", max_payload=1
    )

    state = Job(description, rowid_model, tmp_path, aws).execute()

    assert state["TransformJobStatus"] == "Failed"
    assert (
        "huge/in/data.csv" in state["FailureReason"]
        and "larger than MaxPayloadInMB (1 MB)" in state["FailureReason"]
    )
    assert _keys(s3, "huge/out") == []


def test_empty_input_prefix_fails(tmp_path, aws, rowid_model):
    state = Job(
        _job("empty", f"s3://{BUCKET}/nothing-here/", f"s3://{BUCKET}/x"), rowid_model, tmp_path, aws
    ).execute()
    assert state["TransformJobStatus"] == "Failed"
    assert f"no S3 objects found under s3://{BUCKET}/nothing-here/" in state["FailureReason"]


def test_unsupported_split_type_fails_naming_the_field(tmp_path, aws, s3, rowid_model):
    _put(s3, "tfrecord/in/a.rec", b"\x00")
    state = Job(
        _job("tfrec", f"s3://{BUCKET}/tfrecord/in/", f"s3://{BUCKET}/y", split="TFRecord"),
        rowid_model,
        tmp_path,
        aws,
    ).execute()
    assert state["TransformJobStatus"] == "Failed"
    assert "TransformInput.SplitType 'TFRecord'" in state["FailureReason"]


def test_recordio_split_of_data_that_is_not_recordio_fails_the_object(tmp_path, aws, s3, rowid_model):
    _put(s3, "recordio/in/a.rec", b"1,2\n3,4\n")
    state = Job(
        _job("rec", f"s3://{BUCKET}/recordio/in/", f"s3://{BUCKET}/y", split="RecordIO"),
        rowid_model,
        tmp_path,
        aws,
    ).execute()
    assert state["TransformJobStatus"] == "Failed"
    assert f"s3://{BUCKET}/recordio/in/a.rec: not RecordIO at byte offset 0" in state["FailureReason"]


def test_model_fn_error_fails_the_job_with_its_message(tmp_path, aws, s3):
    _, description = _model_with_code(tmp_path / "m", s3, "broken-transform", "broken_model_fn.py")
    _put(s3, "broken/in/a.csv", b"1,2\n")
    state = Job(
        _job("broken", f"s3://{BUCKET}/broken/in/", f"s3://{BUCKET}/broken/out"),
        description,
        tmp_path / "w",
        aws,
    ).execute()
    assert state["TransformJobStatus"] == "Failed"
    assert "cannot load weights: model.joblib is corrupted" in state["FailureReason"]


def test_stop_ends_the_job_stopped_without_partial_output(tmp_path, aws, s3, rowid_model):
    _put(s3, "stop/in/data.csv", _rows(range(200_000)))
    description = _job("stop", f"s3://{BUCKET}/stop/in/", f"s3://{BUCKET}/stop/out", strategy="SingleRecord")
    job = Job(description, rowid_model, tmp_path, aws)
    job.run.start()
    deadline = time.monotonic() + 60
    while not (tmp_path / "instance-1" / "port").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # some records are in flight
    pids = job.run.instance_pids
    assert len(pids) == 1 and _pid_alive(pids[0])

    job.run.stop()
    job.run.join(30)

    assert job.state["TransformJobStatus"] == "Stopped"
    assert "FailureReason" not in job.state
    assert _keys(s3, "stop/out") == []
    assert not _pid_alive(pids[0])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("key", "prefix", "expected"),
    [
        ("in/a.csv", "in/", "a.csv"),
        ("in/sub/b.csv", "in", "sub/b.csv"),
        ("in/data-1.csv", "in/data", "data-1.csv"),
        ("in/a.csv", "in/a.csv", "a.csv"),
        ("a.csv", "", "a.csv"),
    ],
)
def test_output_names_are_relative_to_the_input_prefix(key, prefix, expected):
    assert relative_name(key, prefix) == expected


def test_transform_job_through_the_runtime_api(runtime, s3, rowid_model):
    """CreateModel + CreateTransformJob with boto3; the job's status and outputs as users see them."""
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    sagemaker = session.client("sagemaker", endpoint_url=runtime.url)
    container = rowid_model["PrimaryContainer"]
    sagemaker.create_model(
        ModelName="rowid-api",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        PrimaryContainer=container,
    )
    _put(s3, "api/in/data.csv", _rows(range(100)))
    sagemaker.create_transform_job(
        TransformJobName="rowid-api",
        ModelName="rowid-api",
        BatchStrategy="MultiRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/api/in"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{BUCKET}/api/out",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="rowid-api", WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
    )
    description = sagemaker.describe_transform_job(TransformJobName="rowid-api")

    assert description["TransformJobStatus"] == "Completed", description.get("FailureReason")
    assert description["TransformStartTime"] <= description["TransformEndTime"]
    assert [float(v) for v in _get(s3, "api/out/data.csv.out").split()] == [float(i) for i in range(100)]
