"""Hosting tasks: ``create_model``, ``deploy_model``, ``predict``, ``delete_endpoint``,
``wait_for_endpoint`` and their async twins (``a``-prefixed).

Thin Prefect tasks over :class:`smflow.client.SageMakerClient` (``create_model``, ``deploy``,
``predict``, ``delete_endpoint``, ``wait_for_endpoint``). Results are plain data: summaries from
:mod:`smflow.summaries` and lists. ``predict`` leaves a table artifact of inputs and predictions.

Teardown on failure: ``deploy_model(..., teardown_on_failure=True)`` deletes the endpoint (and its
endpoint config; the model is kept) when the deployment itself fails or times out, and when a
later step fails, so a failed flow does not leave a paid endpoint running. For the later steps,
either

* give the flow the hook :func:`delete_endpoints_on_failure`: when the flow run ends Failed,
  Crashed or Cancelled, it deletes every endpoint deployed with ``teardown_on_failure=True`` by
  the tasks of that flow run (recorded per flow run id, in the process running the flow)::

      @flow(on_failure=[delete_endpoints_on_failure], on_crashed=[delete_endpoints_on_failure],
            on_cancellation=[delete_endpoints_on_failure])
      def serve_and_check(...):
          endpoint = deploy_model(model_name, endpoint_name="iris", teardown_on_failure=True)
          check(predict(endpoint["EndpointName"], rows))    # fails -> the flow run fails -> deleted

* or put the steps in a Prefect transaction: when a later task of the ``with transaction():``
  block fails, the transaction rolls back and deploy_model's ``on_rollback`` hook deletes it::

      with transaction():
          endpoint = deploy_model(model["ModelName"], endpoint_name="iris", teardown_on_failure=True)
          predict(endpoint["EndpointName"], rows)      # fails -> the endpoint is deleted

Not covered: a flow process that is killed (SIGKILL, out of memory, the machine lost) runs no
hook; nor does a cancellation that kills the flow's process from a worker or runner (Prefect then
runs ``on_cancellation`` hooks in the runner's process, which has no record of the endpoints).
Such endpoints are left running: delete them with ``delete_endpoint`` or ``smflow`` itself. An
endpoint deployed by a subflow is recorded under the subflow's run (give the subflow the hook).

Sync or async: sync tasks in sync flows, the ``a``-prefixed twins (``deploy_model``, ``adeploy_model``, ...) awaited in
async ones; mismatches are refused or warned about (:mod:`smflow_prefect._common`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from smflow import aio
from smflow.client import SageMakerClient
from smflow.codecs import NPY
from smflow.errors import ConfigurationError
from smflow.resources.specs import DEFAULT_INSTANCE_TYPE, ENDPOINT, MODEL
from smflow_prefect._common import (
    async_twin,
    current_flow_run_id,
    run_logger,
    task_client,
    warn_if_event_loop_blocked,
)

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun
    from prefect.states import State
    from prefect.transactions import Transaction
    from prefect_aws import AwsCredentials

TEARDOWN = "smflow_teardown_endpoint"  # transaction value: what the rollback hook deletes
logger = logging.getLogger("smflow_prefect")

# flow run id -> {endpoint name: its AwsCredentials}: what delete_endpoints_on_failure deletes
_FLOW_RUN_TEARDOWNS: dict[str, dict[str, AwsCredentials | None]] = {}
_teardowns_lock = threading.Lock()


# ---------------------------------------------------------------------- create_model
@task(cache_policy=NO_CACHE)
def create_model(
    training_job_name: str | None = None,
    model_data: str | None = None,
    entry_point: str | None = None,
    source_dir: str | None = None,
    model_name: str | None = None,
    image_uri: str | None = None,
    algorithm: str | None = None,
    framework: str | None = None,
    framework_version: str | None = None,
    py_version: str | None = None,
    instance_type: str | None = None,
    model_server_workers: int | None = None,
    role: str | None = None,
    environment: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    default_bucket: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Create a SageMaker model (CreateModel) from a completed training job (its model data,
    image and inference script), from ``model_data`` (an S3 model.tar.gz) plus an inference
    ``entry_point`` ("Deploy Endpoints from Model Data" in the SageMaker Python SDK docs), or from a
    raw CreateModel request ``config``. A model of that name with the same image and model data is
    reused, so a retry is harmless. The model is named after the training job unless
    ``model_name`` is given. The image is ``image_uri``, else the training job's, else the one
    :func:`smflow.image_uris.retrieve` finds for ``framework`` / ``framework_version`` (None:
    smflow's default framework, its default version), or ``algorithm``'s. Without code
    (``model_data`` with ``image_uri`` or ``algorithm``, or a job trained without a script) the
    image serves on its own, as the SDK's ``Model``. The arguments passed to the client are
    declared in :data:`smflow.resources.specs.MODEL`.

    Returns: ``{"ModelName", "ModelArn", "Image", "ModelDataUrl"}``.
    Raises: ConfigurationError (missing or conflicting arguments), ResourceFailedError (the
        training job did not complete).

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import create_model

        @flow
        def model_from(job_name: str) -> str:
            return create_model(training_job_name=job_name)["ModelName"]

        model_from("iris-0123456789")
        ```
    """
    arguments = MODEL.call_arguments(locals())
    return task_client(aws_credentials, role=role, default_bucket=default_bucket).create_model(**arguments)


