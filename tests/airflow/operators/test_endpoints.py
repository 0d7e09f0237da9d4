"""Unit tests of ``smflow_airflow.operators.endpoints`` (deploy, predict, delete endpoint) over a
real SageMakerClient whose boto3 calls are stubbed: the exact requests, rollbacks, deferral on
the config being rolled out, rows and predictions, teardown."""

from __future__ import annotations

import io

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from botocore.response import StreamingBody

from smflow import codecs
from smflow.errors import ResourceFailedError
from smflow_airflow.operators.sagemaker import (
    SageMakerDeleteEndpointOperator,
    SageMakerDeployOperator,
    SageMakerPredictOperator,
)

from ..conftest import make_context
from ..responses import ARN
from ..responses import endpoint as endpoint_description
from ..responses import endpoint_config as endpoint_config_description
from .common import FAST, assert_json_small


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
