"""The client's decisions (which job to reuse, create or update) against stubbed SageMaker
responses, and code packaging against moto's S3."""

import io
import json
import tarfile

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from smflow.client import SageMakerClient
from smflow.errors import ConfigurationError, JobExistsError, ResourceFailedError
from smflow.waiting import Backoff


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = SageMakerClient(region_name="us-east-1", role="arn:aws:iam::123456789012:role/r",
                                 backoff=Backoff.fixed(0.0), log=lambda line: None)
        client.__dict__["sagemaker"] = boto3.client("sagemaker", region_name="us-east-1")
        yield client


def not_found(stub, method, **params):
    stub.add_client_error(method, service_error_code="ValidationException",
                          service_message="Requested resource not found.", expected_params=params or None)


def job(name, status, reason=None):
    description = {
        "TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": status, "SecondaryStatus": status, "CreationTime": 0,
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/{name}/output/model.tar.gz"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "HyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": '"s3://b/src.tar.gz"'},
    }
    if reason:
        description["FailureReason"] = reason
    return description


RAW = {
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": "1", "VolumeSizeInGB": "30"},
    "StoppingCondition": {"MaxRuntimeInSeconds": "60"},
}


def test_retry_attaches_to_a_job_in_progress_instead_of_creating(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", job("train-1", "InProgress"), {"TrainingJobName": "train-1"})
        stub.add_response("describe_training_job", job("train-1", "InProgress"), {"TrainingJobName": "train-1"})
        stub.add_response("describe_training_job", job("train-1", "Completed"), {"TrainingJobName": "train-1"})
        result = client.train(config=RAW, job_name="train-1", logs=False)
    assert result["TrainingJobStatus"] == "Completed"  # no create_training_job call was stubbed


def test_completed_job_is_reused(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", job("t", "Completed"), {"TrainingJobName": "t"})
        stub.add_response("describe_training_job", job("t", "Completed"), {"TrainingJobName": "t"})
        assert client.train(config=RAW, job_name="t", logs=False)["TrainingJobName"] == "t"


def test_failed_job_is_followed_by_a_suffixed_one(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", job("t", "Failed", "boom"), {"TrainingJobName": "t"})
        stub.add_response("describe_training_job", job("t-2", "Stopped"), {"TrainingJobName": "t-2"})
        not_found(stub, "describe_training_job", TrainingJobName="t-3")
        expected = {**RAW, "TrainingJobName": "t-3", "RoleArn": "arn:aws:iam::123456789012:role/r",
                    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:x"}, expected)
        stub.add_response("describe_training_job", job("t-3", "InProgress"), {"TrainingJobName": "t-3"})
        result = client.train(config=RAW, job_name="t", wait=False)
    assert result["TrainingJobName"] == "t-3"


def test_fail_action_raises(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", job("t", "Completed"), {"TrainingJobName": "t"})
        with pytest.raises(JobExistsError, match="'t' already exists"):
            client.train(config=RAW, job_name="t", action_if_job_exists="fail")


def test_stopped_job_fails_the_wait_with_its_reason(client):
    with Stubber(client.sagemaker) as stub:
        not_found(stub, "describe_training_job")
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:x"})
        stub.add_response("describe_training_job", job("t", "Stopped", "stopped by user"))
        with pytest.raises(ResourceFailedError, match="Stopped: stopped by user"):
            client.train(config=RAW, job_name="t", logs=False)


def test_attach_to_missing_job_names_it(client):
    with Stubber(client.sagemaker) as stub:
        not_found(stub, "describe_training_job")
        with pytest.raises(ConfigurationError, match="training job 'nope' not found"):
            client.attach("nope")


def test_delete_endpoint_that_is_gone_is_not_an_error(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_client_error("describe_endpoint", service_error_code="ValidationException",
                              service_message='Could not find endpoint "arn:...:endpoint/e".')
        assert client.delete_endpoint("e") == {"EndpointName": "e", "Deleted": []}


def test_create_model_from_training_job_reuses_its_code(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", job("t", "Completed"), {"TrainingJobName": "t"})
        stub.add_client_error("describe_model", service_error_code="ValidationException",
                              service_message='Could not find model "t".')
        stub.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/t"}, {
            "ModelName": "t",
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
            "PrimaryContainer": {"Image": "img", "ModelDataUrl": "s3://b/t/output/model.tar.gz", "Environment": {
                "SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/src.tar.gz",
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": "us-east-1"}},
        })
        stub.add_response("describe_model", {"ModelName": "t", "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/t", "CreationTime": 0,
                                             "PrimaryContainer": {"Image": "img", "ModelDataUrl": "s3://b/t/output/model.tar.gz"}})
        assert client.create_model(training_job_name="t")["ModelArn"] == "arn:aws:sagemaker:us-east-1:123456789012:model/t"


def test_create_model_needs_exactly_one_source(client):
    with pytest.raises(ConfigurationError, match="exactly one of training_job_name or model_data"):
        client.create_model()
    with pytest.raises(ConfigurationError, match="entry_point is required with model_data"):
        client.create_model(model_data="s3://b/model.tar.gz")


def test_training_code_is_packaged_like_the_sdk(client, tmp_path):
    source = tmp_path / "src"
    (source / "lib").mkdir(parents=True)
    (source / "train.py").write_text("print('hi')\n")
    (source / "lib" / "util.py").write_text("X = 1\n")
    (source / "requirements.txt").write_text("\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "junk.pyc").write_bytes(b"x")
    request = client.prepare_training_job(job_name="job-1", entry_point="train.py", source_dir=str(source),
                                          hyperparameters={"epochs": 3}, inputs="s3://b/data")
    submit = json.loads(request["HyperParameters"]["sagemaker_submit_directory"])
    assert submit == "s3://sagemaker-us-east-1-123456789012/job-1/source/sourcedir.tar.gz"
    assert json.loads(request["HyperParameters"]["sagemaker_program"]) == "train.py"
    assert request["OutputDataConfig"]["S3OutputPath"] == "s3://sagemaker-us-east-1-123456789012/"
    body = client.s3.get_object(Bucket="sagemaker-us-east-1-123456789012",
                                Key="job-1/source/sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = sorted(tar.getnames())
    assert names == ["lib", "lib/util.py", "requirements.txt", "train.py"]


def test_missing_entry_point_is_a_clear_error(client, tmp_path):
    with pytest.raises(ConfigurationError, match="entry_point 'nope.py' not found in source_dir"):
        client.prepare_training_job(job_name="j", entry_point="nope.py", source_dir=str(tmp_path))
    with pytest.raises(ConfigurationError, match="instance_count must be 1"):
        client.prepare_training_job(job_name="j", entry_point="x.py", instance_count=2)


def test_log_errors_do_not_fail_a_good_job(client):
    lines = []
    client.log = lines.append
    client.__dict__["logs"] = boto3.client("logs", region_name="us-east-1")
    with Stubber(client.sagemaker) as stub, Stubber(client.logs) as logs_stub:
        stub.add_response("describe_training_job", job("t", "InProgress"))
        stub.add_response("describe_training_job", job("t", "Completed"))
        logs_stub.add_client_error("describe_log_streams", service_error_code="AccessDeniedException",
                                   service_message="not authorized to perform: logs:DescribeLogStreams")
        result = client.wait_for_training_job("t", logs=True)
    assert result["TrainingJobStatus"] == "Completed"
    assert sum("could not read the training log" in line for line in lines) == 1


def test_start_deploy_returns_the_config_being_rolled_out(client):
    endpoint = {"EndpointName": "e", "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e",
                "EndpointConfigName": "old", "EndpointStatus": "InService", "CreationTime": 0, "LastModifiedTime": 0}
    with Stubber(client.sagemaker) as stub:
        stub.add_client_error("describe_endpoint_config", service_error_code="ValidationException",
                              service_message='Could not find endpoint configuration "m2".')
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/m2"})
        stub.add_response("describe_endpoint", endpoint)
        stub.add_response("update_endpoint", {"EndpointArn": endpoint["EndpointArn"]},
                          {"EndpointName": "e", "EndpointConfigName": "m2"})
        stub.add_response("describe_endpoint", {**endpoint, "EndpointStatus": "Updating"})
        config_name, description = client.start_deploy(model_name="m2", endpoint_name="e")
    assert config_name == "m2" and description["EndpointStatus"] == "Updating"


def test_a_retried_deploy_updates_an_endpoint_left_update_rollback_failed(client):
    """UpdateRollbackFailed: a mix of configs that another UpdateEndpoint resolves (DescribeEndpoint,
    SageMaker API reference), even when the endpoint already names the config being deployed."""
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_endpoint_config", endpoint_config_description())
        stub.add_response("describe_endpoint", endpoint_description("UpdateRollbackFailed", "m"))
        stub.add_response("update_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"},
                          {"EndpointName": "e", "EndpointConfigName": "m"})
        stub.add_response("describe_endpoint", endpoint_description("Updating", "m"))
        config_name, described = client.start_deploy(model_name="m", endpoint_name="e")
        stub.assert_no_pending_responses()
    assert (config_name, described["EndpointStatus"]) == ("m", "Updating")


def test_deploy_timeout_bounds_the_whole_call_not_each_wait(client, monkeypatch):
    """deploy(timeout=100) onto an endpoint still Updating: the wait for it to settle and the wait
    for InService share the 100 s."""
    from smflow.resources import base, endpoints
    from smflow.waiting import Deadline

    now = [0.0]
    monkeypatch.setattr(Deadline, "after",
                        classmethod(lambda cls, timeout: Deadline(now[0] + timeout, lambda: now[0])))
    timeouts = []

    def fake_wait_for(describe, kind, *, timeout=None, **options):
        timeouts.append(timeout)
        now[0] += 40.0  # this wait took 40 s
        return describe()

    for module in (base, endpoints):  # the InService wait (base) and the settle wait (endpoints)
        monkeypatch.setattr(module, "wait_for", fake_wait_for)
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_endpoint_config", endpoint_config_description())
        stub.add_response("describe_endpoint", endpoint_description("Updating", "old"))
        stub.add_response("describe_endpoint", endpoint_description("InService", "old"))  # the settle wait
        stub.add_response("describe_endpoint", endpoint_description("InService", "old"))  # the way is clear
        stub.add_response("update_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"},
                          {"EndpointName": "e", "EndpointConfigName": "m"})
        stub.add_response("describe_endpoint", endpoint_description("InService", "m"))  # the InService wait
        client.deploy(model_name="m", endpoint_name="e", timeout=100)
        stub.assert_no_pending_responses()
    assert timeouts == [100.0, 60.0]


def endpoint_config_description(name="m"):
    """DescribeEndpointConfig of config ``name``: one variant serving model ``name`` (what
    ``deploy(model_name=name)`` asks for, so it is reused)."""
    return {"EndpointConfigName": name, "EndpointConfigArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{name}",
            "CreationTime": 0, "ProductionVariants": [
                {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]}


def endpoint_description(status, config="c"):
    return {"EndpointName": "e", "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e",
            "EndpointConfigName": config, "EndpointStatus": status, "CreationTime": 0, "LastModifiedTime": 0}


@pytest.mark.parametrize("method, operation, message", [
    ("wait_for_training_job", "describe_training_job", "TrainingJob 'nope' not found; check job_name"),
    ("wait_for_transform_job", "describe_transform_job", "TransformJob 'nope' not found; check job_name"),
    ("wait_for_endpoint", "describe_endpoint", "Endpoint 'nope' not found; check endpoint_name"),
])
def test_waiting_for_a_missing_resource_names_it(client, method, operation, message):
    import asyncio

    from smflow import aio

    with Stubber(client.sagemaker) as stub:
        not_found(stub, operation)
        with pytest.raises(ConfigurationError, match=message):
            getattr(client, method)("nope")
        not_found(stub, operation)
        with pytest.raises(ConfigurationError, match=message):
            asyncio.run(getattr(aio, method)(client, "nope"))


def test_other_describe_errors_still_propagate_from_a_wait(client):
    from botocore.exceptions import ClientError

    with Stubber(client.sagemaker) as stub:
        stub.add_client_error("describe_endpoint", service_error_code="AccessDeniedException", service_message="no")
        with pytest.raises(ClientError, match="AccessDenied"):
            client.wait_for_endpoint("e")


def test_deploy_onto_a_deleting_endpoint_waits_and_creates_it(client):
    lines = []
    client.log = lines.append
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_endpoint_config", endpoint_config_description())
        stub.add_response("describe_endpoint", endpoint_description("Deleting"))
        stub.add_response("describe_endpoint", endpoint_description("Deleting"))
        stub.add_client_error("describe_endpoint", service_error_code="ValidationException",
                              service_message='Could not find endpoint "e".')
        stub.add_client_error("describe_endpoint", service_error_code="ValidationException",  # looked at again
                              service_message='Could not find endpoint "e".')
        stub.add_response("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"},
                          {"EndpointName": "e", "EndpointConfigName": "m"})
        stub.add_response("describe_endpoint", endpoint_description("Creating", "m"))
        described = client.deploy(model_name="m", endpoint_name="e", wait=False)
        stub.assert_no_pending_responses()  # no update_endpoint
    assert described["EndpointStatus"] == "Creating"
    assert any("e is Deleting; waiting for the deletion" in line for line in lines)


def log_stream_page(stub):
    stub.add_response("describe_log_streams", {"logStreams": [{"logStreamName": "t/algo-1-1"}]})


def test_throttled_log_reads_are_retried_and_lose_no_line(client):
    from smflow.waiting import THROTTLING_CODES

    assert "ThrottlingException" in THROTTLING_CODES
    lines = []
    client.log = lines.append
    client.__dict__["logs"] = boto3.client("logs", region_name="us-east-1")
    stream = {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": "t/algo-1-1", "startFromHead": True}
    with Stubber(client.sagemaker) as stub, Stubber(client.logs) as logs_stub:
        for status in ("InProgress", "InProgress", "InProgress", "Completed"):  # one log tick after each
            stub.add_response("describe_training_job", job("t", status))
        logs_stub.add_client_error("describe_log_streams", service_error_code="ThrottlingException",
                                   service_message="Rate exceeded")  # tick 1; tick 2 is skipped
        log_stream_page(logs_stub)  # tick 3
        logs_stub.add_response("get_log_events", {"events": [{"timestamp": 1, "message": "epoch 1\n"}],
                                                  "nextForwardToken": "f1"}, stream)
        logs_stub.add_response("get_log_events", {"events": [], "nextForwardToken": "f1"}, {**stream, "nextToken": "f1"})
        log_stream_page(logs_stub)  # tick 4: the job is terminal
        logs_stub.add_response("get_log_events", {"events": [{"timestamp": 2, "message": "done\n"}],
                                                  "nextForwardToken": "f2"}, {**stream, "nextToken": "f1"})
        logs_stub.add_response("get_log_events", {"events": [], "nextForwardToken": "f2"}, {**stream, "nextToken": "f2"})
        result = client.wait_for_training_job("t", logs=True)
        logs_stub.assert_no_pending_responses()
    assert result["TrainingJobStatus"] == "Completed"
    assert lines[:2] == ["epoch 1", "done"]
    assert not any("could not read the training log" in line for line in lines)


def test_log_ticks_are_no_more_frequent_than_the_backoff(client):
    assert client.wait_options("TrainingJob", "t", backoff=Backoff.fixed(60.0))["tick_interval"] == 60.0
    assert client.wait_options("TrainingJob", "t", backoff=Backoff(initial=0.2))["tick_interval"] == 2.0


def delete_endpoint_stubs(stub):
    stub.add_response("describe_endpoint", endpoint_description("InService"), {"EndpointName": "e"})
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": "c", "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/c",
        "CreationTime": 0, "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]})
    stub.add_response("delete_endpoint", {}, {"EndpointName": "e"})
    stub.add_response("describe_endpoint", endpoint_description("Deleting"), {"EndpointName": "e"})
    stub.add_response("describe_endpoint", endpoint_description("Deleting"), {"EndpointName": "e"})
    stub.add_client_error("describe_endpoint", service_error_code="ValidationException",
                          service_message='Could not find endpoint "e".')
    stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "c"})
    stub.add_response("delete_model", {}, {"ModelName": "m"})


def test_async_delete_endpoint_matches_the_client_and_waits_with_asyncio_sleep(client, monkeypatch):
    import asyncio
    import time

    from smflow import aio

    client.backoff = Backoff(initial=0.01, factor=2.0, maximum=1.0)
    with Stubber(client.sagemaker) as stub:
        delete_endpoint_stubs(stub)
        expected = client.delete_endpoint("e", delete_endpoint_config=True, delete_model=True, wait=True, timeout=60)
        stub.assert_no_pending_responses()

    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay, *args, **kwargs):
        slept.append(delay)
        await real_sleep(0)

    def no_blocking_sleep(seconds):
        raise AssertionError("the async deletion blocked a thread with time.sleep")

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    monkeypatch.setattr(time, "sleep", no_blocking_sleep)
    with Stubber(client.sagemaker) as stub:
        delete_endpoint_stubs(stub)
        result = asyncio.run(aio.delete_endpoint(client, "e", delete_endpoint_config=True, delete_model=True,
                                                 wait=True, timeout=60))
        stub.assert_no_pending_responses()
    assert result == expected == {"EndpointName": "e", "Deleted": ["Endpoint/e", "EndpointConfig/c", "Model/m"]}
    assert slept == [0.01, 0.02]  # the client's backoff, between the three DescribeEndpoint calls


def test_async_delete_of_a_missing_endpoint_is_not_an_error(client):
    import asyncio

    from smflow import aio

    with Stubber(client.sagemaker) as stub:
        stub.add_client_error("describe_endpoint", service_error_code="ValidationException",
                              service_message='Could not find endpoint "e".')
        assert asyncio.run(aio.delete_endpoint(client, "e")) == {"EndpointName": "e", "Deleted": []}


def test_integer_arguments_of_the_client_name_the_field(client, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    with pytest.raises(ConfigurationError, match="instance_count must be an integer .* got 'two'"):
        client.prepare_training_job(job_name="j", entry_point=str(script), instance_count="two")
    with pytest.raises(ConfigurationError, match="instance_count must be an integer .* got 'two'"):
        client.train(entry_point=str(script), job_name="j", instance_count="two")
    with pytest.raises(ConfigurationError, match="max_run must be an integer"):
        client.prepare_training_job(job_name="j", entry_point=str(script), max_run="1 day")
    request = client.prepare_training_job(job_name="j", entry_point=str(script), instance_count="1", max_run="60")
    assert request["ResourceConfig"]["InstanceCount"] == 1 and request["StoppingCondition"]["MaxRuntimeInSeconds"] == 60


def test_deleting_an_endpoint_that_is_already_deleting_just_waits(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_endpoint", endpoint_description("Deleting"))
        stub.add_client_error("describe_endpoint_config", service_error_code="ValidationException",
                              service_message='Could not find endpoint configuration "c".')
        stub.add_client_error("describe_endpoint", service_error_code="ValidationException",
                              service_message='Could not find endpoint "e".')
        stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "c"})
        result = client.delete_endpoint("e", delete_endpoint_config=True)
        stub.assert_no_pending_responses()  # no second delete_endpoint call
    assert result == {"EndpointName": "e", "Deleted": ["EndpointConfig/c"]}
