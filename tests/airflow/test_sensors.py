"""Unit tests of the sensors (stubbed boto3 calls): the operators' state table in poke, reschedule
and deferrable modes, XCom values and template rendering."""

from __future__ import annotations

import json
import time

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from smflow_airflow.sensors.sagemaker import (
    SageMakerEndpointSensor,
    SageMakerTrainingJobSensor,
    SageMakerTransformJobSensor,
)

from smflow.client import SageMakerClient

from .conftest import STUB_ENDPOINT, connection_uri, make_context
from .responses import endpoint, training_job, transform_job


def test_training_sensor_renders_its_job_name_and_returns_the_summary(stubbed):
    sensor = SageMakerTrainingJobSensor(task_id="wait", job_name="{{ params.job }}", print_log=False)
    context = make_context("wait", params={"job": "job-1"})
    sensor.render_template_fields(context)
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1", "InProgress"), {"TrainingJobName": "job-1"})
    assert sensor.poke(context) is False
    stubbed.sagemaker.add_client_error("describe_training_job", service_error_code="ThrottlingException")
    assert sensor.poke(context) is False  # throttled: not done yet, not a failure
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1"), {"TrainingJobName": "job-1"})
    done = sensor.poke(context)
    assert isinstance(done, PokeReturnValue) and done.is_done
    assert done.xcom_value["TrainingJobName"] == "job-1" and done.xcom_value["TrainingJobStatus"] == "Completed"
    json.dumps(done.xcom_value)
    assert context["ti"].pushed["smflow_training_job"]["name"] == "job-1"
    stubbed.assert_done()


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_training_sensor_fails_for_good_on_failed_and_stopped_jobs(stubbed, status):
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1", status, FailureReason="OOM"))
    sensor = SageMakerTrainingJobSensor(task_id="wait", job_name="job-1", print_log=False)
    with pytest.raises(AirflowFailException, match=f"TrainingJob 'job-1' ended in status {status}: OOM"):
        sensor.poke(make_context("wait"))


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_soft_fail_turns_a_failed_job_into_a_skip(stubbed, deferrable, status):
    """In poke mode BaseSensorOperator.execute does it; deferrable, the check before deferring."""
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1", status, FailureReason="OOM"))
    sensor = SageMakerTrainingJobSensor(task_id="wait", job_name="job-1", print_log=False, soft_fail=True,
                                        poke_interval=0, deferrable=deferrable)
    with pytest.raises(AirflowSkipException) as info:
        sensor.execute(make_context("wait"))
    assert isinstance(info.value.__cause__, AirflowFailException)
    assert f"TrainingJob 'job-1' ended in status {status}" in str(info.value.__cause__)
    stubbed.assert_done()


@pytest.mark.parametrize("event, cause", [
    ({"status": "failed", "kind": "TrainingJob", "name": "job-1", "resource_status": "Stopped"},
     AirflowFailException),
    ({"status": "timeout", "kind": "TrainingJob", "name": "job-1", "resource_status": "InProgress", "timeout": 10},
     AirflowSensorTimeout),
], ids=["failed", "timeout"])
def test_soft_fail_turns_a_failed_or_timed_out_deferred_wait_into_a_skip(stubbed, event, cause):
    sensor = SageMakerTrainingJobSensor(task_id="wait", job_name="job-1", deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException) as info:
        sensor.execute_complete(make_context("wait"), event)
    assert isinstance(info.value.__cause__, cause)
    never = SageMakerTrainingJobSensor(task_id="wait", job_name="job-1", deferrable=True, never_fail=True)
    with pytest.raises(AirflowSkipException):
        never.execute_complete(make_context("wait"), event)
    plain = SageMakerTrainingJobSensor(task_id="wait", job_name="job-1", deferrable=True)
    with pytest.raises(cause):
        plain.execute_complete(make_context("wait"), event)


def test_soft_fail_does_not_skip_an_api_error_before_deferring(stubbed):
    """As in poke mode: soft_fail skips failed resources and timeouts, not a failing API call."""
    from botocore.exceptions import ClientError

    stubbed.sagemaker.add_client_error("describe_training_job", service_error_code="AccessDeniedException")
    sensor = SageMakerTrainingJobSensor(task_id="wait", job_name="job-1", print_log=False, soft_fail=True,
                                        deferrable=True)
    with pytest.raises(ClientError, match="AccessDeniedException"):
        sensor.execute(make_context("wait"))


def test_poke_mode_streams_the_training_log_between_pokes(stubbed):
    stream = "job-1/algo-1-1"
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1", "InProgress"))
    stubbed.logs.add_response("describe_log_streams", {"logStreams": [{"logStreamName": stream}]})
    stubbed.logs.add_response("get_log_events", {"events": [{"timestamp": 1, "message": "epoch 1"}], "nextForwardToken": "a"})
    stubbed.logs.add_response("get_log_events", {"events": [], "nextForwardToken": "a"})
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1"))
    stubbed.logs.add_response("describe_log_streams", {"logStreams": [{"logStreamName": stream}]})
    stubbed.logs.add_response("get_log_events", {"events": [{"timestamp": 2, "message": "epoch 2"}], "nextForwardToken": "b"},
                              {"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": stream,
                               "startFromHead": True, "nextToken": "a"})
    stubbed.logs.add_response("get_log_events", {"events": [], "nextForwardToken": "b"})
    sensor = SageMakerTrainingJobSensor(task_id="wait", job_name="job-1", poke_interval=0.01)
    result = sensor.execute(make_context("wait"))
    stubbed.assert_done()
    assert result["TrainingJobStatus"] == "Completed"
    assert [line for line in stubbed.lines if line.startswith("epoch")] == ["epoch 1", "epoch 2"]


