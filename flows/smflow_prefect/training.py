"""Training tasks: ``train_model``, ``attach_training_job``, ``wait_for_training_job`` and their
async twins ``atrain_model``, ``aattach_training_job``, ``await_for_training_job``.

Each is a thin Prefect task over :class:`smflow.client.SageMakerClient` (``train``, ``attach``,
``wait_for_training_job``): same job naming, state table, backoff, timeout and errors. While
waiting, the job's CloudWatch log lines are streamed to the task run's logs. A finished (or
failed) job leaves a markdown artifact, one per job state per flow run: ``attach_training_job`` or
``wait_for_training_job`` on a job that ``train_model`` already summarised in the same flow run
does not repeat it. Results are :func:`smflow.summaries.training_job_summary`
dicts (names, ARNs, S3 URIs, ISO 8601 times), so they can be persisted.

Retries are safe: without ``job_name`` or ``idempotency_key`` the job is named after the task
run (:mod:`smflow_prefect.idempotency`), so ``train_model.with_options(retries=2)`` attaches to the
job its earlier attempt started instead of launching another one, and so does a retry of the
flow (``@flow(retries=1)``): the first call with the same arguments in the flow's next attempt
derives the same job name.

Sync or async: sync tasks in sync flows, the ``a``-prefixed twins (``train_model``, ``atrain_model``, ...) awaited in
async ones; mismatches are refused or warned about (:mod:`smflow_prefect._common`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE

from smflow import aio
from smflow.client import SageMakerClient
from smflow.resources.specs import (
    DEFAULT_INPUT_MODE,
    DEFAULT_INSTANCE_TYPE,
    DEFAULT_MAX_RUN,
    DEFAULT_VOLUME_SIZE,
    TRAINING_JOB,
)
from smflow_prefect._common import (
    async_twin,
    first_artifact_in_flow_run,
    task_client,
    warn_if_event_loop_blocked,
)
from smflow_prefect.idempotency import resolve_idempotency_key

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials


def _artifact_description(description: dict) -> str:
    return f"SageMaker training job {description.get('TrainingJobName')}: {description.get('TrainingJobStatus')}"


def _first_summary(description: dict, artifact_key: str | None) -> bool:
    """False when a task of this flow run created the job's artifact already for this state of
    the job (e.g. ``attach_training_job`` right after ``train_model``, or ``train_model`` in a
    retry of the flow attaching to the job the failed attempt completed)."""
    identity = ("TrainingJob", description.get("TrainingJobName"), description.get("TrainingJobStatus"),
                str(description.get("TrainingEndTime")))
    return first_artifact_in_flow_run(identity, artifact_key, f"Training job {identity[1]} ({identity[2]})")


def _finish(description: dict, artifact_key: str | None) -> dict:
    """Create the job's markdown artifact, unless this flow run has it already; return its
    summary."""
    from prefect.artifacts import create_markdown_artifact

    from smflow.summaries import training_job_summary
    from smflow_prefect.artifacts import training_job_markdown

    if not _first_summary(description, artifact_key):
        return training_job_summary(description)
    create_markdown_artifact(
        markdown=training_job_markdown(description), key=artifact_key,
        description=_artifact_description(description),
    )
    return training_job_summary(description)


async def _afinish(description: dict, artifact_key: str | None) -> dict:
    from prefect.artifacts import acreate_markdown_artifact

    from smflow.summaries import training_job_summary
    from smflow_prefect.artifacts import training_job_markdown

    if not _first_summary(description, artifact_key):
        return training_job_summary(description)
    await acreate_markdown_artifact(
        markdown=training_job_markdown(description), key=artifact_key,
        description=_artifact_description(description),
    )
    return training_job_summary(description)


def _wait_and_record(client: SageMakerClient, waiting: Callable[[], dict], artifact_key: str | None) -> dict:
    """Run a waiting client call; the job gets its artifact whether it completed or failed."""
    from smflow.errors import ResourceFailedError

    try:
        description = waiting()
    except ResourceFailedError as error:
        if error.kind == "TrainingJob":
            _finish(client.describe_training_job(error.name), artifact_key)
        raise
    return _finish(description, artifact_key)


async def _await_and_record(
    client: SageMakerClient, waiting: Callable[[], Awaitable[dict]], artifact_key: str | None
) -> dict:
    from smflow.errors import ResourceFailedError

    try:
        description = await waiting()
    except ResourceFailedError as error:
        if error.kind == "TrainingJob":
            await _afinish(await asyncio.to_thread(client.describe_training_job, error.name), artifact_key)
        raise
    return await _afinish(description, artifact_key)


@task(cache_policy=NO_CACHE)
def train_model(
    entry_point: str | None = None,
    source_dir: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    inputs: str | dict[str, Any] | None = None,
    output_path: str | None = None,
    algorithm: str | None = None,
    framework: str | None = None,
    framework_version: str | None = None,
    py_version: str | None = None,
    image_uri: str | None = None,
    role: str | None = None,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    volume_size: int = DEFAULT_VOLUME_SIZE,
    max_run: int = DEFAULT_MAX_RUN,
    input_mode: str = DEFAULT_INPUT_MODE,
    dependencies: list[str] | None = None,
    distribution: dict[str, Any] | None = None,
    use_spot_instances: bool = False,
    max_wait: int | None = None,
    max_retry_attempts: int | None = None,
    checkpoint_s3_uri: str | None = None,
    checkpoint_local_path: str | None = None,
    output_kms_key: str | None = None,
    volume_kms_key: str | None = None,
    metric_definitions: list[dict[str, str]] | None = None,
    subnets: list[str] | None = None,
    security_group_ids: list[str] | None = None,
    enable_network_isolation: bool = False,
    use_mpi: bool | None = None,
    num_processes: int | None = None,
    process_slots_per_host: int | None = None,
    additional_mpi_options: str | None = None,
    environment: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    code_location: str | None = None,
    job_name: str | None = None,
    base_job_name: str | None = None,
    idempotency_key: str | None = None,
    action_if_job_exists: Literal["attach", "fail", "timestamp"] = "attach",
    config: dict[str, Any] | None = None,
    wait: bool = True,
    logs: bool = True,
    timeout: float | None = None,
    default_bucket: str | None = None,
    artifact_key: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Start a SageMaker training job (or attach to the one this task run already started) and,
    by default, wait for it, streaming its log lines to the task run's logs.

    SDK-style arguments as the SageMaker Python SDK's framework estimators: ``entry_point`` (and
    ``source_dir``) is packed and uploaded, ``hyperparameters`` are passed to the script,
    ``inputs`` is one S3 URI (the ``train`` channel) or a dict channel -> S3 URI, ``max_run`` is
    in seconds, ``volume_size`` in GB; ``py_version``, ``distribution``, ``dependencies``,
    ``input_mode``, spot (``use_spot_instances``, ``max_wait``), ``max_retry_attempts``,
    checkpoints, KMS keys, ``metric_definitions``, VPC (``subnets``, ``security_group_ids``),
    ``enable_network_isolation`` and the MPI options as the SDK's estimators take them
    (:meth:`smflow.client.SageMakerClient.train`); ``role`` may be a role name. Or ``config``: a
    raw CreateTrainingJob request (SageMaker API reference). The arguments passed to the client are declared in
    :data:`smflow.resources.specs.TRAINING_JOB`.

    Without ``entry_point``: ``algorithm`` (``"kmeans"``, ``"pca"``, ``"linear-learner"``, ...,
    :func:`smflow.algorithms.names`: Amazon's built-in algorithm, its image for the region, its hyperparameters
    checked before the request, ``inputs`` may be :func:`smflow_prefect.record_set` results), or
    ``image_uri`` of any image that trains on its own (the SDK's plain ``Estimator``).

    Args:
        framework / framework_version: the training image, as
            :func:`smflow.image_uris.retrieve` finds it (None: smflow's default framework, its
            default version); not used with ``image_uri`` or ``config``.
        job_name: the exact job name. Default: ``<base_job_name>-<10 hex digits>`` of
            ``idempotency_key``, which defaults to the task run's identity (retry-safe).
        action_if_job_exists: ``"attach"`` reuses a job of that name that is running or
            completed (a failed one is followed by ``<name>-2``); ``"fail"`` raises;
            ``"timestamp"`` starts a new timestamped job.
        wait: wait for the job to end; ``logs``: stream its CloudWatch log lines meanwhile.
        timeout: seconds to wait at most (None: no limit).
        artifact_key: key of the markdown artifact summarizing the finished job.
        aws_credentials: prefect-aws ``AwsCredentials`` block (its
            ``aws_client_parameters.endpoint_url`` may point at the smflow local runtime);
            default boto3's chain.

    Returns:
        ``smflow.summaries.training_job_summary``: ``TrainingJobName``, ``TrainingJobArn``,
        ``TrainingJobStatus``, ``ModelDataUrl``, ``HyperParameters``, times, ``FailureReason``.

    Raises:
        ConfigurationError: a bad argument (named in the message).
        ResourceFailedError: the job ended Failed or Stopped (job name and FailureReason).
        WaitTimeoutError: still running after ``timeout`` seconds (the job keeps running).

    Example:
        Train the Iris example on the local runtime (``smflow local up``):

        ```python
        from prefect import flow
        from prefect_aws import AwsCredentials
        from prefect_aws.client_parameters import AwsClientParameters
        from smflow_prefect import train_model

        local = AwsCredentials(
            aws_client_parameters=AwsClientParameters(endpoint_url="http://127.0.0.1:9510"))

        @flow
        def train(data: str = "s3://my-bucket/iris/data") -> str:
            job = train_model.with_options(retries=2)(
                entry_point="iris/train.py",
                hyperparameters={"max_leaf_nodes": 30}, inputs={"train": data},
                base_job_name="iris", aws_credentials=local)
            return job["ModelDataUrl"]

        train()
        ```
    """
    arguments = TRAINING_JOB.call_arguments(locals())
    arguments["idempotency_key"] = resolve_idempotency_key(job_name, idempotency_key, arguments)
    client = task_client(aws_credentials, role=role, default_bucket=default_bucket)
    if not wait:
        from smflow.summaries import training_job_summary

        return training_job_summary(client.train(**arguments, wait=False, logs=logs, timeout=timeout))
    warn_if_event_loop_blocked("train_model")
    return _wait_and_record(client, lambda: client.train(**arguments, logs=logs, timeout=timeout), artifact_key)


