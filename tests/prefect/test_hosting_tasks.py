"""create_model, deploy_model, predict, delete_endpoint, wait_for_endpoint (and async twins), and
teardown on failure, in Prefect flows against stubbed SageMaker responses."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest

pytest.importorskip("prefect")

from botocore.response import StreamingBody  # noqa: E402
from prefect import flow, task  # noqa: E402
from prefect.transactions import atransaction, transaction  # noqa: E402

from smflow_prefect import (  # noqa: E402
    acreate_model,
    delete_endpoints_on_failure,
    adelete_endpoint,
    adeploy_model,
    apredict,
    await_for_endpoint,
    create_model,
    delete_endpoint,
    deploy_model,
    predict,
    wait_for_endpoint,
)

from .conftest import ROLE  # noqa: E402
from .readback import run_artifacts, run_logs, task_runs  # noqa: E402
from .responses import arn, deletion, deployment, endpoint, model, not_found, training_job  # noqa: E402

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
FEATURES = ["sepal length", "sepal width", "petal length", "petal width"]


def npy(values) -> dict:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(values))
    body = buffer.getvalue()
    return {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/x-npy"}


@task
def failing_check(predictions: list) -> None:
    raise ValueError(f"accuracy below the bar: {predictions}")


def test_create_model_from_a_training_job(stubbed, credentials):
    stubbed.sagemaker.add_response("describe_training_job", training_job("iris-job", "Completed"))
    not_found(stubbed.sagemaker, "describe_model", "Could not find model", ModelName="iris-job")
    stubbed.sagemaker.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:1:model/iris-job"})
    stubbed.sagemaker.add_response("describe_model", model("iris-job"))

    @flow
    def make() -> dict:
        return create_model(training_job_name="iris-job", role=ROLE, aws_credentials=credentials)

    assert make() == {"ModelName": "iris-job", "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/iris-job",
                      "Image": "sklearn-image", "ModelDataUrl": "s3://bucket/iris-job/output/model.tar.gz"}
    stubbed.assert_done()
    container = stubbed.request("CreateModel")["PrimaryContainer"]
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "train.py"  # the training job's script


def test_deploy_predict_delete(stubbed, credentials):
    deployment(stubbed.sagemaker, "iris", "iris-model", "Creating", "InService")
    stubbed.runtime.add_response("invoke_endpoint", npy([0.0, 2.0]),
                                 {"EndpointName": "iris", "Body": stubbed.any, "ContentType": "application/x-npy",
                                  "Accept": "application/x-npy"})
    deletion(stubbed.sagemaker, "iris", "iris-model", "iris-model")

    @flow
    def lifecycle():
        deployed = deploy_model("iris-model", endpoint_name="iris", aws_credentials=credentials)
        species = predict(deployed["EndpointName"], ROWS, feature_names=FEATURES, artifact_key="iris-predictions",
                          aws_credentials=credentials)
        deleted = delete_endpoint("iris", aws_credentials=credentials)
        return deployed, species, deleted

    state = lifecycle(return_state=True)
    deployed, species, deleted = state.result()
    stubbed.assert_done()
    assert deployed["EndpointStatus"] == "InService" and deployed["EndpointConfigName"] == "iris-model"
    assert species == [0.0, 2.0]
    assert deleted == {"EndpointName": "iris", "Deleted": ["Endpoint/iris", "EndpointConfig/iris-model"]}
    (table,) = run_artifacts(state.state_details.flow_run_id)
    assert (table.type, table.key) == ("table", "iris-predictions")
    assert "2 predictions of endpoint iris" in table.description
    assert '"prediction": 2.0' in table.data and '"petal width": 2.3' in table.data


def test_a_failed_endpoint_fails_the_deployment_with_its_reason(stubbed, credentials):
    deployment(stubbed.sagemaker, "iris", "iris-model", "Creating", "Failed")

    @flow
    def deploy():
        return deploy_model("iris-model", endpoint_name="iris", aws_credentials=credentials)

    with pytest.raises(Exception, match="Endpoint 'iris' ended in status Failed: the model server did not start"):
        deploy()
    stubbed.assert_done()


def test_wait_for_endpoint_reports_a_rolled_back_update(stubbed, credentials):
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "Updating", "old-config"))
    stubbed.sagemaker.add_response(
        "describe_endpoint", endpoint("iris", "InService", "old-config", reason="new model failed its health check"))

    @flow
    def wait():
        return wait_for_endpoint("iris", expected_config="new-config", aws_credentials=credentials)

    with pytest.raises(Exception, match="UpdateRolledBack: new model failed its health check"):
        wait()


# ---------------------------------------------------------------------- teardown on failure
def test_teardown_on_failure_deletes_the_endpoint_when_a_later_step_fails(stubbed, credentials):
    deployment(stubbed.sagemaker, "iris", "iris-model", "InService")
    stubbed.runtime.add_response("invoke_endpoint", npy([0.0, 2.0]))
    deletion(stubbed.sagemaker, "iris", "iris-model", "iris-model")

    @flow
    def guarded():
        with transaction():
            deployed = deploy_model("iris-model", endpoint_name="iris", teardown_on_failure=True,
                                    aws_credentials=credentials)
            failing_check(predict(deployed["EndpointName"], ROWS, aws_credentials=credentials))

    state = guarded(return_state=True)
    assert state.is_failed() and "accuracy below the bar" in state.message  # the step's own error
    stubbed.assert_done()
    assert stubbed.calls[-3:] == ["DeleteEndpoint", "DescribeEndpoint", "DeleteEndpointConfig"]
    assert "DeleteModel" not in stubbed.calls  # the model stays, for a later deployment
    messages = [log.message for log in run_logs(state.state_details.flow_run_id)]
    assert any("Tearing down endpoint iris: a step after its deployment failed" in m for m in messages)


def test_without_teardown_a_later_failure_leaves_the_endpoint(stubbed, credentials):
    deployment(stubbed.sagemaker, "iris", "iris-model", "InService")

    @flow
    def unguarded():
        with transaction():
            deploy_model("iris-model", endpoint_name="iris", aws_credentials=credentials)
            failing_check([])

    assert unguarded(return_state=True).is_failed()
    stubbed.assert_done()
    assert not [call for call in stubbed.calls if call.startswith("Delete")]


def test_teardown_without_transaction_or_hook_warns_that_later_steps_are_not_covered(stubbed, credentials):
    deployment(stubbed.sagemaker, "iris", "iris-model", "InService")

    @flow
    def unscoped():
        deploy_model("iris-model", endpoint_name="iris", teardown_on_failure=True, aws_credentials=credentials)
        failing_check([])

    state = unscoped(return_state=True)
    assert state.is_failed()
    assert not [call for call in stubbed.calls if call.startswith("Delete")]
    warnings = [log.message for log in run_logs(state.state_details.flow_run_id) if log.level == 30]
    assert any("teardown_on_failure=True only covers the deployment itself here" in m
               and "on_failure=[delete_endpoints_on_failure]" in m for m in warnings)


def test_the_flow_hook_deletes_what_a_failed_flow_run_deployed_with_teardown(stubbed, credentials):
    """No transaction: the flow's on_failure hook deletes the endpoint deployed with
    teardown_on_failure=True, not the one deployed without, nor one already deleted by a task."""
    deployment(stubbed.sagemaker, "iris", "iris-model", "InService")
    deployment(stubbed.sagemaker, "kept", "kept-model", "InService")
    deployment(stubbed.sagemaker, "gone", "gone-model", "InService")
    deletion(stubbed.sagemaker, "gone", "gone-model", "gone-model")  # the flow deletes it itself
    deletion(stubbed.sagemaker, "iris", "iris-model", "iris-model")  # by the hook

    @flow(on_failure=[delete_endpoints_on_failure])
    def hooked():
        deploy_model("iris-model", endpoint_name="iris", teardown_on_failure=True, aws_credentials=credentials)
        deploy_model("kept-model", endpoint_name="kept", aws_credentials=credentials)
        deploy_model("gone-model", endpoint_name="gone", teardown_on_failure=True, aws_credentials=credentials)
        delete_endpoint("gone", aws_credentials=credentials)
        failing_check([])

    state = hooked(return_state=True)
    assert state.is_failed() and "accuracy below the bar" in state.message
    stubbed.assert_done()
    deleted = [params for name, params in stubbed.requests if name == "DeleteEndpoint"]
    assert deleted == [{"EndpointName": "gone"}, {"EndpointName": "iris"}]
    messages = [log.message for log in run_logs(state.state_details.flow_run_id)]
    assert not any("only covers the deployment itself" in m for m in messages)  # the hook covers it
    assert any("Tearing down endpoint iris: flow run" in m and "ended Failed" in m for m in messages)


def test_the_flow_hook_deletes_nothing_after_a_successful_run(stubbed, credentials):
    deployment(stubbed.sagemaker, "iris", "iris-model", "InService")

    @flow(on_failure=[delete_endpoints_on_failure])
    def fine() -> str:
        return deploy_model("iris-model", endpoint_name="iris", teardown_on_failure=True,
                            aws_credentials=credentials)["EndpointStatus"]

    assert fine() == "InService"
    stubbed.assert_done()
    assert not [call for call in stubbed.calls if call.startswith("Delete")]


def test_adeploy_model_awaits_an_endpoint_still_updating_and_replaces_a_failed_one(stubbed, credentials):
    """What start_deploy would wait for in its worker thread is awaited before it: an Updating
    endpoint until it settles; a Failed one is deleted (config kept) and then created anew."""
    not_found(stubbed.sagemaker, "describe_endpoint_config", 'Could not find endpoint configuration "iris-model".')
    stubbed.sagemaker.add_response("create_endpoint_config", {"EndpointConfigArn": arn("endpoint-config", "iris-model")})
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "Updating", "old"))
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "Updating", "old"))
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "Failed", "old", reason="bad update"))
    # the Failed endpoint is deleted, its config kept
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "Failed", "old"))
    stubbed.sagemaker.add_response("delete_endpoint", {}, {"EndpointName": "iris"})
    not_found(stubbed.sagemaker, "describe_endpoint", 'Could not find endpoint "iris".')
    not_found(stubbed.sagemaker, "describe_endpoint", 'Could not find endpoint "iris".')  # the way is clear
    stubbed.sagemaker.add_response("create_endpoint", {"EndpointArn": arn("endpoint", "iris")},
                                   {"EndpointName": "iris", "EndpointConfigName": "iris-model"})
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "Creating", "iris-model"))
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "InService", "iris-model"))

    @flow
    async def serve() -> dict:
        return await adeploy_model("iris-model", endpoint_name="iris", aws_credentials=credentials)

    state = asyncio.run(serve(return_state=True))
    assert state.result()["EndpointStatus"] == "InService"
    stubbed.assert_done()
    assert "DeleteEndpointConfig" not in stubbed.calls
    messages = [log.message for log in run_logs(state.state_details.flow_run_id)]
    assert any("Endpoint iris is Updating; waiting before deploying" in m for m in messages)
    assert any("Endpoint iris is Failed; deleting and creating it again" in m for m in messages)


def test_teardown_on_failure_deletes_an_endpoint_whose_deployment_failed(stubbed, credentials):
    deployment(stubbed.sagemaker, "iris", "iris-model", "Creating", "Failed")
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "Failed", "iris-model"))
    stubbed.sagemaker.add_response("describe_endpoint_config", {
        "EndpointConfigName": "iris-model", "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:1:endpoint-config/x",
        "CreationTime": endpoint("iris", "Failed", "x")["CreationTime"],
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "iris-model"}]})
    stubbed.sagemaker.add_response("delete_endpoint", {})
    not_found(stubbed.sagemaker, "describe_endpoint", 'Could not find endpoint "iris".')
    stubbed.sagemaker.add_response("delete_endpoint_config", {})

    @flow
    def deploy():
        deploy_model("iris-model", endpoint_name="iris", teardown_on_failure=True, aws_credentials=credentials)

    state = deploy(return_state=True)
    assert state.is_failed() and "the model server did not start" in state.message
    stubbed.assert_done()


def test_async_twins_and_async_transaction_teardown(stubbed, credentials):
    stubbed.sagemaker.add_response("describe_training_job", training_job("iris-job", "Completed"))
    not_found(stubbed.sagemaker, "describe_model", "Could not find model")
    stubbed.sagemaker.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:1:model/iris-job"})
    stubbed.sagemaker.add_response("describe_model", model("iris-job"))
    deployment(stubbed.sagemaker, "iris", "iris-job", "Creating", "InService")
    stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "InService", "iris-job"))
    stubbed.runtime.add_response("invoke_endpoint", npy([0.0, 2.0]))
    deletion(stubbed.sagemaker, "iris", "iris-job", "iris-job")  # by the rollback
    not_found(stubbed.sagemaker, "describe_endpoint", 'Could not find endpoint "iris".')  # adelete_endpoint

    @flow
    async def guarded():
        made = await acreate_model(training_job_name="iris-job", role=ROLE, aws_credentials=credentials)
        try:
            async with atransaction():
                await adeploy_model(made["ModelName"], endpoint_name="iris", teardown_on_failure=True,
                                    aws_credentials=credentials)
                assert (await await_for_endpoint("iris", aws_credentials=credentials))["EndpointStatus"] == "InService"
                species = await apredict("iris", ROWS, aws_credentials=credentials)
                raise ValueError(f"rejecting {species}")
        except ValueError:
            pass
        return await adelete_endpoint("iris", aws_credentials=credentials)

    state = asyncio.run(guarded(return_state=True))
    assert state.result() == {"EndpointName": "iris", "Deleted": []}  # the rollback deleted it already
    stubbed.assert_done()
    assert [a.type for a in run_artifacts(state.state_details.flow_run_id)] == ["table"]
    assert {run.name.rsplit("-", 1)[0] for run in task_runs(state.state_details.flow_run_id)} == {
        "acreate_model", "adeploy_model", "await_for_endpoint", "apredict", "adelete_endpoint"}


# ---------------------------------------------------------------------- sync / async mismatches
def test_an_async_twin_called_in_a_sync_flow_fails_naming_the_sync_twin(stubbed, credentials):
    @flow
    def sync_flow():
        adelete_endpoint("iris", aws_credentials=credentials)

    state = sync_flow(return_state=True)
    assert state.is_failed()
    assert ("adelete_endpoint is an async task, called from sync code where nothing awaits it (it would do "
            "nothing): call delete_endpoint(...) in a sync flow") in state.message
    assert stubbed.calls == []  # nothing was half-done

    @flow
    def sync_flow_with_options():
        await_for_endpoint.with_options(retries=2)("iris", aws_credentials=credentials)

    assert "call wait_for_endpoint(...)" in sync_flow_with_options(return_state=True).message


def test_a_waiting_sync_task_called_by_an_async_flow_warns_naming_the_async_twin(stubbed, credentials):
    for _ in range(2):
        stubbed.sagemaker.add_response("describe_endpoint", endpoint("iris", "InService", "iris-model"))

    @flow
    async def async_flow():
        direct = wait_for_endpoint("iris", aws_credentials=credentials)  # blocks the event loop
        submitted = wait_for_endpoint.submit("iris", aws_credentials=credentials).result()  # a worker thread
        return direct, submitted

    state = asyncio.run(async_flow(return_state=True))
    direct, submitted = state.result()
    assert direct["EndpointStatus"] == submitted["EndpointStatus"] == "InService"
    runs = {run.id: run for run in task_runs(state.state_details.flow_run_id)}
    warnings = [(runs[log.task_run_id].name, log.message) for log in run_logs(state.state_details.flow_run_id)
                if log.level == 30]
    assert len(warnings) == 1, warnings  # the direct call only
    assert "wait_for_endpoint waits synchronously on the thread of a running event loop" in warnings[0][1]
    assert "`await await_for_endpoint(...)`" in warnings[0][1]
