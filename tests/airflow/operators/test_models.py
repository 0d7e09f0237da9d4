"""Unit tests of ``smflow_airflow.operators.models`` (create model) over a real SageMakerClient
whose boto3 calls are stubbed."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from smflow_airflow.operators.sagemaker import SageMakerCreateModelOperator

from ..conftest import ROLE, make_context
from ..responses import ARN, IMAGE, training_job
from ..responses import model as model_description


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