def test_reschedule_mode_frees_the_slot_while_the_job_runs(stubbed):
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1", "InProgress"))
    sensor = SageMakerTrainingJobSensor(task_id="wait", job_name="job-1", mode="reschedule", poke_interval=30)
    before = time.time()
    with pytest.raises(AirflowRescheduleException) as info:
        sensor.execute(make_context("wait"))
    assert info.value.reschedule_date.timestamp() >= before + 29
    stubbed.assert_done()  # no log read while the job runs: each reschedule is a new process


def test_deferrable_sensor_defers_while_running_and_not_when_done(stubbed):
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("tj-1", "InProgress"))
    sensor = SageMakerTransformJobSensor(task_id="wait", job_name="tj-1", deferrable=True, poke_interval=20,
                                         timeout=3600)
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(make_context("wait"))
    kwargs = info.value.trigger.serialize()[1]
    assert (kwargs["kind"], kwargs["name"], kwargs["check_interval"]) == ("TransformJob", "tj-1", 20.0)
    assert kwargs["stop_on_kill"] is False  # the sensor does not own the job
    assert before + 3600 <= kwargs["deadline"] <= time.time() + 3600

    stubbed.sagemaker.add_response("describe_transform_job", transform_job("tj-1"))
    result = sensor.execute(make_context("wait"))
    assert result["TransformJobStatus"] == "Completed" and result["OutputPath"] == "s3://test-bucket/tj-1"
    stubbed.assert_done()


def test_deferred_sensor_resumes_with_the_state_table(stubbed):
    sensor = SageMakerTransformJobSensor(task_id="wait", job_name="tj-1", deferrable=True)
    with pytest.raises(AirflowFailException, match="TransformJob 'tj-1' ended in status Failed: bad input"):
        sensor.execute_complete(make_context("wait"), {"status": "failed", "kind": "TransformJob", "name": "tj-1",
                                                       "resource_status": "Failed", "failure_reason": "bad input"})
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(make_context("wait"), {"status": "timeout", "kind": "TransformJob", "name": "tj-1",
                                                       "resource_status": "InProgress", "timeout": 10})
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("tj-1"))
    result = sensor.execute_complete(make_context("wait"), {"status": "success", "kind": "TransformJob", "name": "tj-1"})
    assert result["TransformJobName"] == "tj-1"


def test_endpoint_sensor_follows_the_endpoint_states(stubbed):
    sensor = SageMakerEndpointSensor(task_id="wait", endpoint_name="{{ params.endpoint }}")
    context = make_context("wait", params={"endpoint": "iris-ep"})
    sensor.render_template_fields(context)
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris-ep", "Creating"), {"EndpointName": "iris-ep"})
    assert sensor.poke(context) is False
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris-ep", "InService"))
    assert sensor.poke(context).xcom_value["EndpointStatus"] == "InService"
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris-ep", "Failed", FailureReason="no model_fn"))
    with pytest.raises(AirflowFailException, match="Endpoint 'iris-ep' ended in status Failed: no model_fn"):
        sensor.poke(context)
    stubbed.assert_done()


def test_the_link_is_stored_without_do_xcom_push(stubbed):
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris-ep", "InService"))
    sensor = SageMakerEndpointSensor(task_id="wait", endpoint_name="iris-ep", do_xcom_push=False)
    context = make_context("wait")
    assert sensor.poke(context)
    assert context["ti"].pushed["smflow_endpoint"] == {"name": "iris-ep", "region": "us-east-1", "partition": "local",
                                                       "endpoint_url": STUB_ENDPOINT}


def test_verify_and_botocore_config_reach_the_hook_and_the_trigger(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_SENSOR", connection_uri(STUB_ENDPOINT))
    sensor = SageMakerTransformJobSensor(task_id="wait", job_name="tj-1", aws_conn_id="smflow_sensor",
                                         verify=False, botocore_config={"read_timeout": 901}, deferrable=True)
    assert "verify" in sensor.template_fields
    client = sensor.get_client()
    assert client.sagemaker.meta.config.read_timeout == 901
    assert client.sagemaker._endpoint.http_session._verify is False
    monkeypatch.setattr(SageMakerClient, "describe", lambda self, kind, name: transform_job(name, "InProgress"))
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(make_context("wait"))
    kwargs = info.value.trigger.serialize()[1]
    assert (kwargs["aws_conn_id"], kwargs["verify"], kwargs["botocore_config"]) == \
        ("smflow_sensor", False, {"read_timeout": 901})


def test_sensors_honour_the_airflow_config_default_for_deferrable(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
    assert SageMakerEndpointSensor(task_id="a", endpoint_name="e").deferrable is True
    assert SageMakerEndpointSensor(task_id="b", endpoint_name="e", deferrable=False).deferrable is False
