"""The local runtime answers unmodified boto3 clients: S3, STS, CloudWatch Logs and the SageMaker
resources (CRUD, errors, List* filters and pagination, endpoint lifecycle, InvokeEndpoint)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from botocore.exceptions import ClientError

from .conftest import FAST_WAIT, ROLE, create_config, create_fake_model


def error_of(info: pytest.ExceptionInfo) -> tuple[str, str]:
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


# ------------------------------------------------------------------------ S3, STS, Logs --
def test_s3_sts_and_logs_share_the_endpoint(runtime):
    s3 = runtime.client("s3")
    s3.create_bucket(Bucket="data-bucket")
    s3.put_object(Bucket="data-bucket", Key="train/iris.csv", Body=b"5.1,3.5\n", ContentType="text/csv")
    s3.put_object(Bucket="data-bucket", Key="train/more.csv", Body=b"4.9,3.0\n")
    got = s3.get_object(Bucket="data-bucket", Key="train/iris.csv")
    assert got["Body"].read() == b"5.1,3.5\n" and got["ContentType"] == "text/csv"
    listed = s3.list_objects_v2(Bucket="data-bucket", Prefix="train/")
    assert [o["Key"] for o in listed["Contents"]] == ["train/iris.csv", "train/more.csv"]
    # path-style addressing against http://127.0.0.1:PORT
    assert s3.meta.endpoint_url.startswith("http://127.0.0.1:")

    assert runtime.client("sts").get_caller_identity()["Account"] == "123456789012"

    logs = runtime.client("logs")
    logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
    logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName="job/algo-1-1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName="job/algo-1-1",
                        logEvents=[{"timestamp": now, "message": "epoch 1"},
                                   {"timestamp": now + 1, "message": "epoch 2"}])
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                 logStreamName="job/algo-1-1", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["epoch 1", "epoch 2"]


# ------------------------------------------------------------------------------ models --
def test_model_crud_and_errors(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    arn = sm.create_model(ModelName="Iris-Model", ExecutionRoleArn=ROLE,
                          PrimaryContainer={"Image": "img:1", "ModelDataUrl": "s3://b/model.tar.gz",
                                            "Environment": {"SAGEMAKER_PROGRAM": "train.py"}})["ModelArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:model/iris-model"

    described = sm.describe_model(ModelName="Iris-Model")
    assert described["ModelName"] == "Iris-Model" and described["ModelArn"] == arn
    assert described["PrimaryContainer"]["Environment"] == {"SAGEMAKER_PROGRAM": "train.py"}
    assert described["ExecutionRoleArn"] == ROLE
    assert isinstance(described["CreationTime"], dt.datetime)
    assert abs(described["CreationTime"].timestamp() - time.time()) < 60
    assert sm.describe_model(ModelName="iris-model")["ModelName"] == "Iris-Model"  # case-insensitive

    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="iris-MODEL", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
    assert error_of(info) == ("ValidationException", f'Cannot create already existing model "{arn}".')

    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="no-role", PrimaryContainer={"Image": "img:1"})
    code, message = error_of(info)
    assert code == "ValidationException" and "ExecutionRoleArn" in message

    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="no-container", ExecutionRoleArn=ROLE)
    assert "PrimaryContainer" in error_of(info)[1]

    sm.delete_model(ModelName="Iris-Model")
    for call in (sm.describe_model, sm.delete_model):
        with pytest.raises(ClientError) as info:
            call(ModelName="Iris-Model")
        assert error_of(info) == ("ValidationException", f'Could not find model "{arn}".')


def test_endpoint_config_crud_and_errors(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    create_fake_model(sm, "m1")
    arn = sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "m1", "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])["EndpointConfigArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/cfg"
    described = sm.describe_endpoint_config(EndpointConfigName="cfg")
    variant = described["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InitialVariantWeight"]) == ("m1", 1.0)

    with pytest.raises(ClientError) as info:
        create_config(sm, "cfg", "m1")
    assert error_of(info) == ("ValidationException",
                              f'Cannot create already existing endpoint configuration "{arn}".')
    with pytest.raises(ClientError) as info:
        create_config(sm, "cfg2", "missing-model")
    assert error_of(info) == (
        "ValidationException",
        'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/missing-model".')
    with pytest.raises(ClientError) as info:
        sm.create_endpoint_config(EndpointConfigName="capture", ProductionVariants=[{
            "VariantName": "v", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
            DataCaptureConfig={"InitialSamplingPercentage": 10, "DestinationS3Uri": "s3://b/c",
                               "CaptureOptions": [{"CaptureMode": "Input"}]})
    code, message = error_of(info)
    assert code == "ValidationException" and "DataCaptureConfig" in message

    sm.delete_endpoint_config(EndpointConfigName="cfg")
    with pytest.raises(ClientError) as info:
        sm.describe_endpoint_config(EndpointConfigName="cfg")
    assert error_of(info) == ("ValidationException", f'Could not find endpoint configuration "{arn}".')


# ------------------------------------------------------------------- lists and paging --
def test_list_models_filters_sorts_and_paginates(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    names = ["alpha-1", "beta-1", "alpha-2", "gamma-1", "alpha-3"]
    for name in names:
        create_fake_model(sm, name)
        time.sleep(0.01)  # distinct CreationTime

    default = [m["ModelName"] for m in sm.list_models()["Models"]]
    assert default == list(reversed(names))  # CreationTime, Descending
    ascending = sm.list_models(SortBy="Name", SortOrder="Ascending")["Models"]
    assert [m["ModelName"] for m in ascending] == sorted(names)
    assert set(ascending[0]) == {"ModelName", "ModelArn", "CreationTime"}  # ModelSummary

    assert [m["ModelName"] for m in sm.list_models(NameContains="ALPHA", SortBy="Name",
                                                    SortOrder="Ascending")["Models"]] == \
        ["alpha-1", "alpha-2", "alpha-3"]
    # botocore sends timestamps in whole seconds: filter around an hour ago and an hour ahead
    hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    assert len(sm.list_models(CreationTimeAfter=hour_ago)["Models"]) == 5
    assert sm.list_models(CreationTimeBefore=hour_ago)["Models"] == []
    assert sm.list_models(CreationTimeAfter=hour_ago + dt.timedelta(hours=2))["Models"] == []

    seen, token, pages = [], None, 0
    while True:
        page = sm.list_models(MaxResults=2, SortBy="Name", **({"NextToken": token} if token else {}))
        seen += [m["ModelName"] for m in page["Models"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and seen == sorted(names, reverse=True)

    paginated = sm.get_paginator("list_models").paginate(PaginationConfig={"PageSize": 2})
    assert sorted(m["ModelName"] for page in paginated for m in page["Models"]) == sorted(names)

    with pytest.raises(ClientError) as info:
        sm.list_models(NextToken="not-a-token")
    code, message = error_of(info)
    assert code == "ValidationException" and "NextToken" in message


def test_list_training_jobs_by_status(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    for name in ("job-a", "job-b", "job-c"):
        create_training_job(sm, name)
    fake_runtime.executors.runs["job-b"].finish("Completed", SecondaryStatus="Completed")
    in_progress = sm.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in in_progress] == ["job-a", "job-c"]  # default Ascending
    completed = sm.list_training_jobs(StatusEquals="Completed", NameContains="b")["TrainingJobSummaries"]
    assert [(j["TrainingJobName"], j["TrainingJobStatus"]) for j in completed] == [("job-b", "Completed")]
    by_status = sm.list_training_jobs(SortBy="Status", SortOrder="Ascending")["TrainingJobSummaries"]
    assert [j["TrainingJobStatus"] for j in by_status] == ["Completed", "InProgress", "InProgress"]


# -------------------------------------------------------------------------- jobs (doubles) --
def create_training_job(sm, name: str) -> str:
    return sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                                                 "sagemaker-scikit-learn:1.2-1-cpu-py3",
                                "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )["TrainingJobArn"]


def test_training_job_lifecycle_and_errors(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    arn = create_training_job(sm, "train-1")
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:training-job/train-1"
    run = fake_runtime.executors.runs["train-1"]
    assert run.started.is_set() and run.description["TrainingJobArn"] == arn
    described = sm.describe_training_job(TrainingJobName="train-1")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("InProgress", "Starting")

    with pytest.raises(ClientError) as info:
        create_training_job(sm, "train-1")
    code, message = error_of(info)
    assert code == "ResourceInUse" and arn in message

    sm.stop_training_job(TrainingJobName="train-1")
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="train-1", WaiterConfig=FAST_WAIT)
    assert run.stopped.is_set()
    assert sm.describe_training_job(TrainingJobName="train-1")["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as info:
        sm.stop_training_job(TrainingJobName="train-1")
    assert error_of(info)[0] == "ValidationException" and "Stopped" in error_of(info)[1]

    for call in (sm.describe_training_job, sm.stop_training_job):
        with pytest.raises(ClientError) as info:
            call(TrainingJobName="missing")
        assert error_of(info) == ("ValidationException", "Requested resource not found.")

    # a late progress update after the terminal status changes nothing
    run.finish("Completed")
    assert sm.describe_training_job(TrainingJobName="train-1")["TrainingJobStatus"] == "Stopped"


def test_transform_job_needs_an_existing_model(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    request = dict(TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
                                   "ContentType": "text/csv"},
                   TransformOutput={"S3OutputPath": "s3://b/out"},
                   TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    with pytest.raises(ClientError) as info:
        sm.create_transform_job(TransformJobName="t1", ModelName="nope", **request)
    assert error_of(info)[1] == 'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/nope".'
    create_fake_model(sm, "m")
    sm.create_transform_job(TransformJobName="t1", ModelName="m", **request)
    with pytest.raises(ClientError) as info:
        sm.create_transform_job(TransformJobName="t1", ModelName="m", **request)
    assert error_of(info)[0] == "ResourceInUse"
    fake_runtime.executors.runs["t1"].finish("Completed", TransformEndTime=time.time())
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="t1", WaiterConfig=FAST_WAIT)
    summaries = sm.list_transform_jobs(StatusEquals="Completed")["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in summaries] == ["t1"] and "LastModifiedTime" in summaries[0]


# ------------------------------------------------------------------- endpoints (doubles) --
def test_endpoint_create_invoke_update_delete(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    smr = fake_runtime.client("sagemaker-runtime")
    create_config(sm, "cfg-v1", create_fake_model(sm, "model-v1", FAKE_HOLD="1", FAKE_TAG="v1"))
    create_config(sm, "cfg-v2", create_fake_model(sm, "model-v2", FAKE_HOLD="1", FAKE_TAG="v2"))
    gates = fake_runtime.executors.gates
    arn = sm.create_endpoint(EndpointName="Iris-Endpoint", EndpointConfigName="cfg-v1")["EndpointArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/iris-endpoint"
    assert sm.describe_endpoint(EndpointName="Iris-Endpoint")["EndpointStatus"] == "Creating"
    with pytest.raises(ClientError) as info:  # not yet InService: like AWS, "not found"
        smr.invoke_endpoint(EndpointName="Iris-Endpoint", Body=b"1", ContentType="text/csv")
    assert error_of(info) == ("ValidationError", "Endpoint Iris-Endpoint of account 123456789012 not found.")

    gates["v1"].set()
    sm.get_waiter("endpoint_in_service").wait(EndpointName="Iris-Endpoint", WaiterConfig=FAST_WAIT)
    described = sm.describe_endpoint(EndpointName="Iris-Endpoint")
    assert described["EndpointConfigName"] == "cfg-v1"
    assert described["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1

    answer = smr.invoke_endpoint(EndpointName="Iris-Endpoint", Body=b"5.1,3.5", ContentType="text/csv",
                                 Accept="application/json", CustomAttributes="trace=1")
    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert json.loads(answer["Body"].read()) == {"tag": "v1", "body": "5.1,3.5", "accept": "application/json",
                                                 "custom_attributes": "trace=1"}
    with pytest.raises(ClientError) as info:  # the name's case must match in InvokeEndpoint
        smr.invoke_endpoint(EndpointName="iris-endpoint", Body=b"1", ContentType="text/csv")
    assert error_of(info)[0] == "ValidationError"

    # UpdateEndpoint: the old deployment serves until the switch, no request fails
    tags, failures, done = [], [], threading.Event()

    def keep_invoking():
        client = fake_runtime.client("sagemaker-runtime")
        while not done.is_set():
            try:
                body = client.invoke_endpoint(EndpointName="Iris-Endpoint", Body=b"x", ContentType="text/csv")["Body"]
                tags.append(json.loads(body.read())["tag"])
            except ClientError as error:  # pragma: no cover - the assertion below reports it
                failures.append(error)

    caller = threading.Thread(target=keep_invoking)
    caller.start()
    try:
        sm.update_endpoint(EndpointName="Iris-Endpoint", EndpointConfigName="cfg-v2")
        updating = sm.describe_endpoint(EndpointName="Iris-Endpoint")
        assert updating["EndpointStatus"] == "Updating"
        assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "cfg-v2"
        with pytest.raises(ClientError) as info:
            sm.update_endpoint(EndpointName="Iris-Endpoint", EndpointConfigName="cfg-v2")
        assert error_of(info) == ("ValidationException", f'Cannot update in-progress endpoint "{arn}".')
        time.sleep(0.2)  # the caller keeps being served by v1 while v2 starts
        gates["v2"].set()
        sm.get_waiter("endpoint_in_service").wait(EndpointName="Iris-Endpoint", WaiterConfig=FAST_WAIT)
        time.sleep(0.1)
    finally:
        done.set()
        caller.join()
    assert failures == []
    assert "v1" in tags and tags[-1] == "v2" and tags == sorted(tags)  # v1 ... then v2 only
    described = sm.describe_endpoint(EndpointName="Iris-Endpoint")
    assert described["EndpointConfigName"] == "cfg-v2" and "PendingDeploymentSummary" not in described
    old, new = fake_runtime.executors.deployments
    assert old.stopped and not new.stopped

    sm.delete_endpoint(EndpointName="Iris-Endpoint")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="Iris-Endpoint", WaiterConfig=FAST_WAIT)
    assert new.stopped
    with pytest.raises(ClientError) as info:
        sm.describe_endpoint(EndpointName="Iris-Endpoint")
    assert error_of(info) == ("ValidationException", f'Could not find endpoint "{arn}".')
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="Iris-Endpoint", Body=b"1", ContentType="text/csv")
    assert error_of(info)[0] == "ValidationError"
    assert not (fake_runtime.state_dir / "work" / "endpoints" / "Iris-Endpoint").exists()


def test_failed_update_rolls_back_and_failed_create_reports_the_reason(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    smr = fake_runtime.client("sagemaker-runtime")
    create_config(sm, "good", create_fake_model(sm, "good-model", FAKE_TAG="good"))
    create_config(sm, "bad", create_fake_model(sm, "bad-model", FAKE_FAIL="model_fn raised ValueError: boom"))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="good")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST_WAIT)

    sm.update_endpoint(EndpointName="ep", EndpointConfigName="bad")
    deadline = time.time() + 10
    while sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] != "InService" and time.time() < deadline:
        time.sleep(0.02)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "good"
    assert "bad" in described["FailureReason"] and "model_fn raised ValueError: boom" in described["FailureReason"]
    body = smr.invoke_endpoint(EndpointName="ep", Body=b"1", ContentType="text/csv")["Body"].read()
    assert json.loads(body)["tag"] == "good"

    sm.create_endpoint(EndpointName="broken", EndpointConfigName="bad")
    with pytest.raises(Exception) as info:  # botocore's WaiterError: endpoint_in_service saw Failed
        sm.get_waiter("endpoint_in_service").wait(EndpointName="broken", WaiterConfig=FAST_WAIT)
    assert "Failed" in str(info.value)
    failed = sm.describe_endpoint(EndpointName="broken")
    assert failed["FailureReason"] == "model_fn raised ValueError: boom"
    assert [e["EndpointName"] for e in sm.list_endpoints(StatusEquals="Failed")["Endpoints"]] == ["broken"]
    sm.delete_endpoint(EndpointName="broken")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="broken", WaiterConfig=FAST_WAIT)


def test_model_errors_come_back_as_model_error_424(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    smr = fake_runtime.client("sagemaker-runtime")
    create_config(sm, "cfg", create_fake_model(sm, "m"), variant="primary-variant")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST_WAIT)
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="ep", Body=b"1", ContentType="application/x-unsupported")
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 415
    assert response["OriginalMessage"] == "unsupported content type: application/x-unsupported"
    assert response["LogStreamArn"] == \
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep"
    assert response["Error"]["Message"].startswith(
        'Received client error (415) from primary with message "unsupported content type')
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="ep", Body=b"1", ContentType="text/csv", TargetVariant="other")
    assert error_of(info)[0] == "ValidationError" and "other" in error_of(info)[1]
    answer = smr.invoke_endpoint(EndpointName="ep", Body=b"1", ContentType="text/csv",
                                 TargetVariant="primary-variant")
    assert answer["InvokedProductionVariant"] == "primary-variant"


def _read_response(stream) -> tuple[int, dict[str, str], bytes]:
    status = int(stream.readline().split()[1])
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, stream.read(int(headers["content-length"]))


def test_invocations_share_a_kept_alive_connection_even_after_a_refused_one(fake_runtime):
    """InvokeEndpoint answers on a kept-alive connection; a refused request's body is consumed,
    so the next request on the same connection is read from its own first byte."""
    import socket
    from urllib.parse import urlsplit

    sm = fake_runtime.client("sagemaker")
    create_config(sm, "cfg", create_fake_model(sm, "m", FAKE_TAG="kept"))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST_WAIT)

    def request(endpoint: str, body: bytes, **headers: str) -> bytes:
        lines = [f"POST /endpoints/{endpoint}/invocations HTTP/1.1", "Host: local", "Content-Type: text/csv",
                 f"Content-Length: {len(body)}", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    url = urlsplit(fake_runtime.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        stream = connection.makefile("rb")
        connection.sendall(request("no-such-endpoint", b"POST /endpoints/ep/invocations HTTP/1.1\r\n\r\n")
                           + request("ep", b"5.1,3.5", X_Amzn_SageMaker_Custom_Attributes="n=2")
                           + request("ep", b"x" * 70000))
        status, headers, body = _read_response(stream)
        assert status == 400 and headers["x-amzn-errortype"] == "ValidationError"
        assert json.loads(body)["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."
        status, headers, body = _read_response(stream)
        assert status == 200 and headers["x-amzn-invoked-production-variant"] == "AllTraffic"
        assert json.loads(body) == {"tag": "kept", "body": "5.1,3.5", "accept": None, "custom_attributes": "n=2"}
        status, _, body = _read_response(stream)
        assert status == 200 and json.loads(body)["body"] == "x" * 70000
        connection.sendall(request("ep", b"1", Connection="close"))
        status, headers, _ = _read_response(stream)
        assert status == 200 and headers.get("connection") == "close"
        assert stream.read() == b""  # the runtime closed the connection as asked


# ------------------------------------------------------------- python -m entry point --
def test_module_entry_point_serves_until_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "smflow.local.server", "--port", "0", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        line = process.stdout.readline()
        assert "ready at http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        import boto3

        s3 = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b",
                                   region_name="us-east-1").client("s3", endpoint_url=url)
        s3.create_bucket(Bucket="kept-bucket")
        s3.put_object(Bucket="kept-bucket", Key="k", Body=b"v")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert list((tmp_path / "state" / "s3").glob("*/*/objects/*.data"))


# ------------------------------------------------------------ the real executors, end to end --
TRAIN_SCRIPT = '''
import argparse, os
import joblib
import pandas as pd
from sklearn.tree import DecisionTreeClassifier


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_leaf_nodes", type=int, default=None)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()
    frames = [pd.read_csv(os.path.join(args.train, name), header=None) for name in os.listdir(args.train)]
    data = pd.concat(frames)
    model = DecisionTreeClassifier(max_leaf_nodes=args.max_leaf_nodes).fit(data.iloc[:, 1:], data.iloc[:, 0])
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    print("trained on", len(data), "rows")
'''


@pytest.mark.integration
def test_real_executors_train_deploy_invoke_transform_and_restart(runtime, tmp_path):
    from smflow.image_uris import sklearn_image_uri
    from smflow.local.files import make_tar_gz

    image = sklearn_image_uri("us-east-1", "1.2-1")
    s3, sm = runtime.client("s3"), runtime.client("sagemaker")
    s3.create_bucket(Bucket="lifecycle")
    rows = "\n".join(f"{label},{label * 2 + 0.1 * i},{label - 0.05 * i}" for label in (0, 1, 2) for i in range(8))
    s3.put_object(Bucket="lifecycle", Key="data/train.csv", Body=rows.encode())
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").write_text(TRAIN_SCRIPT)
    s3.upload_file(str(make_tar_gz(source, tmp_path / "sourcedir.tar.gz")), "lifecycle", "code/sourcedir.tar.gz")
    submit = "s3://lifecycle/code/sourcedir.tar.gz"

    sm.create_training_job(
        TrainingJobName="e2e-train", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        HyperParameters={"max_leaf_nodes": "10", "sagemaker_program": json.dumps("train.py"),
                         "sagemaker_submit_directory": json.dumps(submit)},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://lifecycle/data", "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": "s3://lifecycle/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 300})
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="e2e-train", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    job = sm.describe_training_job(TrainingJobName="e2e-train")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    artifacts = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifacts == "s3://lifecycle/output/e2e-train/output/model.tar.gz"

    environment = {"SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY": submit}
    sm.create_model(ModelName="e2e-model", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": image, "ModelDataUrl": artifacts, "Environment": environment})
    create_config(sm, "e2e-config", "e2e-model")
    sm.create_endpoint(EndpointName="e2e-endpoint", EndpointConfigName="e2e-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-endpoint",
                                              WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    smr = runtime.client("sagemaker-runtime")
    answer = smr.invoke_endpoint(EndpointName="e2e-endpoint", Body=b"4.1,1.9\n0.1,0.0",
                                 ContentType="text/csv", Accept="application/json")
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert json.loads(answer["Body"].read()) == [2, 0]
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="e2e-endpoint", Body=b"1", ContentType="application/x-unknown")
    assert info.value.response["Error"]["Code"] == "ModelError"
    assert 400 <= info.value.response["OriginalStatusCode"] < 500

    s3.put_object(Bucket="lifecycle", Key="batch/input.csv", Body=b"4.1,1.9\n2.1,0.9\n")
    sm.create_transform_job(
        TransformJobName="e2e-transform", ModelName="e2e-model",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://lifecycle/batch"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://lifecycle/batch-output"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="e2e-transform", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    transform = sm.describe_transform_job(TransformJobName="e2e-transform")
    assert transform["TransformJobStatus"] == "Completed", transform.get("FailureReason")
    output = s3.get_object(Bucket="lifecycle", Key="batch-output/input.csv.out")["Body"].read()
    assert output.strip()

    runtime.restart()  # the endpoint serves again as soon as the runtime is ready
    smr = runtime.client("sagemaker-runtime")
    answer = smr.invoke_endpoint(EndpointName="e2e-endpoint", Body=b"0.1,0.0", ContentType="text/csv",
                                 Accept="application/json")
    assert json.loads(answer["Body"].read()) == [0]

    sm = runtime.client("sagemaker")
    sm.delete_endpoint(EndpointName="e2e-endpoint")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="e2e-endpoint", WaiterConfig=FAST_WAIT)
