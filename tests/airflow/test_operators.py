"""Unit tests of the operators over a real SageMakerClient whose boto3 calls are stubbed: the exact
requests they send, what they push to XCom, the state table, job-exists handling, deferral and
on_kill."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from botocore.response import StreamingBody
from botocore.stub import ANY

from smflow import codecs, naming
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

from .conftest import ROLE, RUN_ID, STUB_ENDPOINT, connection_uri, make_context
from .responses import ARN, IMAGE, training_job, transform_job
from .responses import endpoint as endpoint_description
from .responses import endpoint_config as endpoint_config_description
from .responses import model as model_description

FAST = {"check_interval": 0.01}
CONFIG = {
    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://test-bucket/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": "{{ params.instances }}",
                       "VolumeSizeInGB": "{{ params.volume }}"},
    "StoppingCondition": {"MaxRuntimeInSeconds": "{{ params.max_run }}"},
}
RENDERED_CONFIG = {
    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://test-bucket/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}
PARAMS = {"instances": 1, "volume": 30, "max_run": 3600}


def stable(task_base: str, task_id: str) -> str:
    """The job name a task run derives: ``<base>-<sha1(dag.task.run)[:10]>``."""
    return naming.stable_name(task_base, f"test_dag.{task_id}.{RUN_ID}")


def assert_json_small(value: dict) -> None:
    text = json.dumps(value)  # raises for datetimes, numpy arrays, bytes
    assert len(text) < 4000


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


def test_train_renders_templates_and_converts_rendered_numbers(stubbed):
    operator = SageMakerTrainOperator(task_id="train_model", config=CONFIG, role=ROLE, print_log=False, **FAST)
    context = make_context("train_model", params=PARAMS)
    operator.render_template_fields(context)
    assert operator.config["ResourceConfig"]["InstanceCount"] == "1"  # what Jinja produces

    name = stable("train-model", "train_model")
    stubbed.not_found("describe_training_job", TrainingJobName=name)
    stubbed.sagemaker.add_response(
        "create_training_job", {"TrainingJobArn": f"{ARN}:training-job/{name}"},
        {**RENDERED_CONFIG, "TrainingJobName": name, "RoleArn": ROLE},
    )
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"), {"TrainingJobName": name})
    stubbed.sagemaker.add_response(
        "describe_training_job",
        training_job(name, FinalMetricDataList=[{"MetricName": "accuracy", "Value": 0.97, "Timestamp": datetime(2026, 1, 1)}]),
        {"TrainingJobName": name},
    )
    result = operator.execute(context)
    stubbed.assert_done()

    assert result["TrainingJobName"] == name
    assert result["TrainingJobStatus"] == "Completed"
    assert result["ModelDataUrl"] == f"s3://test-bucket/{name}/output/model.tar.gz"
    assert result["FinalMetrics"] == {"accuracy": 0.97}
    assert result["TrainingEndTime"] == "2026-01-01T12:05:00+00:00"  # datetimes as ISO strings
    assert_json_small(result)
    # the extra link's data: against a custom endpoint the link is empty
    assert context["ti"].pushed["smflow_training_job"] == {"name": name, "region": "us-east-1", "partition": "local"}


def test_train_with_sdk_arguments_packs_the_script_and_sends_integers(stubbed, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('training')\n")
    operator = SageMakerTrainOperator(
        task_id="train", entry_point=str(script), hyperparameters={"max_leaf_nodes": "{{ params.leaves }}"},
        instance_count="{{ params.instances }}", volume_size="{{ params.volume }}", max_run="{{ params.max_run }}",
        inputs="s3://test-bucket/iris/data", role=ROLE, wait_for_completion=False, **FAST,
    )
    context = make_context("train", params={**PARAMS, "leaves": 30})
    operator.render_template_fields(context)
    name = stable("train", "train")
    stubbed.not_found("describe_training_job", TrainingJobName=name)
    stubbed.s3.add_response("head_bucket", {}, {"Bucket": "test-bucket"})  # output path
    stubbed.s3.add_response("head_bucket", {}, {"Bucket": "test-bucket"})  # code location
    stubbed.s3.add_response("put_object", {}, {"Bucket": "test-bucket", "Key": f"{name}/source/sourcedir.tar.gz",
                                               "Body": ANY, "ChecksumAlgorithm": ANY})
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/{name}"}, {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": ANY, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": ANY,
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://test-bucket/iris/data", "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://test-bucket/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    })
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"), {"TrainingJobName": name})
    result = operator.execute(context)
    stubbed.assert_done()
    assert result["TrainingJobStatus"] == "InProgress"  # wait_for_completion=False returns at once


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


def test_training_log_lines_reach_the_task_log_while_waiting(stubbed):
    name = stable("train", "train")
    stream = f"{name}/algo-1-1767225600"
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    # first poll while InProgress: the first line arrives
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    stubbed.logs.add_response("describe_log_streams", {"logStreams": [{"logStreamName": stream}]})
    stubbed.logs.add_response("get_log_events", {"events": [{"timestamp": 1, "message": "epoch 1\n"}],
                                                 "nextForwardToken": "f1"})
    stubbed.logs.add_response("get_log_events", {"events": [], "nextForwardToken": "f1"})
    # then Completed: the last line
    stubbed.sagemaker.add_response("describe_training_job", training_job(name))
    stubbed.logs.add_response("describe_log_streams", {"logStreams": [{"logStreamName": stream}]})
    stubbed.logs.add_response("get_log_events", {"events": [{"timestamp": 2, "message": "epoch 2\n"}],
                                                 "nextForwardToken": "f2"})
    stubbed.logs.add_response("get_log_events", {"events": [], "nextForwardToken": "f2"})
    SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, **FAST).execute(make_context("train"))
    stubbed.assert_done()
    assert stubbed.lines.index("epoch 1") < stubbed.lines.index("epoch 2")
    assert stubbed.lines.index("epoch 2") < next(i for i, line in enumerate(stubbed.lines) if "Completed" in line)


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
    assert context["ti"].pushed["smflow_training_job"] == {"name": name, "region": "us-east-1", "partition": "local"}
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


def test_resuming_after_success_shows_only_the_log_lines_the_trigger_had_not_shown(stubbed, capfd):
    name = "job-1"
    stream = f"{name}/algo-1-1"
    stubbed.sagemaker.add_response("describe_training_job", training_job(name))
    stubbed.logs.add_response("describe_log_streams", {"logStreams": [{"logStreamName": stream}]})
    stubbed.logs.add_response("get_log_events", {"events": [
        {"timestamp": 1, "message": "line one"}, {"timestamp": 2, "message": "line two"},
        {"timestamp": 3, "message": "line three, after the trigger's last poll"}], "nextForwardToken": "f"})
    stubbed.logs.add_response("get_log_events", {"events": [], "nextForwardToken": "f"})
    operator = SageMakerTrainOperator(task_id="train", config=RENDERED_CONFIG, deferrable=True)
    result = operator.execute_complete(make_context("train"), {"status": "success", "kind": "TrainingJob",
                                                               "name": name, "log_lines": 2})
    assert result["TrainingJobName"] == name
    output = capfd.readouterr().out
    assert "line three, after the trigger's last poll" in output
    assert "line one" not in output and "line two" not in output


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


# ---------------------------------------------------------------------- attach
def test_attach_waits_for_a_running_job_and_returns_its_summary(stubbed):
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1", "InProgress"), {"TrainingJobName": "job-1"})
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1"), {"TrainingJobName": "job-1"})
    operator = SageMakerAttachOperator(task_id="attach", job_name="{{ params.job }}", print_log=False, **FAST)
    context = make_context("attach", params={"job": "job-1"})
    operator.render_template_fields(context)
    result = operator.execute(context)
    assert result["TrainingJobName"] == "job-1" and result["TrainingJobStatus"] == "Completed"
    assert result["HyperParameters"] == {"max_leaf_nodes": 30}
    assert_json_small(result)
    operator.on_kill()  # attached, not started: the job is left alone
    stubbed.assert_done()


def test_attach_to_a_missing_job_fails_for_good(stubbed):
    stubbed.not_found("describe_training_job", TrainingJobName="nope")
    with pytest.raises(AirflowFailException, match="training job 'nope' not found"):
        SageMakerAttachOperator(task_id="attach", job_name="nope").execute(make_context("attach"))


def test_attach_to_a_stopped_job_fails(stubbed):
    stubbed.sagemaker.add_response("describe_training_job", training_job("job-1", "Stopped"))
    with pytest.raises(ResourceFailedError, match="ended in status Stopped"):
        SageMakerAttachOperator(task_id="attach", job_name="job-1").execute(make_context("attach"))


# ---------------------------------------------------------------------- create model
def test_create_model_from_a_training_job(stubbed):
    job = "job-1"
    stubbed.sagemaker.add_response("describe_training_job", training_job(job), {"TrainingJobName": job})
    stubbed.not_found("describe_model", ModelName=job)
    stubbed.sagemaker.add_response("create_model", {"ModelArn": f"{ARN}:model/{job}"}, {
        "ModelName": job,
        "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": f"s3://test-bucket/{job}/output/model.tar.gz",
                             "Environment": {"SAGEMAKER_PROGRAM": "train.py",
                                             "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://test-bucket/{job}/source/sourcedir.tar.gz",
                                             "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": "us-east-1"}},
        "ExecutionRoleArn": ROLE,
    })
    stubbed.sagemaker.add_response("describe_model", model_description(job))
    operator = SageMakerCreateModelOperator(task_id="create_model", training_job_name="{{ params.job }}", role=ROLE)
    context = make_context("create_model", params={"job": job})
    operator.render_template_fields(context)
    result = operator.execute(context)
    stubbed.assert_done()
    assert result == {"ModelName": job, "ModelArn": f"{ARN}:model/{job}", "Image": IMAGE,
                      "ModelDataUrl": f"s3://test-bucket/{job}/output/model.tar.gz"}
    assert context["ti"].pushed["smflow_model"]["name"] == job


def test_create_model_needs_a_source(stubbed):
    with pytest.raises(AirflowFailException, match="exactly one of training_job_name or model_data"):
        SageMakerCreateModelOperator(task_id="m").execute(make_context("m"))


# ---------------------------------------------------------------------- deploy
def add_new_endpoint_calls(stubbed, endpoint_name, model_name, count):
    stubbed.not_found("describe_endpoint_config", EndpointConfigName=model_name)
    stubbed.sagemaker.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/{model_name}"}, {
        "EndpointConfigName": model_name,
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model_name, "InitialInstanceCount": count,
                                "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}],
    })
    stubbed.not_found("describe_endpoint", EndpointName=endpoint_name)
    stubbed.sagemaker.add_response("create_endpoint", {"EndpointArn": f"{ARN}:endpoint/{endpoint_name}"},
                                   {"EndpointName": endpoint_name, "EndpointConfigName": model_name})


def test_deploy_creates_the_endpoint_and_waits_for_in_service(stubbed):
    add_new_endpoint_calls(stubbed, "iris-ep", "iris-model", 2)
    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description("iris-ep", "Creating", "iris-model"))
    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description("iris-ep", "InService", "iris-model"))
    operator = SageMakerDeployOperator(task_id="deploy", model_name="iris-model", endpoint_name="iris-ep",
                                       initial_instance_count="{{ params.count }}", **FAST)
    context = make_context("deploy", params={"count": 2})
    operator.render_template_fields(context)
    result = operator.execute(context)
    stubbed.assert_done()
    assert result["EndpointStatus"] == "InService" and result["EndpointConfigName"] == "iris-model"
    assert result["LastModifiedTime"] == "2026-01-01T12:05:00+00:00"
    assert_json_small(result)
    assert context["ti"].pushed["smflow_endpoint"]["name"] == "iris-ep"


def test_deploy_fails_when_the_endpoint_fails(stubbed):
    add_new_endpoint_calls(stubbed, "iris-ep", "iris-model", 1)
    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description(
        "iris-ep", "Failed", "iris-model", FailureReason="model_fn raised ImportError"))
    with pytest.raises(ResourceFailedError, match="Endpoint 'iris-ep' ended in status Failed: model_fn raised ImportError"):
        SageMakerDeployOperator(task_id="deploy", model_name="iris-model", endpoint_name="iris-ep", **FAST).execute(
            make_context("deploy"))


def test_deploy_fails_when_the_update_rolls_back(stubbed):
    stubbed.not_found("describe_endpoint_config", EndpointConfigName="new-model")
    stubbed.sagemaker.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/new-model"})
    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description("live", "InService", "old-model"))
    stubbed.sagemaker.add_response("update_endpoint", {"EndpointArn": f"{ARN}:endpoint/live"},
                                   {"EndpointName": "live", "EndpointConfigName": "new-model"})
    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description("live", "Updating", "old-model"))
    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description(
        "live", "InService", "old-model", FailureReason="new model failed its health check"))
    with pytest.raises(ResourceFailedError) as info:
        SageMakerDeployOperator(task_id="deploy", model_name="new-model", endpoint_name="live", **FAST).execute(
            make_context("deploy"))
    assert info.value.status == "UpdateRolledBack"
    assert info.value.failure_reason == "new model failed its health check"


def test_deferrable_deploy_waits_in_the_trigger_for_the_config_being_rolled_out(stubbed):
    stubbed.not_found("describe_endpoint_config", EndpointConfigName="new-model")
    stubbed.sagemaker.add_response("create_endpoint_config", {"EndpointConfigArn": f"{ARN}:endpoint-config/new-model"})
    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description("live", "InService", "old-model"))
    stubbed.sagemaker.add_response("update_endpoint", {"EndpointArn": f"{ARN}:endpoint/live"})
    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description(
        "live", "Updating", "old-model", PendingDeploymentSummary={"EndpointConfigName": "new-model"}))
    with pytest.raises(TaskDeferred) as info:
        SageMakerDeployOperator(task_id="deploy", model_name="new-model", endpoint_name="live", deferrable=True).execute(
            make_context("deploy"))
    kwargs = info.value.trigger.serialize()[1]
    assert (kwargs["kind"], kwargs["name"], kwargs["expected_endpoint_config"]) == ("Endpoint", "live", "new-model")
    assert kwargs["stop_on_kill"] is False
    stubbed.assert_done()


# ---------------------------------------------------------------------- predict
def test_predict_sends_rendered_rows_and_returns_a_plain_list(stubbed):
    import numpy as np

    rows = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]
    answer = codecs.encode(np.array([0.0, 1.0]), codecs.NPY)
    stubbed.runtime.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(answer), len(answer)), "ContentType": codecs.NPY},
        {"EndpointName": "iris-ep", "Body": codecs.encode(np.asarray(rows), codecs.NPY),
         "ContentType": codecs.NPY, "Accept": codecs.NPY},
    )
    operator = SageMakerPredictOperator(task_id="predict", endpoint_name="{{ params.endpoint }}", data="{{ params.rows }}")
    context = make_context("predict", params={"endpoint": "iris-ep", "rows": rows})
    operator.render_template_fields(context)
    assert isinstance(operator.data, str)  # Jinja renders the rows as text
    result = operator.execute(context)
    stubbed.assert_done()
    assert result == {"EndpointName": "iris-ep", "Count": 2, "Predictions": [0.0, 1.0]}
    assert_json_small(result)


def test_predict_rejects_data_that_is_not_rows(stubbed):
    with pytest.raises(AirflowFailException, match="data must be a list of rows or a JSON array"):
        SageMakerPredictOperator(task_id="p", endpoint_name="e", data="not json").execute(make_context("p"))
    with pytest.raises(AirflowFailException, match="content type"):
        SageMakerPredictOperator(task_id="p", endpoint_name="e", data=[[1.0]], content_type="text/plain").execute(
            make_context("p"))


# ---------------------------------------------------------------------- batch transform
def test_batch_transform_renders_numbers_and_returns_where_the_output_is(stubbed):
    name = stable("transform", "transform")
    stubbed.not_found("describe_transform_job", TransformJobName=name)
    # the client looks the model up before creating the job (SageMakerClient.batch_transform)
    stubbed.sagemaker.add_response("describe_model", model_description("iris-model"), {"ModelName": "iris-model"})
    stubbed.sagemaker.add_response("create_transform_job", {"TransformJobArn": f"{ARN}:transform-job/{name}"}, {
        "TransformJobName": name,
        "ModelName": "iris-model",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://test-bucket/in"}},
                           "CompressionType": "None", "SplitType": "Line", "ContentType": "text/csv"},
        "TransformOutput": {"S3OutputPath": "s3://test-bucket/out", "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 4,
    })
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(name))
    operator = SageMakerBatchTransformOperator(
        task_id="transform", model_name="{{ params.model }}", data="s3://test-bucket/in",
        output_path="s3://test-bucket/out", accept="text/csv", instance_count="{{ params.instances }}",
        max_payload_mb="{{ params.payload }}", **FAST)
    context = make_context("transform", params={"model": "iris-model", "instances": 2, "payload": 4})
    operator.render_template_fields(context)
    result = operator.execute(context)
    stubbed.assert_done()
    assert result["TransformJobStatus"] == "Completed"
    assert result["OutputPath"] == f"s3://test-bucket/{name}"
    assert_json_small(result)
    assert context["ti"].pushed["smflow_transform_job"]["name"] == name


def test_a_stopped_transform_job_fails_the_task(stubbed):
    name = stable("transform", "transform")
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(name, "Stopped"))
    with pytest.raises(ResourceFailedError, match=f"TransformJob '{name}' ended in status Stopped"):
        SageMakerBatchTransformOperator(task_id="transform", model_name="iris-model", data="s3://test-bucket/in",
                                        **FAST).execute(make_context("transform"))


def test_on_kill_stops_the_transform_job(stubbed):
    name = stable("transform", "transform")
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(name, "InProgress"))
    operator = SageMakerBatchTransformOperator(task_id="transform", model_name="iris-model",
                                               data="s3://test-bucket/in", wait_for_completion=False)
    assert operator.execute(make_context("transform"))["TransformJobStatus"] == "InProgress"
    stubbed.sagemaker.add_response("stop_transform_job", {}, {"TransformJobName": name})
    operator.on_kill()
    stubbed.assert_done()


# ---------------------------------------------------------------------- delete endpoint
def test_delete_endpoint_is_idempotent_and_meant_as_teardown(stubbed):
    operator = SageMakerDeleteEndpointOperator(task_id="delete", endpoint_name="{{ params.endpoint }}")
    assert operator.trigger_rule == "all_done"
    context = make_context("delete", params={"endpoint": "iris-ep"})
    operator.render_template_fields(context)

    stubbed.sagemaker.add_response("describe_endpoint", endpoint_description("iris-ep", "InService", "iris-config"))
    stubbed.sagemaker.add_response("describe_endpoint_config", endpoint_config_description("iris-config", "iris-model"))
    stubbed.sagemaker.add_response("delete_endpoint", {}, {"EndpointName": "iris-ep"})
    stubbed.not_found("describe_endpoint", EndpointName="iris-ep")
    stubbed.sagemaker.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "iris-config"})
    first = operator.execute(context)
    assert first == {"EndpointName": "iris-ep", "Deleted": ["Endpoint/iris-ep", "EndpointConfig/iris-config"]}

    stubbed.not_found("describe_endpoint", EndpointName="iris-ep")
    again = operator.execute(context)
    assert again == {"EndpointName": "iris-ep", "Deleted": []}
    stubbed.assert_done()