@async_twin(train_model)
async def atrain_model(
    *, wait, logs, timeout, default_bucket, artifact_key, aws_credentials, **parameters
) -> dict:
    """Async twin of :func:`train_model` (same arguments, result and errors). The job is started
    in a worker thread and waited for with ``asyncio.sleep`` between polls (:mod:`smflow.aio`),
    so many trainings can run concurrently in one event loop.

    Example:
        Train two models concurrently:

        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import atrain_model

        @flow
        async def train_two(data: str = "s3://my-bucket/iris/data") -> list[str]:
            jobs = await asyncio.gather(*(
                atrain_model(entry_point="iris/train.py",
                             hyperparameters={"max_leaf_nodes": leaves}, inputs=data)
                for leaves in (10, 30)))
            return [job["TrainingJobName"] for job in jobs]

        asyncio.run(train_two())
        ```
    """
    arguments = TRAINING_JOB.call_arguments(parameters)
    arguments["idempotency_key"] = resolve_idempotency_key(
        arguments["job_name"], arguments["idempotency_key"], arguments
    )
    client = task_client(aws_credentials, role=arguments["role"], default_bucket=default_bucket)
    started = await asyncio.to_thread(client.train, **arguments, wait=False, logs=logs, timeout=timeout)
    if not wait:
        from smflow.summaries import training_job_summary

        return training_job_summary(started)
    return await _await_and_record(
        client, lambda: aio.wait_for_training_job(client, started["TrainingJobName"], logs=logs, timeout=timeout),
        artifact_key,
    )


