"""Hosting tasks: ``create_model``, ``deploy_model``, ``predict``, ``delete_endpoint``,
``wait_for_endpoint`` and their async twins (``a``-prefixed).

Thin Prefect tasks over :class:`smflow.client.SageMakerClient` (``create_model``, ``deploy``,
``predict``, ``delete_endpoint``, ``wait_for_endpoint``). Results are plain data: summaries from
:mod:`smflow.summaries` and lists. ``predict`` leaves a table artifact of inputs and predictions.

Teardown on failure: ``deploy_model(..., teardown_on_failure=True)`` deletes the endpoint (and its
endpoint config) when the deployment itself fails or times out, and, inside a Prefect transaction,
when the transaction rolls back, i.e. when a later task in the ``with transaction():`` block fails
(Prefect's ``on_rollback`` hooks), so a failed flow does not leave a paid endpoint running::

    from prefect.transactions import transaction

    with transaction():
        endpoint = deploy_model(model["ModelName"], endpoint_name="iris", teardown_on_failure=True)
        predict(endpoint["EndpointName"], rows)      # fails -> the endpoint is deleted
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from smflow import aio
from smflow.builders import DEFAULT_INSTANCE_TYPE
from smflow.client import SageMakerClient
from smflow.codecs import NPY
from smflow.image_uris import DEFAULT_SKLEARN_VERSION
from smflow_prefect._common import call_arguments, run_logger, task_client

if TYPE_CHECKING:
    from prefect.transactions import Transaction
    from prefect_aws import AwsCredentials

TEARDOWN = "smflow_teardown_endpoint"  # transaction value: what the rollback hook deletes
logger = logging.getLogger("smflow_prefect")


# ---------------------------------------------------------------------- create_model
@task(cache_policy=NO_CACHE)
def create_model(
    training_job_name: str | None = None,
    model_data: str | None = None,
    entry_point: str | None = None,
    source_dir: str | None = None,
    model_name: str | None = None,
    image_uri: str | None = None,
    framework_version: str = DEFAULT_SKLEARN_VERSION,
    role: str | None = None,
    environment: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    default_bucket: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Create a SageMaker model (CreateModel) from a completed training job (its model data,
    image and inference script), from ``model_data`` (an S3 model.tar.gz) plus an inference
    ``entry_point`` (seed 001 "Deploy an Endpoint from Model Data"), or from a raw CreateModel
    request ``config``. A model of that name with the same image and model data is reused, so a
    retry is harmless. The model is named after the training job unless ``model_name`` is given.

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
    arguments = call_arguments(SageMakerClient.create_model, locals())
    return task_client(aws_credentials, role=role, default_bucket=default_bucket).create_model(**arguments)


@task(cache_policy=NO_CACHE)
async def acreate_model(
    training_job_name: str | None = None,
    model_data: str | None = None,
    entry_point: str | None = None,
    source_dir: str | None = None,
    model_name: str | None = None,
    image_uri: str | None = None,
    framework_version: str = DEFAULT_SKLEARN_VERSION,
    role: str | None = None,
    environment: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    default_bucket: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
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
    arguments = call_arguments(SageMakerClient.create_model, locals())
    client = task_client(aws_credentials, role=role, default_bucket=default_bucket)
    return await asyncio.to_thread(lambda: client.create_model(**arguments))


# ---------------------------------------------------------------------- deploy_model
def _register_teardown(endpoint_name: str, aws_credentials: AwsCredentials | None) -> None:
    """Tell the task run's transaction which endpoint its rollback hook deletes."""
    from prefect.transactions import get_transaction

    transaction = get_transaction()
    if transaction is None or transaction.get_parent() is None:
        run_logger().warning(
            "teardown_on_failure=True has no effect outside a transaction: put deploy_model and "
            "the steps after it in `with prefect.transactions.transaction():`"
        )
    if transaction is not None:
        transaction.set(TEARDOWN, {"endpoint_name": endpoint_name, "aws_credentials": aws_credentials})


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


def _delete_after_failed_deployment(client: SageMakerClient, endpoint_name: str) -> None:
    """A deployment that failed or timed out may leave a Creating or Failed endpoint: delete it
    (a transaction's rollback only undoes tasks that completed)."""
    client.log(f"Tearing down endpoint {endpoint_name}: its deployment failed")
    try:
        client.delete_endpoint(endpoint_name, delete_endpoint_config=True, delete_model=False)
    except Exception as error:  # the deployment's own error is the one to report
        client.log(f"Could not tear down endpoint {endpoint_name}: {error}")


