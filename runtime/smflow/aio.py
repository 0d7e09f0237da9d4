"""Waiting for SageMaker resources from an event loop, with the client's semantics.

The async twins of :meth:`SageMakerClient.wait_for_training_job`, ``wait_for_endpoint``,
``wait_for_transform_job``, ``start_deploy`` and ``delete_endpoint``: same state table (``smflow.states``), same backoff, same timeout
(seconds), same log streaming and messages, same errors; but every boto3 call runs in a worker
thread and every delay is an ``asyncio.sleep`` (:func:`smflow.waiting.async_wait_for`), so a
coroutine that waits an hour for a job holds no thread while it sleeps. Used by the async
Prefect tasks (``smflow_prefect``) and, through :func:`wait_for_resource`, by the Airflow
provider's trigger.

Example::

    client = SageMakerClient(endpoint_url="http://127.0.0.1:9510")
    job = client.train(entry_point="train.py", inputs="s3://bucket/data", wait=False)
    description = await aio.wait_for_training_job(client, job["TrainingJobName"], timeout=3600)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial
from typing import Any

from smflow import builders, states
from smflow.client import SageMakerClient, completion_message
from smflow.logs import TRAINING_LOG_GROUP, LogTail
from smflow.waiting import Backoff, Deadline, async_wait_for


async def wait_for_resource(
    client: SageMakerClient,
    kind: str,
    name: str,
    *,
    log_tail: LogTail | None = None,
    expected_config: str | None = None,
    timeout: float | None = None,
    backoff: Backoff | None = None,
) -> dict:
    """:meth:`SageMakerClient.wait_for_resource` for event loops: same arguments (``kind``
    ``"TrainingJob"``, ``"TransformJob"`` or ``"Endpoint"``; ``timeout`` in seconds), result
    and errors.

    Returns: the last Describe* payload.
    Raises: ValueError (unknown kind), ConfigurationError (no such resource, named),
        ResourceFailedError (Failed/Stopped/OutOfService/rolled back, with FailureReason),
        WaitTimeoutError.
    """
    options = client.wait_options(kind, name, log_tail=log_tail, expected_config=expected_config, backoff=backoff)
    return await async_wait_for(timeout=timeout, **options)


async def wait_for_training_job(
    client: SageMakerClient,
    job_name: str,
    *,
    logs: bool = True,
    timeout: float | None = None,
    backoff: Backoff | None = None,
) -> dict:
    """Wait until the training job is Completed, handing its CloudWatch log lines to
    ``client.log`` while waiting (``/aws/sagemaker/TrainingJobs``, as the SDK's ``logs_for_job``).

    Returns: the DescribeTrainingJob payload.
    Raises: ConfigurationError (no such job), ResourceFailedError (Failed/Stopped, with
        FailureReason), WaitTimeoutError.
    """
    tail = LogTail(client.logs, job_name, client.log, TRAINING_LOG_GROUP) if logs else None
    description = await wait_for_resource(client, states.TRAINING_JOB.kind, job_name, log_tail=tail,
                                          timeout=timeout, backoff=backoff)
    client.log(completion_message(states.TRAINING_JOB.kind, job_name, description))
    return description


async def wait_for_endpoint(
    client: SageMakerClient,
    endpoint_name: str,
    *,
    expected_config: str | None = None,
    timeout: float | None = None,
    backoff: Backoff | None = None,
) -> dict:
    """Wait until the endpoint is InService. With ``expected_config``, an endpoint back InService
    on another config (an update that rolled back) is an error.

    Returns: the DescribeEndpoint payload.
    Raises: ConfigurationError (no such endpoint), ResourceFailedError (Failed/OutOfService/rolled
        back, with FailureReason), WaitTimeoutError.
    """
    description = await wait_for_resource(client, states.ENDPOINT.kind, endpoint_name,
                                          expected_config=expected_config, timeout=timeout, backoff=backoff)
    client.log(completion_message(states.ENDPOINT.kind, endpoint_name, description))
    return description


async def wait_for_transform_job(
    client: SageMakerClient,
    job_name: str,
    *,
    timeout: float | None = None,
    backoff: Backoff | None = None,
) -> dict:
    """Wait until the transform job is Completed.

    Returns: the DescribeTransformJob payload.
    Raises: ConfigurationError (no such job), ResourceFailedError (Failed/Stopped, with
        FailureReason), WaitTimeoutError.
    """
    description = await wait_for_resource(client, states.TRANSFORM_JOB.kind, job_name, timeout=timeout,
                                          backoff=backoff)
    client.log(completion_message(states.TRANSFORM_JOB.kind, job_name, description))
    return description


async def delete_endpoint(
    client: SageMakerClient,
    endpoint_name: str,
    *,
    delete_endpoint_config: bool = True,
    delete_model: bool = False,
    wait: bool = True,
    timeout: float | None = 600,
) -> dict:
    """:meth:`SageMakerClient.delete_endpoint` for event loops: same arguments, result and
    errors. Deletes the endpoint (boto3 ``delete_endpoint``); with ``wait``, waits until
    DescribeEndpoint no longer finds it, polling with ``client.backoff`` for at most ``timeout``
    seconds with ``asyncio.sleep`` between polls (no thread is held while waiting); then deletes
    the endpoint config (``delete_endpoint_config``) and the models of its variants
    (``delete_model``). What is already gone is not an error.

    Returns: ``{"EndpointName", "Deleted": [names actually deleted, by kind]}``, e.g.
        ``["Endpoint/iris", "EndpointConfig/iris"]``.
    Raises: WaitTimeoutError (still there after ``timeout`` seconds).
    """
    deletion = await asyncio.to_thread(
        client.start_endpoint_deletion, endpoint_name, delete_endpoint_config, delete_model
    )
    if wait and deletion.endpoint_existed:
        await async_wait_for(timeout=timeout, **client.endpoint_deleted_options(endpoint_name))
    return await asyncio.to_thread(client.finish_endpoint_deletion, deletion)


async def start_deploy(
    client: SageMakerClient,
    *,
    model_name: str | None = None,
    endpoint_name: str | None = None,
    instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
    initial_instance_count: int = 1,
    endpoint_config_name: str | None = None,
    config: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> tuple[str, dict]:
    """:meth:`SageMakerClient.start_deploy` for event loops: same arguments, result
    (``(EndpointConfigName being rolled out, DescribeEndpoint payload)``) and errors. What must
    end before the new config can be rolled out (an endpoint still Creating/Updating, a Failed one
    being deleted, one Deleting) is awaited with ``asyncio.sleep`` between polls, all of it within
    ``timeout`` seconds; only the short calls run in a worker thread. The steps are the client's:
    ``prepare_endpoint_config``, ``next_deploy_wait`` until clear, ``apply_endpoint_config``. Await :func:`wait_for_endpoint` with the returned config name for InService.

    Raises: ConfigurationError (no model_name/config, bad names), WaitTimeoutError, ClientError.
    """
    config_name, name = await asyncio.to_thread(partial(
        client.prepare_endpoint_config, model_name=model_name, endpoint_name=endpoint_name,
        instance_type=instance_type, initial_instance_count=initial_instance_count,
        endpoint_config_name=endpoint_config_name, config=config,
    ))
    deadline = Deadline.after(timeout)
    endpoint, pending = await asyncio.to_thread(client.next_deploy_wait, name)
    while pending is not None:
        await async_wait_for(timeout=deadline.remaining(), **pending)
        endpoint, pending = await asyncio.to_thread(client.next_deploy_wait, name)
    await asyncio.to_thread(client.apply_endpoint_config, name, config_name, endpoint)
    return config_name, await asyncio.to_thread(client.describe_endpoint, name)
