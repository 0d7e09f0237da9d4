"""Batch transform tasks: ``batch_transform``, ``wait_for_transform_job`` and their async twins
``abatch_transform``, ``await_for_transform_job``.

Thin Prefect tasks over :meth:`smflow.client.SageMakerClient.batch_transform` and
``wait_for_transform_job``. A completed job leaves a link artifact to its output (the S3 console
on AWS, the local console's S3 page with the local runtime), once per flow run (waiting again for the same job, or
a retry of the flow attaching to it, does not repeat it). Results are :func:`smflow.summaries.transform_job_summary`
dicts. As for training, the job is named after the task run unless ``job_name`` or
``idempotency_key`` is given, so retries of the task or of the flow attach to the job the first
attempt started (:mod:`smflow_prefect.idempotency`).

Sync or async: sync tasks in sync flows, the ``a``-prefixed twins (``batch_transform``, ``abatch_transform``, ...) awaited in
async ones; mismatches are refused or warned about (:mod:`smflow_prefect._common`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE

from smflow import aio
from smflow.client import SageMakerClient
from smflow.resources.specs import DEFAULT_INSTANCE_TYPE, DEFAULT_MAX_PAYLOAD_MB, TRANSFORM_JOB
from smflow_prefect._common import (
    async_twin,
    first_artifact_in_flow_run,
    task_client,
    warn_if_event_loop_blocked,
)
from smflow_prefect.idempotency import resolve_idempotency_key

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials


def _link(client: SageMakerClient, description: dict) -> dict[str, str]:
    from smflow_prefect.artifacts import console_link, s3_browser_link

    output = description["TransformOutput"]["S3OutputPath"]
    name = description["TransformJobName"]
    job_page = console_link("transform-job", name, endpoint_url=client.custom_endpoint_url, region=client.region_name)
    return {
        "link": s3_browser_link(output, endpoint_url=client.custom_endpoint_url,
                                region=client.region_name),
        "link_text": output,
        "description": f"Output of SageMaker transform job [{name}]({job_page})",
    }


def _first_link(description: dict, artifact_key: str | None) -> bool:
    """False when a task of this flow run linked this job's output already (e.g. a retry of the
    flow attaching to the job the failed attempt completed)."""
    name = description["TransformJobName"]
    identity = ("TransformJob", name, description.get("TransformJobStatus"), str(description.get("TransformEndTime")))
    return first_artifact_in_flow_run(identity, artifact_key, f"Transform job {name}")


def _finish(client: SageMakerClient, description: dict, artifact_key: str | None) -> dict:
    from prefect.artifacts import create_link_artifact

    from smflow.summaries import transform_job_summary

    if _first_link(description, artifact_key):
        create_link_artifact(key=artifact_key, **_link(client, description))
    return transform_job_summary(description)


async def _afinish(client: SageMakerClient, description: dict, artifact_key: str | None) -> dict:
    from prefect.artifacts import acreate_link_artifact

    from smflow.summaries import transform_job_summary

    if _first_link(description, artifact_key):
        await acreate_link_artifact(key=artifact_key, **_link(client, description))
    return transform_job_summary(description)


@task(cache_policy=NO_CACHE)
def batch_transform(
    model_name: str | None = None,
    data: str | None = None,
    output_path: str | None = None,
    content_type: str | None = "text/csv",
    split_type: str | None = "Line",
    batch_strategy: str | None = "MultiRecord",
    max_payload_mb: int | None = DEFAULT_MAX_PAYLOAD_MB,
    max_concurrent_transforms: int | None = None,
    assemble_with: str | None = "Line",
    accept: str | None = None,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    environment: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    job_name: str | None = None,
    base_job_name: str | None = None,
    idempotency_key: str | None = None,
    action_if_job_exists: Literal["attach", "fail", "timestamp"] = "attach",
    config: dict[str, Any] | None = None,
    wait: bool = True,
    timeout: float | None = None,
    artifact_key: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Run a batch transform job (CreateTransformJob): every object under the S3 prefix ``data``
    gives ``<object>.out`` under ``output_path`` (default ``s3://<default bucket>/<job name>``).
    ``max_payload_mb`` is in MB, ``timeout`` in seconds; ``split_type``, ``batch_strategy``,
    ``max_payload_mb`` and ``assemble_with`` None leave SageMaker's defaults. Or a raw
    CreateTransformJob request as ``config``. The arguments passed to the client are declared in
    :data:`smflow.resources.specs.TRANSFORM_JOB`.

    Args:
        job_name / base_job_name / idempotency_key / action_if_job_exists: as for
            :func:`smflow_prefect.train_model`; the default name is retry-safe.
        artifact_key: key of the link artifact to the output.

    Returns: ``smflow.summaries.transform_job_summary``: ``TransformJobName``,
        ``TransformJobStatus``, ``ModelName``, ``OutputPath``, times, ``FailureReason``.
    Raises:
        ConfigurationError: a bad argument (named in the message).
        ResourceFailedError: the job ended Failed or Stopped (job name and FailureReason).
        WaitTimeoutError: still running after ``timeout`` seconds.

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import batch_transform

        @flow
        def score(model_name: str, data: str = "s3://my-bucket/iris/batch-input/") -> str:
            job = batch_transform(model_name=model_name, data=data, content_type="text/csv")
            return job["OutputPath"]

        score("iris-0123456789")
        ```
    """
    arguments = TRANSFORM_JOB.call_arguments(locals())
    arguments["idempotency_key"] = resolve_idempotency_key(job_name, idempotency_key, arguments)
    if wait:
        warn_if_event_loop_blocked("batch_transform")
    client = task_client(aws_credentials)
    description = client.batch_transform(**arguments, wait=wait, timeout=timeout)
    if not wait:
        from smflow.summaries import transform_job_summary

        return transform_job_summary(description)
    return _finish(client, description, artifact_key)


