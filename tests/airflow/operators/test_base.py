"""Unit tests of what the operators share (``smflow_airflow.operators.base``), mostly through
``SageMakerTrainOperator``, over a real SageMakerClient whose boto3 calls are stubbed: template
fields, job-exists handling, the state table, deferral, the connection options and on_kill."""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from botocore.stub import ANY

from smflow.client import SageMakerClient
from smflow.errors import ConfigurationError, ResourceFailedError, WaitTimeoutError
from smflow_airflow.operators.sagemaker import (
    SageMakerAttachOperator,
    SageMakerBaseOperator,
    SageMakerBatchTransformOperator,
    SageMakerCreateModelOperator,
    SageMakerDeleteEndpointOperator,
    SageMakerDeployOperator,
    SageMakerPredictOperator,
    SageMakerTrainOperator,
)
from smflow_airflow.triggers.sagemaker import SageMakerResourceTrigger

from ..conftest import ROLE, STUB_ENDPOINT, connection_uri, make_context
from ..responses import ARN, training_job
from .common import FAST, RENDERED_CONFIG, stable


# ---------------------------------------------------------------------- template fields
def test_every_operator_declares_the_base_template_fields_once():
    operators = [SageMakerTrainOperator, SageMakerAttachOperator, SageMakerCreateModelOperator,
                 SageMakerDeployOperator, SageMakerPredictOperator, SageMakerBatchTransformOperator,
                 SageMakerDeleteEndpointOperator]
    for operator in operators:
        fields = operator.template_fields
        assert fields[:len(SageMakerBaseOperator.template_fields)] == SageMakerBaseOperator.template_fields, operator
        assert len(fields) == len(set(fields)), f"{operator.__name__} lists a field twice"
    train = SageMakerTrainOperator(task_id="t", entry_point="train.py")
    for field in SageMakerTrainOperator.template_fields:
        assert hasattr(train, field), field


# ---------------------------------------------------------------------- job-exists handling
def test_a_retry_waits_for_the_job_its_earlier_try_started(stubbed):
    name = stable("train", "train")
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"), {"TrainingJobName": name})
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"), {"TrainingJobName": name})
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "Completed"), {"TrainingJobName": name})
    result = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, print_log=False, **FAST).execute(
        make_context("train"))
    stubbed.assert_done()  # no create_training_job: a second job would have been a duplicate
    assert result["TrainingJobName"] == name
    assert any("already exists (InProgress); attaching" in line for line in stubbed.lines)


def test_a_rerun_reuses_a_completed_job(stubbed):
    name = stable("train", "train")
    for _ in range(3):
        stubbed.sagemaker.add_response("describe_training_job", training_job(name), {"TrainingJobName": name})
    result = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, print_log=False, **FAST).execute(
        make_context("train"))
    stubbed.assert_done()
    assert result["TrainingJobStatus"] == "Completed"


@pytest.mark.parametrize("earlier", ["Failed", "Stopped"])
def test_a_retry_after_a_failed_or_stopped_job_starts_a_suffixed_job(stubbed, earlier):
    name = stable("train", "train")
    second = f"{name}-2"
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, earlier), {"TrainingJobName": name})
    stubbed.not_found("describe_training_job", TrainingJobName=second)
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/{second}"},
                                   {**RENDERED_CONFIG, "TrainingJobName": second, "RoleArn": ROLE})
    stubbed.sagemaker.add_response("describe_training_job", training_job(second, "InProgress"), {"TrainingJobName": second})
    stubbed.sagemaker.add_response("describe_training_job", training_job(second), {"TrainingJobName": second})
    result = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, role=ROLE, print_log=False,
                                    **FAST).execute(make_context("train"))
    stubbed.assert_done()
    assert result["TrainingJobName"] == second


def test_action_if_job_exists_fail_fails_the_task_for_good(stubbed):
    name = stable("train", "train")
    stubbed.sagemaker.add_response("describe_training_job", training_job(name), {"TrainingJobName": name})
    operator = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, action_if_job_exists="fail", **FAST)
    with pytest.raises(AirflowFailException, match=f"TrainingJob '{name}' already exists"):
        operator.execute(make_context("train"))