@async_twin(create_model)
async def acreate_model(*, default_bucket, aws_credentials, **parameters) -> dict:
    """Async twin of :func:`create_model` (same arguments, result and errors).

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import acreate_model

        @flow
        async def model_from(job_name: str) -> str:
            return (await acreate_model(training_job_name=job_name))["ModelName"]

        asyncio.run(model_from("iris-0123456789"))
        ```
    """
    arguments = MODEL.call_arguments(parameters)
    client = task_client(aws_credentials, role=arguments["role"], default_bucket=default_bucket)
    return await asyncio.to_thread(lambda: client.create_model(**arguments))


# ---------------------------------------------------------------------- deploy_model
def _flow_has_teardown_hook() -> bool:
    from prefect.context import FlowRunContext

    flow_context = FlowRunContext.get()
    return flow_context is not None and delete_endpoints_on_failure in (flow_context.flow.on_failure_hooks or [])


def _register_teardown(endpoint_name: str, aws_credentials: AwsCredentials | None) -> None:
    """Record which endpoint to delete on failure: in the task run's transaction (its rollback
    hook) and under the flow run's id (:func:`delete_endpoints_on_failure`)."""
    from prefect.transactions import get_transaction

    transaction = get_transaction()
    flow_run_id = current_flow_run_id()
    if flow_run_id is not None:
        with _teardowns_lock:
            _FLOW_RUN_TEARDOWNS.setdefault(flow_run_id, {})[endpoint_name] = aws_credentials
    if (transaction is None or transaction.get_parent() is None) and not _flow_has_teardown_hook():
        run_logger().warning(
            "teardown_on_failure=True only covers the deployment itself here: to delete the endpoint "
            "when a later step fails, give the flow on_failure=[delete_endpoints_on_failure] "
            "(smflow_prefect.hosting), or put deploy_model and the steps after it in "
            "`with prefect.transactions.transaction():`"
        )
    if transaction is not None:
        transaction.set(TEARDOWN, {"endpoint_name": endpoint_name, "aws_credentials": aws_credentials})


def _forget_teardown(endpoint_name: str) -> None:
    """The endpoint was deleted on purpose in this flow run: the failure hook has nothing to do."""
    flow_run_id = current_flow_run_id()
    if flow_run_id is None:
        return
    with _teardowns_lock:
        targets = _FLOW_RUN_TEARDOWNS.get(flow_run_id)
        if targets is not None:
            targets.pop(endpoint_name, None)
            if not targets:
                del _FLOW_RUN_TEARDOWNS[flow_run_id]


