"""Unit tests of ``smflow_airflow.operators.training`` (train, attach) over a real SageMakerClient
whose boto3 calls are stubbed: the exact requests, rendered templates, the training log in the
task log, what is pushed to XCom."""

from __future__ import annotations

from datetime import datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException
from botocore.stub import ANY

from smflow.errors import ResourceFailedError
from smflow_airflow.operators.sagemaker import SageMakerAttachOperator, SageMakerTrainOperator

from ..conftest import ROLE, STUB_ENDPOINT, make_context
from ..responses import ARN, training_job
from .common import CONFIG, FAST, PARAMS, RENDERED_CONFIG, assert_json_small, stable


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
    assert context["ti"].pushed["smflow_training_job"] == {"name": name, "region": "us-east-1", "partition": "local",
                                                             "endpoint_url": STUB_ENDPOINT}


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