def _teardown_target(
    teardown_on_failure: bool, model_name: str | None, endpoint_name: str | None, config: dict | None
) -> str | None:
    """The endpoint ``deploy`` will make (as it names it), when teardown was asked for."""
    if not teardown_on_failure:
        return None
    if config is not None and not model_name:
        variants = config.get("ProductionVariants") or [{}]
        model_name = variants[0].get("ModelName")
    return endpoint_name or model_name  # None: deploy itself reports the missing argument


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
            times out, and, inside ``with prefect.transactions.transaction():``, when the
            transaction rolls back (a later task of the block failed). Do not use it for an
            endpoint that must outlive a failed run (e.g. one serving production that this task
            only updates).

    Returns: ``smflow.summaries.endpoint_summary``: ``EndpointName``, ``EndpointArn``,
        ``EndpointStatus``, ``EndpointConfigName``, times.
    Raises:
        ResourceFailedError: the endpoint ended Failed, or an update rolled back (FailureReason).
        WaitTimeoutError: not InService after ``timeout`` seconds.

    Example:
        Deploy, predict, and tear the endpoint down if the prediction step fails:

        ```python
        from prefect import flow
        from prefect.transactions import transaction
        from smflow_prefect import delete_endpoint, deploy_model, predict

        @flow
        def serve_and_check(model_name: str) -> list:
            with transaction():
                endpoint = deploy_model(model_name, endpoint_name="iris", teardown_on_failure=True)
                species = predict(endpoint["EndpointName"], [[5.1, 3.5, 1.4, 0.2]])
            delete_endpoint("iris")
            return species

        serve_and_check("iris-0123456789")
        ```
    """
    arguments = call_arguments(SageMakerClient.deploy, locals())
    from smflow.summaries import endpoint_summary

    name = _teardown_target(teardown_on_failure, model_name, endpoint_name, config)
    if name:
        _register_teardown(name, aws_credentials)
    client = task_client(aws_credentials)
    try:
        return endpoint_summary(client.deploy(**arguments))
    except BaseException:
        if name:
            _delete_after_failed_deployment(client, name)
        raise


@task(cache_policy=NO_CACHE)
async def adeploy_model(
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
    """Async twin of :func:`deploy_model` (same arguments, result and errors; teardown inside
    ``async with prefect.transactions.atransaction():``). The roll-out calls run in a worker
    thread (``client.start_deploy``); the wait for InService on the config being rolled out is an
    ``asyncio`` wait that holds no thread (:func:`smflow.aio.wait_for_endpoint`).

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
    arguments = call_arguments(SageMakerClient.deploy, locals())
    from smflow.summaries import endpoint_summary

    name = _teardown_target(teardown_on_failure, model_name, endpoint_name, config)
    if name:
        _register_teardown(name, aws_credentials)
    client = task_client(aws_credentials)
    try:
        start = {key: value for key, value in arguments.items() if key != "wait"}
        config_name, description = await asyncio.to_thread(lambda: client.start_deploy(**start))
        if wait:
            description = await aio.wait_for_endpoint(
                client, description["EndpointName"], expected_config=config_name, timeout=timeout
            )
        return endpoint_summary(description)
    except BaseException:
        if name:
            await asyncio.to_thread(_delete_after_failed_deployment, client, name)
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
    """Predict with an endpoint (InvokeEndpoint; SDK ``Predictor.predict``, seed 001): ``data``
    (a list of rows, or a NumPy array) is sent as ``content_type`` (``application/x-npy`` by
    default, as the SDK's scikit-learn predictor; or ``application/json``, ``text/csv``) and the
    answer, asked for as ``accept``, comes back as a list. A table artifact shows each input row
    (columns ``feature_names``) next to its prediction (first 500 rows).

    Returns: the predictions as a (nested) list, one entry per input row.
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

    client = task_client(aws_credentials)
    predictions = client.predict(endpoint_name, data, content_type=content_type, accept=accept,
                                 target_variant=target_variant).tolist()
    table = predictions_table(data, predictions, feature_names)
    create_table_artifact(table=table, key=artifact_key, description=_predictions_artifact_description(
        endpoint_name, len(predictions), min(len(predictions), MAX_TABLE_ROWS)))
    return predictions


@task(cache_policy=NO_CACHE)
async def apredict(
    endpoint_name: str,
    data: Any,
    content_type: str = NPY,
    accept: str = NPY,
    target_variant: str | None = None,
    feature_names: list[str] | None = None,
    artifact_key: str | None = None,
    aws_credentials: AwsCredentials | None = None,
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
    predictions = answer.tolist()
    table = predictions_table(data, predictions, feature_names)
    await acreate_table_artifact(table=table, key=artifact_key, description=_predictions_artifact_description(
        endpoint_name, len(predictions), min(len(predictions), MAX_TABLE_ROWS)))
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
    arguments = call_arguments(SageMakerClient.delete_endpoint, locals())
    return task_client(aws_credentials).delete_endpoint(**arguments)


@task(cache_policy=NO_CACHE)
async def adelete_endpoint(
    endpoint_name: str,
    delete_endpoint_config: bool = True,
    delete_model: bool = False,
    wait: bool = True,
    timeout: float | None = 600,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Async twin of :func:`delete_endpoint` (same arguments and result).

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
    arguments = call_arguments(SageMakerClient.delete_endpoint, locals())
    client = task_client(aws_credentials)
    return await asyncio.to_thread(lambda: client.delete_endpoint(**arguments))


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

    client = task_client(aws_credentials)
    return endpoint_summary(client.wait_for_endpoint(endpoint_name, expected_config=expected_config, timeout=timeout))


@task(cache_policy=NO_CACHE)
async def await_for_endpoint(
    endpoint_name: str,
    expected_config: str | None = None,
    timeout: float | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
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
