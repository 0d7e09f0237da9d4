"""batch_transform and wait_for_transform_job (and async twins) in Prefect flows, against stubbed
SageMaker responses."""

from __future__ import annotations

import asyncio
import re

import pytest

pytest.importorskip("prefect")

from prefect import flow  # noqa: E402

from smflow_prefect import abatch_transform, await_for_transform_job, batch_transform, wait_for_transform_job  # noqa: E402

from .readback import run_artifacts, task_runs  # noqa: E402
from .responses import model, not_found, transform_job  # noqa: E402


def test_batch_transform_links_its_output(stubbed, credentials):
    not_found(stubbed.sagemaker, "describe_transform_job")
    stubbed.sagemaker.add_response("describe_model", model("iris-model"), {"ModelName": "iris-model"})
    stubbed.sagemaker.add_response("create_transform_job", {"TransformJobArn": "arn:aws:sagemaker:us-east-1:1:transform-job/x"})
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("placeholder", "InProgress"))
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("placeholder", "Completed",
                                                                           output="s3://bucket/scores/run-1"))

    @flow
    def score() -> dict:
        return batch_transform(model_name="iris-model", data="s3://bucket/in/", output_path="s3://bucket/scores/run-1",
                               artifact_key="iris-scores", aws_credentials=credentials)

    state = score(return_state=True)
    summary = state.result()
    stubbed.assert_done()
    assert summary["TransformJobStatus"] == "Completed" and summary["OutputPath"] == "s3://bucket/scores/run-1"
    request = stubbed.request("CreateTransformJob")
    assert re.fullmatch(r"iris-model-[0-9a-f]{10}", request["TransformJobName"])  # named after the task run
    assert request["TransformInput"]["SplitType"] == "Line" and request["TransformInput"]["ContentType"] == "text/csv"
    (link,) = run_artifacts(state.state_details.flow_run_id)
    assert link.key == "iris-scores"  # Prefect stores a link artifact as markdown: [text](link)
    assert link.data == ("[s3://bucket/scores/run-1](https://s3.console.aws.amazon.com/s3/buckets/bucket"
                         "?region=us-east-1&prefix=scores/run-1/)")


def test_a_retried_batch_transform_attaches_to_its_job(stubbed, credentials):
    not_found(stubbed.sagemaker, "describe_transform_job")
    stubbed.sagemaker.add_response("describe_model", model("iris-model"), {"ModelName": "iris-model"})
    stubbed.sagemaker.add_response("create_transform_job", {"TransformJobArn": "arn:aws:sagemaker:us-east-1:1:transform-job/x"})
    stubbed.sagemaker.add_client_error("describe_transform_job", service_error_code="ServiceUnavailable",
                                       http_status_code=503)
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("placeholder", "InProgress"))
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("placeholder", "Completed"))

    @flow
    def score() -> dict:
        return batch_transform.with_options(retries=1, retry_delay_seconds=0)(
            model_name="iris-model", data="s3://bucket/in/", output_path="s3://bucket/scores", aws_credentials=credentials)

    state = score(return_state=True)
    assert state.is_completed(), state.message
    stubbed.assert_done()
    assert stubbed.calls.count("CreateTransformJob") == 1
    described = {params["TransformJobName"] for name, params in stubbed.requests if name == "DescribeTransformJob"}
    assert described == {stubbed.request("CreateTransformJob")["TransformJobName"]}
    (run,) = task_runs(state.state_details.flow_run_id)
    assert run.run_count == 2


def test_a_failed_transform_job_names_the_job_and_reason(stubbed, credentials):
    stubbed.sagemaker.add_response("describe_transform_job", transform_job(
        "score-1", "Failed", reason="ClientError: model answered 415 for text/plain"))

    @flow
    def wait():
        return wait_for_transform_job("score-1", aws_credentials=credentials)

    with pytest.raises(Exception, match="TransformJob 'score-1' ended in status Failed: ClientError: model answered 415"):
        wait()


def test_async_twins(stubbed, credentials):
    not_found(stubbed.sagemaker, "describe_transform_job")
    stubbed.sagemaker.add_response("describe_model", model("iris-model"), {"ModelName": "iris-model"})
    stubbed.sagemaker.add_response("create_transform_job", {"TransformJobArn": "arn:aws:sagemaker:us-east-1:1:transform-job/x"})
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("score-2", "InProgress"))  # wait=False answer
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("score-2", "Completed"))
    stubbed.sagemaker.add_response("describe_transform_job", transform_job("score-2", "Completed"))

    @flow
    async def score() -> tuple:
        job = await abatch_transform(model_name="iris-model", data="s3://bucket/in/", job_name="score-2",
                                     output_path="s3://bucket/scores", aws_credentials=credentials)
        again = await await_for_transform_job("score-2", aws_credentials=credentials)
        return job, again

    state = asyncio.run(score(return_state=True))
    job, again = state.result()
    stubbed.assert_done()
    assert job == again and job["TransformJobStatus"] == "Completed"
    # one link: waiting again for the job abatch_transform linked does not repeat it
    assert [a.data for a in run_artifacts(state.state_details.flow_run_id)] == [
        "[s3://bucket/scores](https://s3.console.aws.amazon.com/s3/buckets/bucket?region=us-east-1&prefix=scores/)"]