def delete_endpoints_on_failure(flow: Flow, flow_run: FlowRun, state: State) -> None:
    """Flow state hook: delete the endpoints (and their endpoint configs; models are kept) that
    tasks of this flow run deployed with ``teardown_on_failure=True`` and did not delete since
    (DeleteEndpoint, DeleteEndpointConfig). Use it as
    ``@flow(on_failure=[delete_endpoints_on_failure], on_crashed=[...], on_cancellation=[...])``.

    The endpoints are recorded per flow run id in the process that runs the flow, so the hook
    must run there: it does for a flow run that fails or crashes (an exception, SIGTERM), not for
    a process that is killed, nor for a cancellation that kills the flow's process (Prefect then
    runs ``on_cancellation`` hooks in the worker's or runner's process, which has no record).
    Each endpoint is deleted independently: an error deleting one (logged to the flow run's
    logs) does not stop the others; deleting one that is already gone is not an error.
    """
    from prefect.logging.loggers import flow_run_logger

    from smflow_prefect.clients import sagemaker_client

    with _teardowns_lock:
        targets = _FLOW_RUN_TEARDOWNS.pop(str(flow_run.id), {})
    run_log = flow_run_logger(flow_run, flow)
    for endpoint_name, aws_credentials in targets.items():
        run_log.info(f"Tearing down endpoint {endpoint_name}: flow run {flow_run.name!r} ended {state.name}")
        try:
            client = sagemaker_client(aws_credentials, log=run_log.info)
            client.delete_endpoint(endpoint_name, delete_endpoint_config=True, delete_model=False)
        except Exception as error:  # noqa: BLE001 - the others must still be deleted
            run_log.error(f"Could not tear down endpoint {endpoint_name}: {error}")


def teardown_endpoint(transaction: Transaction) -> None:
    """Rollback hook of ``deploy_model``/``adeploy_model``: delete the endpoint the task deployed
    with ``teardown_on_failure=True`` and its endpoint config (the model is kept). Deleting an
    endpoint that is already gone is not an error."""
    from smflow_prefect.clients import sagemaker_client

    target = transaction.get(TEARDOWN, None)
    if not target:
        return
    log = transaction.logger.info if transaction.logger else logger.info
    log(f"Tearing down endpoint {target['endpoint_name']}: a step after its deployment failed")
    client = sagemaker_client(target["aws_credentials"], log=log)
    client.delete_endpoint(target["endpoint_name"], delete_endpoint_config=True, delete_model=False)
    _forget_teardown(target["endpoint_name"])


def _delete_after_failed_deployment(client: SageMakerClient, endpoint_name: str) -> None:
    """A deployment that failed or timed out may leave a Creating or Failed endpoint: delete it
    (a transaction's rollback only undoes tasks that completed)."""
    client.log(f"Tearing down endpoint {endpoint_name}: its deployment failed")
    try:
        client.delete_endpoint(endpoint_name, delete_endpoint_config=True, delete_model=False)
    except Exception as error:  # the deployment's own error is the one to report
        client.log(f"Could not tear down endpoint {endpoint_name}: {error}")


async def _adelete_after_failed_deployment(client: SageMakerClient, endpoint_name: str) -> None:
    """:func:`_delete_after_failed_deployment` for event loops."""
    client.log(f"Tearing down endpoint {endpoint_name}: its deployment failed")
    try:
        await _adelete(client, endpoint_name, delete_endpoint_config=True, delete_model=False)
    except Exception as error:  # the deployment's own error is the one to report
        client.log(f"Could not tear down endpoint {endpoint_name}: {error}")


def _teardown_target(
    teardown_on_failure: bool, model_name: str | None, endpoint_name: str | None, config: dict | None
) -> str | None:
    """The endpoint ``deploy`` will make (:meth:`SageMakerClient.deploy_endpoint_name`), when
    teardown was asked for; None when it was not, or when the arguments name no valid endpoint
    (``deploy`` itself then reports it)."""
    if not teardown_on_failure:
        return None
    try:
        return SageMakerClient.deploy_endpoint_name(model_name=model_name, endpoint_name=endpoint_name, config=config)
    except ConfigurationError:
        return None


async def _adelete(client: SageMakerClient, endpoint_name: str, **options: Any) -> dict:
    """``client.delete_endpoint`` (same keyword arguments and result), its wait for the endpoint
    to be gone an ``asyncio`` wait: :func:`smflow.aio.delete_endpoint`."""
    return await aio.delete_endpoint(client, endpoint_name, **options)