def test_action_if_job_exists_timestamp_starts_a_new_job(stubbed):
    name = "iris-fixed-name"
    stubbed.sagemaker.add_response("describe_training_job", training_job(name), {"TrainingJobName": name})
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/new"},
                                   {**RENDERED_CONFIG, "TrainingJobName": ANY, "RoleArn": ROLE})
    stubbed.sagemaker.add_response("describe_training_job", training_job("iris-fixed-name-2026", "InProgress"))
    operator = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, job_name=name, role=ROLE,
                                      action_if_job_exists="timestamp", wait_for_completion=False, **FAST)
    operator.execute(make_context("train"))
    stubbed.assert_done()


@pytest.mark.parametrize("operator", [SageMakerTrainOperator, SageMakerBatchTransformOperator])
def test_a_bad_action_if_job_exists_is_refused_when_the_dag_is_parsed(monkeypatch, operator):
    def no_aws_call(self, log=None):
        raise AssertionError("the operator was built: the value was not checked in __init__")

    monkeypatch.setattr(SageMakerBaseOperator, "get_client", no_aws_call)
    with pytest.raises(ConfigurationError, match=(
            "task 'job': action_if_job_exists must be 'attach', 'fail' or 'timestamp', got 'increment'")):
        operator(task_id="job", action_if_job_exists="increment")
    assert operator(task_id="job", action_if_job_exists="fail").action_if_job_exists == "fail"
    assert "action_if_job_exists" not in operator.template_fields  # so __init__ sees the final value


def test_bad_arguments_fail_the_task_without_retrying(stubbed):
    with pytest.raises(AirflowFailException, match="entry_point is required"):
        SageMakerTrainOperator(task_id="train", **FAST).execute(make_context("train"))
    with pytest.raises(AirflowFailException, match="job_name 'bad_name!' is not a valid SageMaker name"):
        SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, job_name="bad_name!", **FAST).execute(
            make_context("train"))


# ---------------------------------------------------------------------- state table
@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_and_stopped_jobs_fail_the_task_with_their_reason(stubbed, status):
    name = stable("train", "train")
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"), {"TrainingJobName": name})
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"), {"TrainingJobName": name})
    stubbed.sagemaker.add_response(
        "describe_training_job", training_job(name, status, FailureReason="AlgorithmError: no label column"),
        {"TrainingJobName": name})
    with pytest.raises(ResourceFailedError) as info:
        SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, print_log=False, **FAST).execute(
            make_context("train"))
    assert (info.value.name, info.value.status) == (name, status)
    assert f"TrainingJob '{name}' ended in status {status}: AlgorithmError: no label column" == str(info.value)


def test_max_ingestion_time_bounds_the_wait(stubbed):
    name = stable("train", "train")
    for _ in range(2):
        stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    for _ in range(200):
        stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    operator = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, print_log=False,
                                      max_ingestion_time=0.05, **FAST)
    with pytest.raises(WaitTimeoutError, match="still InProgress after 0 s"):
        operator.execute(make_context("train"))


# ---------------------------------------------------------------------- deferral
def test_deferrable_train_defers_to_the_trigger_while_running(stubbed):
    name = stable("train", "train")
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    operator = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, deferrable=True,
                                      max_ingestion_time=600, check_interval=15)
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        operator.execute(make_context("train"))
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert isinstance(deferred.trigger, SageMakerResourceTrigger)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "smflow_airflow.triggers.sagemaker.SageMakerResourceTrigger"
    assert kwargs["kind"] == "TrainingJob" and kwargs["name"] == name
    assert kwargs["stream_logs"] is True and kwargs["stop_on_kill"] is True and kwargs["check_interval"] == 15.0
    assert before + 600 <= kwargs["deadline"] <= time.time() + 600
    assert deferred.timeout.total_seconds() == 900  # backstop after the trigger's own deadline


