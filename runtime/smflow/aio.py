"""Waiting for SageMaker resources from an event loop, with the client's semantics.

The async twins of :meth:`SageMakerClient.wait_for_training_job`, ``wait_for_endpoint`` and
``wait_for_transform_job``: same state table (``smflow.states``), same backoff, same timeout
(seconds), same log streaming and messages, same errors; but every boto3 call runs in a worker
thread and every delay is an ``asyncio.sleep`` (:func:`smflow.waiting.async_wait_for`), so a
coroutine that waits an hour for a job holds no thread while it sleeps. Used by the async
Prefect tasks (``smflow_prefect``).

Example::

    client = SageMakerClient(endpoint_url="http://127.0.0.1:9510")
    job = client.train(entry_point="train.py", inputs="s3://bucket/data", wait=False)
    description = await aio.wait_for_training_job(client, job["TrainingJobName"], timeout=3600)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smflow import states
from smflow.logs import TRAINING_LOG_GROUP, LogTail
from smflow.waiting import Backoff, async_wait_for

if TYPE_CHECKING:
    from smflow.client import SageMakerClient


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
    Raises: ResourceFailedError (Failed/Stopped, with FailureReason), WaitTimeoutError.
    """
    tail = LogTail(client.logs, job_name, client.log, TRAINING_LOG_GROUP) if logs else None
    description = await async_wait_for(
        lambda: client.sagemaker.describe_training_job(TrainingJobName=job_name),
        states.TRAINING_JOB,
        timeout=timeout,
        backoff=backoff or client.backoff,
        on_tick=client._quiet_log_poller(tail) if tail else None,  # a logs error never fails the wait
    )
    client.log(f"Training job {job_name} Completed; model data at "
               f"{description.get('ModelArtifacts', {}).get('S3ModelArtifacts')}")
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
    Raises: ResourceFailedError (Failed/OutOfService/rolled back, with FailureReason),
        WaitTimeoutError.
    """
    check = (lambda d: states.check_endpoint_update(d, expected_config)) if expected_config else None
    description = await async_wait_for(
        lambda: client.sagemaker.describe_endpoint(EndpointName=endpoint_name),
        states.ENDPOINT, timeout=timeout, backoff=backoff or client.backoff, check=check,
    )
    client.log(f"Endpoint {endpoint_name} is InService")
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
    Raises: ResourceFailedError (Failed/Stopped, with FailureReason), WaitTimeoutError.
    """
    description = await async_wait_for(
        lambda: client.sagemaker.describe_transform_job(TransformJobName=job_name),
        states.TRANSFORM_JOB, timeout=timeout, backoff=backoff or client.backoff,
    )
    client.log(f"Transform job {job_name} Completed; output at "
               f"{description['TransformOutput']['S3OutputPath']}")
    return description
