"""Unit tests of ``smflow_airflow.operators.transform`` (batch transform) over a real
SageMakerClient whose boto3 calls are stubbed: the exact request, the output location, a stopped
job, on_kill."""

from __future__ import annotations

import pytest

from smflow.errors import ResourceFailedError
from smflow_airflow.operators.sagemaker import SageMakerBatchTransformOperator

from ..conftest import make_context
from ..responses import ARN, transform_job
from ..responses import model as model_description
from .common import FAST, assert_json_small, stable


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