def test_the_link_and_the_connection_options_survive_the_deferral_without_do_xcom_push(stubbed):
    name = stable("train", "train")
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    operator = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, deferrable=True, do_xcom_push=False,
                                      aws_conn_id="my_aws", region_name="us-east-1", verify="/etc/ca.pem",
                                      botocore_config={"read_timeout": 901})
    context = make_context("train")
    with pytest.raises(TaskDeferred) as info:
        operator.execute(context)
    # the console link's data is stored although the return value is not pushed
    assert context["ti"].pushed["smflow_training_job"] == {"name": name, "region": "us-east-1", "partition": "local",
                                                             "endpoint_url": STUB_ENDPOINT}
    kwargs = info.value.trigger.serialize()[1]
    assert {key: kwargs[key] for key in ("aws_conn_id", "region_name", "verify", "botocore_config")} == {
        "aws_conn_id": "my_aws", "region_name": "us-east-1", "verify": "/etc/ca.pem",
        "botocore_config": {"read_timeout": 901}}


def test_verify_and_botocore_config_reach_the_hook(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_OPERATOR", connection_uri(STUB_ENDPOINT))
    built = []
    original = SageMakerClient.__init__

    def recording(self, *args, **kwargs):
        built.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(SageMakerClient, "__init__", recording)
    operator = SageMakerDeleteEndpointOperator(task_id="delete", endpoint_name="ep", aws_conn_id="smflow_operator",
                                               verify=False, botocore_config={"read_timeout": 901})
    client = operator.get_client()
    assert built[-1]["verify"] is False and built[-1]["botocore_config"].read_timeout == 901
    assert client.sagemaker.meta.config.read_timeout == 901
    assert client.sagemaker.meta.config.retries["mode"] == "standard"  # smflow's defaults kept under it
    assert client.sagemaker._endpoint.http_session._verify is False


def test_a_job_that_already_finished_is_not_deferred(stubbed):
    name = stable("train", "train")
    for _ in range(3):
        stubbed.sagemaker.add_response("describe_training_job", training_job(name))
    result = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, deferrable=True, print_log=False,
                                    **FAST).execute(make_context("train"))
    assert result["TrainingJobStatus"] == "Completed"
    stubbed.assert_done()


def test_the_airflow_config_default_for_deferrable_is_honoured(monkeypatch):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
    assert SageMakerTrainOperator(task_id="a", entry_point="x.py").deferrable is True
    assert SageMakerTrainOperator(task_id="b", entry_point="x.py", deferrable=False).deferrable is False
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "false")
    assert SageMakerTrainOperator(task_id="c", entry_point="x.py").deferrable is False


def test_resuming_after_a_job_failed_while_deferred_fails_with_its_reason(stubbed):
    operator = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, deferrable=True)
    event = {"status": "failed", "kind": "TrainingJob", "name": "job-1", "resource_status": "Failed",
             "failure_reason": "ClientError: no data in channel train", "log_lines": 3}
    with pytest.raises(ResourceFailedError, match="TrainingJob 'job-1' ended in status Failed: ClientError: no data"):
        operator.execute_complete(make_context("train"), event)
    with pytest.raises(WaitTimeoutError, match="still InProgress after 60 s"):
        operator.execute_complete(make_context("train"), {"status": "timeout", "kind": "TrainingJob", "name": "job-1",
                                                          "resource_status": "InProgress", "timeout": 60})
    with pytest.raises(AirflowException, match="AccessDeniedException"):
        operator.execute_complete(make_context("train"), {"status": "error", "kind": "TrainingJob", "name": "job-1",
                                                          "message": "ClientError: AccessDeniedException"})


# ---------------------------------------------------------------------- on_kill
def test_on_kill_stops_the_training_job_the_task_started(stubbed):
    name = stable("train", "train")
    stubbed.not_found("describe_training_job", TrainingJobName=name)
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/{name}"})
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    operator = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, role=ROLE, wait_for_completion=False)
    operator.execute(make_context("train"))
    stubbed.sagemaker.add_response("stop_training_job", {}, {"TrainingJobName": name})
    operator.on_kill()
    stubbed.assert_done()


def test_on_kill_before_anything_started_does_nothing(stubbed):
    SageMakerTrainOperator(task_id="train", entry_point="x.py").on_kill()
    stubbed.assert_done()