@task(cache_policy=NO_CACHE)
def deploy_model(
    model_name: str | None = None,
    endpoint_name: str | None = None,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    initial_instance_count: int = 1,
    endpoint_config_name: str | None = None,
    config: dict[str, Any] | None = None,
    wait: bool = True,
    timeout: float | None = None,
    teardown_on_failure: bool = False,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Deploy a model to an endpoint: create the endpoint config, then create the endpoint, or
    update an existing one (it keeps serving the old model until the new one is InService), and
    wait for InService (CreateEndpointConfig, CreateEndpoint / UpdateEndpoint). A retry finds the
    endpoint config and endpoint it made and waits for them.

    Args:
        model_name: the model to serve (or give a raw CreateEndpointConfig request as ``config``).
        endpoint_name: default ``model_name``.
        timeout: seconds to wait for InService at most.
        teardown_on_failure: delete the endpoint and its config when this deployment fails or
            times out; when the flow run fails later, if the flow has the hook
            :func:`delete_endpoints_on_failure`; and, inside
            ``with prefect.transactions.transaction():``, when the transaction rolls back (a later
            task of the block failed). Without hook or transaction a warning says so. Do not use
            it for an endpoint that must outlive a failed run (e.g. one serving production that
            this task only updates).

    Returns: ``smflow.summaries.endpoint_summary``: ``EndpointName``, ``EndpointArn``,
        ``EndpointStatus``, ``EndpointConfigName``, times.
    Raises:
        ResourceFailedError: the endpoint ended Failed, or an update rolled back (FailureReason).
        WaitTimeoutError: not InService after ``timeout`` seconds.

    Example:
        Deploy, predict, and tear the endpoint down if a later step fails:

        ```python
        from prefect import flow
        from smflow_prefect import delete_endpoint, delete_endpoints_on_failure, deploy_model, predict

        @flow(on_failure=[delete_endpoints_on_failure], on_crashed=[delete_endpoints_on_failure])
        def serve_and_check(model_name: str) -> list:
            endpoint = deploy_model(model_name, endpoint_name="iris", teardown_on_failure=True)
            species = predict(endpoint["EndpointName"], [[5.1, 3.5, 1.4, 0.2]])
            delete_endpoint("iris")
            return species

        serve_and_check("iris-0123456789")
        ```
    """
    arguments = ENDPOINT.call_arguments(locals())
    from smflow.summaries import endpoint_summary

    name = _teardown_target(teardown_on_failure, model_name, endpoint_name, config)
    if name:
        _register_teardown(name, aws_credentials)
    if wait:
        warn_if_event_loop_blocked("deploy_model")
    client = task_client(aws_credentials)
    try:
        return endpoint_summary(client.deploy(**arguments, wait=wait, timeout=timeout))
    except BaseException:
        if name:
            _delete_after_failed_deployment(client, name)
        raise


@async_twin(deploy_model)
async def adeploy_model(*, wait, timeout, teardown_on_failure, aws_credentials, **parameters) -> dict:
    """Async twin of :func:`deploy_model` (same arguments, result and errors; teardown with the
    flow hook :func:`delete_endpoints_on_failure` or inside
    ``async with prefect.transactions.atransaction():``). Every wait is an ``asyncio`` wait that
    holds no thread: for an endpoint still Creating/Updating to settle, for a Failed one to be
    deleted (:func:`smflow.aio.delete_endpoint`), and for InService on the config being rolled
    out (:func:`smflow.aio.start_deploy`, :func:`smflow.aio.wait_for_endpoint`); only the
    short calls run in a worker thread.

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import adeploy_model

        @flow
        async def serve(model_name: str) -> str:
            return (await adeploy_model(model_name, endpoint_name="iris"))["EndpointStatus"]

        asyncio.run(serve("iris-0123456789"))
        ```
    """
    from smflow.summaries import endpoint_summary

    arguments = ENDPOINT.call_arguments(parameters)
    name = _teardown_target(
        teardown_on_failure, arguments["model_name"], arguments["endpoint_name"], arguments["config"]
    )
    if name:
        _register_teardown(name, aws_credentials)
    client = task_client(aws_credentials)
    try:
        config_name, description = await aio.start_deploy(client, **arguments, timeout=timeout)
        if wait:
            description = await aio.wait_for_endpoint(
                client, description["EndpointName"], expected_config=config_name, timeout=timeout
            )
        return endpoint_summary(description)
    except BaseException:
        if name:
            await _adelete_after_failed_deployment(client, name)
        raise


deploy_model.on_rollback(teardown_endpoint)
adeploy_model.on_rollback(teardown_endpoint)


# ---------------------------------------------------------------------- predict
def _predictions_artifact_description(endpoint_name: str, rows: int, shown: int) -> str:
    more = f" (first {shown} shown)" if shown < rows else ""
    return f"{rows} predictions of endpoint {endpoint_name}{more}"


@task(cache_policy=NO_CACHE)
def predict(
    endpoint_name: str,
    data: Any,
    content_type: str = NPY,
    accept: str = NPY,
    target_variant: str | None = None,
    feature_names: list[str] | None = None,
    artifact_key: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> list:
    """Predict with an endpoint (InvokeEndpoint; the SageMaker Python SDK's ``Predictor.predict``):
    ``data`` (a list of rows, or a NumPy array) is sent as ``content_type`` (``application/x-npy``
    by default, as the SDK's ``NumpySerializer``; or ``application/json``, ``text/csv``) and the
    answer, asked for as ``accept``, comes back as a list. A table artifact shows each input row
    (columns ``feature_names``) next to its prediction (first 500 rows).

    Returns: the predictions as a (nested) list, one entry per input row; an algorithm's JSON
        answer as its object (``{"predictions": [{"closest_cluster": 3.0, ...}]}``), its
        RecordIO-protobuf answer as a list of dicts (``application/x-recordio-protobuf``, which
        ``content_type`` may also be: one record per row, as the SDK's ``RecordSerializer``).
    Raises: InvocationError (unknown endpoint, or the model's error with its status and message),
        UnsupportedContentTypeError.

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import predict

        @flow
        def species(endpoint_name: str = "iris") -> list:
            return predict(endpoint_name, [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
                           feature_names=["sepal length", "sepal width", "petal length", "petal width"])

        species()
        ```
    """
    from prefect.artifacts import create_table_artifact

    from smflow_prefect.artifacts import MAX_TABLE_ROWS, predictions_table

    from smflow.resources.endpoints import plain_answer, prediction_rows

    client = task_client(aws_credentials)
    answer = client.predict(endpoint_name, data, content_type=content_type, accept=accept,
                            target_variant=target_variant)
    predictions, rows = plain_answer(answer), prediction_rows(answer)
    table = predictions_table(data, rows, feature_names)
    create_table_artifact(table=table, key=artifact_key, description=_predictions_artifact_description(
        endpoint_name, len(rows), min(len(rows), MAX_TABLE_ROWS)))
    return predictions


@async_twin(predict)
async def apredict(
    *, endpoint_name, data, content_type, accept, target_variant, feature_names, artifact_key, aws_credentials
) -> list:
    """Async twin of :func:`predict` (same arguments, result, artifact and errors).

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import apredict

        @flow
        async def species(endpoint_name: str = "iris") -> list:
            return await apredict(endpoint_name, [[5.1, 3.5, 1.4, 0.2]])

        asyncio.run(species())
        ```
    """
    from prefect.artifacts import acreate_table_artifact

    from smflow_prefect.artifacts import MAX_TABLE_ROWS, predictions_table

    client = task_client(aws_credentials)
    answer = await asyncio.to_thread(
        client.predict, endpoint_name, data, content_type=content_type, accept=accept, target_variant=target_variant
    )
    from smflow.resources.endpoints import plain_answer, prediction_rows

    predictions, rows = plain_answer(answer), prediction_rows(answer)
    table = predictions_table(data, rows, feature_names)
    await acreate_table_artifact(table=table, key=artifact_key, description=_predictions_artifact_description(
        endpoint_name, len(rows), min(len(rows), MAX_TABLE_ROWS)))
    return predictions


# ---------------------------------------------------------------------- delete_endpoint
@task(cache_policy=NO_CACHE)
def delete_endpoint(
    endpoint_name: str,
    delete_endpoint_config: bool = True,
    delete_model: bool = False,
    wait: bool = True,
    timeout: float | None = 600,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Delete an endpoint and, by default, its endpoint config (and its models when
    ``delete_model``) (DeleteEndpoint, DeleteEndpointConfig, DeleteModel). Deleting what is already
    gone is not an error, so it fits teardown steps and retries. ``timeout`` in seconds.

    Returns: ``{"EndpointName", "Deleted": ["Endpoint/<name>", "EndpointConfig/<name>", ...]}``.

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import delete_endpoint

        @flow
        def clean_up(endpoint_name: str = "iris") -> list:
            return delete_endpoint(endpoint_name)["Deleted"]

        clean_up()
        ```
    """
    if wait:
        warn_if_event_loop_blocked("delete_endpoint")
    deleted = task_client(aws_credentials).delete_endpoint(
        endpoint_name, delete_endpoint_config=delete_endpoint_config, delete_model=delete_model, wait=wait,
        timeout=timeout,
    )
    _forget_teardown(endpoint_name)
    return deleted


@async_twin(delete_endpoint)
async def adelete_endpoint(*, endpoint_name, aws_credentials, **options) -> dict:
    """Async twin of :func:`delete_endpoint` (same arguments and result). The wait for the
    endpoint to be gone (up to ``timeout`` seconds) is an ``asyncio`` wait that holds no thread
    (:func:`smflow.aio.delete_endpoint`).

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import adelete_endpoint

        @flow
        async def clean_up(endpoint_name: str = "iris") -> list:
            return (await adelete_endpoint(endpoint_name))["Deleted"]

        asyncio.run(clean_up())
        ```
    """
    deleted = await _adelete(task_client(aws_credentials), endpoint_name, **options)
    _forget_teardown(endpoint_name)
    return deleted


# ---------------------------------------------------------------------- wait_for_endpoint
@task(cache_policy=NO_CACHE)
def wait_for_endpoint(
    endpoint_name: str,
    expected_config: str | None = None,
    timeout: float | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Wait until an endpoint is InService (DescribeEndpoint, polled 0.2 s apart growing x1.2 to
    30 s). With ``expected_config``, an endpoint back InService on another config (an update that
    rolled back) is an error.

    Returns: ``smflow.summaries.endpoint_summary`` of the endpoint.
    Raises:
        ResourceFailedError: Failed / OutOfService / rolled back (with FailureReason).
        WaitTimeoutError: not InService after ``timeout`` seconds.

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import deploy_model, wait_for_endpoint

        @flow
        def serve(model_name: str) -> str:
            deploy_model(model_name, endpoint_name="iris", wait=False)
            return wait_for_endpoint("iris", timeout=1800)["EndpointStatus"]

        serve("iris-0123456789")
        ```
    """
    from smflow.summaries import endpoint_summary

    warn_if_event_loop_blocked("wait_for_endpoint")
    client = task_client(aws_credentials)
    return endpoint_summary(client.wait_for_endpoint(endpoint_name, expected_config=expected_config, timeout=timeout))


@async_twin(wait_for_endpoint)
async def await_for_endpoint(*, endpoint_name, expected_config, timeout, aws_credentials) -> dict:
    """Async twin of :func:`wait_for_endpoint` (same arguments, result and errors); polls with
    ``asyncio.sleep`` between DescribeEndpoint calls.

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import await_for_endpoint

        @flow
        async def ready(endpoint_name: str = "iris") -> str:
            return (await await_for_endpoint(endpoint_name, timeout=1800))["EndpointStatus"]

        asyncio.run(ready())
        ```
    """
    from smflow.summaries import endpoint_summary

    client = task_client(aws_credentials)
    return endpoint_summary(
        await aio.wait_for_endpoint(client, endpoint_name, expected_config=expected_config, timeout=timeout)
    )