@task(cache_policy=NO_CACHE)
def attach_training_job(
    job_name: str,
    wait: bool = True,
    logs: bool = True,
    timeout: float | None = None,
    artifact_key: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Attach to an existing training job (the SageMaker Python SDK's ``Estimator.attach``): if
    it is in progress, wait for it and stream its log lines; return its summary.

    Returns: ``smflow.summaries.training_job_summary`` of the job.
    Raises:
        ConfigurationError: no job of that name.
        ResourceFailedError: the job ended Failed or Stopped (with FailureReason).
        WaitTimeoutError: still running after ``timeout`` seconds.

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import attach_training_job

        @flow
        def model_of(job_name: str) -> str:
            return attach_training_job(job_name)["ModelDataUrl"]

        model_of("iris-2026-11-21-10-31-02-123")
        ```
    """
    client = task_client(aws_credentials)
    if not wait:
        from smflow.summaries import training_job_summary

        return training_job_summary(client.attach(job_name, wait=False))
    warn_if_event_loop_blocked("attach_training_job")
    return _wait_and_record(client, lambda: client.attach(job_name, logs=logs, timeout=timeout), artifact_key)


@async_twin(attach_training_job)
async def aattach_training_job(*, job_name, wait, logs, timeout, artifact_key, aws_credentials) -> dict:
    """Async twin of :func:`attach_training_job` (same arguments, result and errors).

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import aattach_training_job

        @flow
        async def model_of(job_name: str) -> str:
            return (await aattach_training_job(job_name))["ModelDataUrl"]

        asyncio.run(model_of("iris-2026-11-21-10-31-02-123"))
        ```
    """
    from smflow import states
    from smflow.summaries import training_job_summary

    client = task_client(aws_credentials)
    if not wait:
        return training_job_summary(await asyncio.to_thread(client.attach, job_name, wait=False))

    async def attach_and_wait() -> dict:
        description = await asyncio.to_thread(client.attach, job_name, wait=False)
        if states.TRAINING_JOB.outcome(description) is states.Outcome.SUCCEEDED:
            return description
        return await aio.wait_for_training_job(client, job_name, logs=logs, timeout=timeout)

    return await _await_and_record(client, attach_and_wait, artifact_key)


@task(cache_policy=NO_CACHE)
def wait_for_training_job(
    job_name: str,
    logs: bool = True,
    timeout: float | None = None,
    artifact_key: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Wait until a training job is Completed, streaming its log lines to the task run's logs
    (polls DescribeTrainingJob 0.2 s apart, growing x1.2 to 30 s).

    Returns: ``smflow.summaries.training_job_summary`` of the job.
    Raises:
        ResourceFailedError: the job ended Failed or Stopped (with FailureReason).
        WaitTimeoutError: still running after ``timeout`` seconds (the job keeps running).

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import train_model, wait_for_training_job

        @flow
        def train_then_wait(data: str = "s3://my-bucket/iris/data") -> str:
            job = train_model(entry_point="train.py", inputs=data, wait=False)
            return wait_for_training_job(job["TrainingJobName"], timeout=3600)["ModelDataUrl"]

        train_then_wait()
        ```
    """
    warn_if_event_loop_blocked("wait_for_training_job")
    client = task_client(aws_credentials)
    return _wait_and_record(
        client, lambda: client.wait_for_training_job(job_name, logs=logs, timeout=timeout), artifact_key
    )


@async_twin(wait_for_training_job)
async def await_for_training_job(*, job_name, logs, timeout, artifact_key, aws_credentials) -> dict:
    """Async twin of :func:`wait_for_training_job` (same arguments, result and errors).

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import await_for_training_job

        @flow
        async def wait(job_name: str) -> str:
            return (await await_for_training_job(job_name, timeout=3600))["TrainingJobStatus"]

        asyncio.run(wait("iris-0123456789"))
        ```
    """
    client = task_client(aws_credentials)
    return await _await_and_record(
        client, lambda: aio.wait_for_training_job(client, job_name, logs=logs, timeout=timeout), artifact_key
    )
