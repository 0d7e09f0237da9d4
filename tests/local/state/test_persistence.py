"""State survives a restart: SageMaker resources, S3 objects and log events are still there, jobs
that were running end Failed with the reason, endpoints serve again; interrupted writes never
prevent a start, and unchanged objects are not rewritten."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from smflow.local.server import LocalRuntime

from ..conftest import FAST_WAIT, ROLE, FakeExecutors, Runtime, create_config, create_fake_model


@pytest.fixture
def restartable(tmp_path):
    runtime = Runtime(tmp_path / "state", FakeExecutors())
    runtime.start()
    yield runtime
    runtime.stop()


def object_files(state_dir: Path, bucket: str) -> dict[str, Path]:
    """Key -> data file of every persisted object of ``bucket``."""
    files = {}
    for meta_path in state_dir.glob("s3/*/*/objects/*.json"):
        meta = json.loads(meta_path.read_text())
        if (meta_path.parent.parent / "bucket.json").exists() and \
                json.loads((meta_path.parent.parent / "bucket.json").read_text())["name"] == bucket:
            files[meta["key"]] = meta_path.parent / meta["data"]
    return files


def test_restart_keeps_resources_objects_and_log_events(restartable, tmp_path):
    sm = restartable.client("sagemaker")
    create_config(sm, "cfg", create_fake_model(sm, "model-a"))
    s3 = restartable.client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="small/a b+c.txt", Body=b"hello", ContentType="text/plain",
                  Metadata={"trained_by": "job-1"})
    big = os.urandom(12 * 1024 * 1024)  # larger than moto's in-memory buffer: spooled to disk
    (tmp_path / "big.bin").write_bytes(big)
    s3.upload_file(str(tmp_path / "big.bin"), "artifacts", "big/model.tar.gz",
                   Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    before = {key: s3.head_object(Bucket="artifacts", Key=key) for key in ("small/a b+c.txt", "big/model.tar.gz")}
    assert before["big/model.tar.gz"]["ETag"].endswith('-3"')  # a multipart ETag
    logs = restartable.client("logs")
    logs.create_log_group(logGroupName="/aws/sagemaker/Endpoints/ep")
    logs.create_log_stream(logGroupName="/aws/sagemaker/Endpoints/ep", logStreamName="AllTraffic/i-1")
    now = int(time.time() * 1000)
    for index in range(3):
        logs.put_log_events(logGroupName="/aws/sagemaker/Endpoints/ep", logStreamName="AllTraffic/i-1",
                            logEvents=[{"timestamp": now + index, "message": f"line {index} ✓"}])
    sm.create_training_job(
        TrainingJobName="running-job", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://artifacts/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})

    restartable.stop()
    # A job that was InProgress when the process died (its record was never updated again).
    crashed = json.loads((restartable.state_dir / "sagemaker/training-jobs/running-job.json").read_text())
    crashed.update(TrainingJobName="crashed-job", TrainingJobStatus="InProgress", SecondaryStatus="Training")
    crashed.pop("FailureReason")
    (restartable.state_dir / "sagemaker/training-jobs/crashed-job.json").write_text(json.dumps(crashed))
    restartable.start()

    sm = restartable.client("sagemaker")
    assert sm.describe_model(ModelName="model-a")["PrimaryContainer"]["Image"] == "fake.example/serving:1"
    assert sm.describe_endpoint_config(EndpointConfigName="cfg")["ProductionVariants"][0]["ModelName"] == "model-a"
    for name in ("running-job", "crashed-job"):
        job = sm.describe_training_job(TrainingJobName=name)
        assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Failed", "Failed")
        assert "local runtime stopped while this training job was running" in job["FailureReason"]
    s3 = restartable.client("s3")
    for key, head in before.items():
        after = s3.head_object(Bucket="artifacts", Key=key)
        for field in ("ETag", "ContentLength", "ContentType", "LastModified", "Metadata"):
            assert after[field] == head[field], field
    assert s3.get_object(Bucket="artifacts", Key="small/a b+c.txt")["Body"].read() == b"hello"
    assert s3.get_object(Bucket="artifacts", Key="big/model.tar.gz")["Body"].read() == big
    events = restartable.client("logs").get_log_events(
        logGroupName="/aws/sagemaker/Endpoints/ep", logStreamName="AllTraffic/i-1", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["line 0 ✓", "line 1 ✓", "line 2 ✓"]
    assert [e["timestamp"] for e in events] == [now, now + 1, now + 2]


def test_unchanged_objects_are_not_rewritten_and_deletions_are_mirrored(restartable):
    s3 = restartable.client("s3")
    s3.create_bucket(Bucket="bucket")
    s3.put_object(Bucket="bucket", Key="a", Body=b"A" * 1000)
    first = object_files(restartable.state_dir, "bucket")["a"]
    stamp = first.stat().st_mtime_ns
    s3.put_object(Bucket="bucket", Key="b", Body=b"B")
    s3.copy_object(Bucket="bucket", Key="c", CopySource={"Bucket": "bucket", "Key": "b"})
    s3.create_bucket(Bucket="other")
    s3.put_object(Bucket="other", Key="o", Body=b"O")
    files = object_files(restartable.state_dir, "bucket")
    assert set(files) == {"a", "b", "c"} and files["c"].read_bytes() == b"B"
    assert files["a"] == first and first.stat().st_mtime_ns == stamp  # untouched
    assert object_files(restartable.state_dir, "other")["o"].read_bytes() == b"O"
    s3.delete_object(Bucket="other", Key="o")
    s3.delete_bucket(Bucket="other")

    s3.put_object(Bucket="bucket", Key="a", Body=b"new")  # overwrite: new file, old one removed
    files = object_files(restartable.state_dir, "bucket")
    assert files["a"] != first and not first.exists() and files["a"].read_bytes() == b"new"
    s3.delete_objects(Bucket="bucket", Delete={"Objects": [{"Key": "b"}, {"Key": "c"}]})
    assert set(object_files(restartable.state_dir, "bucket")) == {"a"}
    s3.delete_object(Bucket="bucket", Key="a")
    s3.delete_bucket(Bucket="bucket")
    assert list(restartable.state_dir.glob("s3/*/*")) == []

    restartable.restart()
    assert restartable.client("s3").list_buckets()["Buckets"] == []


def test_log_streams_are_appended_not_rewritten(restartable):
    logs = restartable.client("logs")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now, "message": "one"}])
    (stream_file,) = restartable.state_dir.glob("logs/*/*/*/streams/*.jsonl")
    first = stream_file.read_bytes()
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now + 1, "message": "two"}])
    second = stream_file.read_bytes()
    assert second.startswith(first) and len(second.splitlines()) == 3  # header + 2 events
    logs.delete_log_group(logGroupName="g")
    assert list(restartable.state_dir.glob("logs/*/*/*")) == []


def test_start_survives_interrupted_writes_and_unreadable_files(restartable):
    sm = restartable.client("sagemaker")
    create_fake_model(sm, "good-model")
    s3 = restartable.client("s3")
    s3.create_bucket(Bucket="bucket")
    s3.put_object(Bucket="bucket", Key="k", Body=b"kept")
    logs = restartable.client("logs")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now, "message": "ok"}])
    restartable.stop()

    state = restartable.state_dir
    objects = next(state.glob("s3/*/*/objects"))
    (objects / ".partial.data.tmp").write_bytes(b"half")  # crash while writing data
    orphan = objects / "0123abcd.deadbeef0000.data"  # crash between data and metadata
    orphan.write_bytes(b"orphan")
    deleted_bucket = objects.parent.parent / "gone-bucket-0000"  # crash while deleting a bucket
    (deleted_bucket / "objects").mkdir(parents=True)
    (deleted_bucket / "objects" / "x.json").write_text("{}")
    (stream_file,) = state.glob("logs/*/*/*/streams/*.jsonl")
    with open(stream_file, "ab") as handle:
        handle.write(b'[1, 2, "torn')  # crash during an append
    (state / "sagemaker/models/broken.json").write_text("{not json")
    (state / "sagemaker/models/.good-model.json.1234.tmp").write_text("{")

    restartable.start()
    assert not (objects / ".partial.data.tmp").exists() and not orphan.exists() and not deleted_bucket.exists()
    assert (state / "sagemaker/models/broken.json.corrupt").exists()
    assert not (state / "sagemaker/models/.good-model.json.1234.tmp").exists()
    sm = restartable.client("sagemaker")
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["good-model"]
    assert restartable.client("s3").get_object(Bucket="bucket", Key="k")["Body"].read() == b"kept"
    logs = restartable.client("logs")
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now + 1, "message": "later"}])
    restartable.restart()
    events = restartable.client("logs").get_log_events(logGroupName="g", logStreamName="s",
                                                       startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["ok", "later"]


def test_endpoints_are_started_again_before_the_runtime_is_ready(restartable):
    sm = restartable.client("sagemaker")
    create_config(sm, "cfg", create_fake_model(sm, "m", FAKE_START_SECONDS="1.0", FAKE_TAG="served"))
    for name in ("ep-1", "ep-2"):
        sm.create_endpoint(EndpointName=name, EndpointConfigName="cfg")
    for name in ("ep-1", "ep-2"):
        sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST_WAIT)
    sm.delete_model(ModelName="m")  # as on AWS, a running endpoint does not need its model any more
    sm.delete_endpoint_config(EndpointConfigName="cfg")
    first = list(restartable.executors.deployments)
    restartable.restart()
    assert all(d.stopped for d in first)
    again = restartable.executors.deployments[len(first):]
    assert sorted(d.endpoint_name for d in again) == ["ep-1", "ep-2"] and all(d.started for d in again)
    assert max(d.start_began for d in again) < min(d.start_ended for d in again)  # in parallel

    sm = restartable.client("sagemaker")
    smr = restartable.client("sagemaker-runtime")
    for name in ("ep-1", "ep-2"):
        assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
        body = smr.invoke_endpoint(EndpointName=name, Body=b"1", ContentType="text/csv")["Body"].read()
        assert json.loads(body)["tag"] == "served"

    # If the deployment cannot start any more, the endpoint ends Failed with the reason.
    restartable.stop()
    path = restartable.state_dir / "sagemaker/endpoints/ep-1.json"
    record = json.loads(path.read_text())
    record["_Variants"][0]["Model"]["PrimaryContainer"]["Environment"]["FAKE_FAIL"] = "image pull failed"
    path.write_text(json.dumps(record))
    restartable.start()
    described = restartable.client("sagemaker").describe_endpoint(EndpointName="ep-1")
    assert (described["EndpointStatus"], described["FailureReason"]) == ("Failed", "image pull failed")


def test_each_state_dir_has_its_own_s3_and_only_one_runtime_runs_per_process(tmp_path):
    first = Runtime(tmp_path / "one")
    first.start()
    try:
        first.client("s3").create_bucket(Bucket="only-in-one")
        with pytest.raises(RuntimeError, match="another smflow local runtime"):
            LocalRuntime(tmp_path / "two").start()
    finally:
        first.stop()
    second = Runtime(tmp_path / "two")
    second.start()
    try:
        assert second.client("s3").list_buckets()["Buckets"] == []
        with pytest.raises(ClientError):
            second.client("s3").head_bucket(Bucket="only-in-one")
    finally:
        second.stop()