@async_twin(batch_transform)
async def abatch_transform(*, wait, timeout, artifact_key, aws_credentials, **parameters) -> dict:
    """Async twin of :func:`batch_transform` (same arguments, result, artifact and errors); waits
    with ``asyncio.sleep`` between DescribeTransformJob calls.

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import abatch_transform

        @flow
        async def score(model_name: str, data: str = "s3://my-bucket/iris/batch-input/") -> str:
            return (await abatch_transform(model_name=model_name, data=data))["OutputPath"]

        asyncio.run(score("iris-0123456789"))
        ```
    """
    arguments = TRANSFORM_JOB.call_arguments(parameters)
    arguments["idempotency_key"] = resolve_idempotency_key(
        arguments["job_name"], arguments["idempotency_key"], arguments
    )
    client = task_client(aws_credentials)
    started = await asyncio.to_thread(lambda: client.batch_transform(**arguments, wait=False, timeout=timeout))
    if not wait:
        from smflow.summaries import transform_job_summary

        return transform_job_summary(started)
    description = await aio.wait_for_transform_job(client, started["TransformJobName"], timeout=timeout)
    return await _afinish(client, description, artifact_key)


@task(cache_policy=NO_CACHE)
def wait_for_transform_job(
    job_name: str,
    timeout: float | None = None,
    artifact_key: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Wait until a transform job is Completed (DescribeTransformJob, polled 0.2 s apart growing
    x1.2 to 30 s); leaves a link artifact to its output.

    Returns: ``smflow.summaries.transform_job_summary`` of the job.
    Raises:
        ResourceFailedError: the job ended Failed or Stopped (with FailureReason).
        WaitTimeoutError: still running after ``timeout`` seconds (the job keeps running).

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import batch_transform, wait_for_transform_job

        @flow
        def score(model_name: str, data: str = "s3://my-bucket/iris/batch-input/") -> str:
            job = batch_transform(model_name=model_name, data=data, wait=False)
            return wait_for_transform_job(job["TransformJobName"], timeout=3600)["OutputPath"]

        score("iris-0123456789")
        ```
    """
    warn_if_event_loop_blocked("wait_for_transform_job")
    client = task_client(aws_credentials)
    return _finish(client, client.wait_for_transform_job(job_name, timeout=timeout), artifact_key)


@async_twin(wait_for_transform_job)
async def await_for_transform_job(*, job_name, timeout, artifact_key, aws_credentials) -> dict:
    """Async twin of :func:`wait_for_transform_job` (same arguments, result, artifact and errors).

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import await_for_transform_job

        @flow
        async def output_of(job_name: str) -> str:
            return (await await_for_transform_job(job_name, timeout=3600))["OutputPath"]

        asyncio.run(output_of("iris-score-0123456789"))
        ```
    """
    client = task_client(aws_credentials)
    description = await aio.wait_for_transform_job(client, job_name, timeout=timeout)
    return await _afinish(client, description, artifact_key)
