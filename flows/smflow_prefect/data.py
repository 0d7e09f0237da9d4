"""``upload_data`` / ``aupload_data``: put a local file or folder on S3 for training or batch
transform, as the SageMaker Python SDK's ``Session.upload_data``.

Sync or async: call ``upload_data`` in a sync flow and ``await aupload_data(...)`` in an async one;
``aupload_data`` called from sync code raises ConfigurationError (see :mod:`smflow_prefect._common`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from prefect import task
from prefect.cache_policies import NO_CACHE

from smflow_prefect._common import async_twin, task_client

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials


@task(cache_policy=NO_CACHE)
def upload_data(
    path: str,
    key_prefix: str = "data",
    bucket: str | None = None,
    aws_credentials: AwsCredentials | None = None,
) -> str:
    """Upload a file or a folder to S3 (PutObject); ``bucket`` defaults to smflow's default
    bucket ``sagemaker-<region>-<account>``, created when missing. Uploading again overwrites, so
    a retry is harmless.

    Returns: ``s3://<bucket>/<key_prefix>/<file name>`` for a file, ``s3://<bucket>/<key_prefix>``
        for a folder (usable as a training channel or a batch transform input).
    Raises: ConfigurationError (``path`` does not exist).

    Example:
        ```python
        from prefect import flow
        from smflow_prefect import train_model, upload_data

        @flow
        def train_on(folder: str = "data/iris") -> str:
            data = upload_data(folder, key_prefix="iris/data")
            return train_model(entry_point="train.py", inputs=data)["TrainingJobName"]

        train_on()
        ```
    """
    return task_client(aws_credentials).upload_data(path, bucket=bucket, key_prefix=key_prefix)


@async_twin(upload_data)
async def aupload_data(*, path, key_prefix, bucket, aws_credentials) -> str:
    """Async twin of :func:`upload_data` (same arguments, result and errors).

    Example:
        ```python
        import asyncio
        from prefect import flow
        from smflow_prefect import aupload_data

        @flow
        async def stage(folder: str = "data/iris") -> str:
            return await aupload_data(folder, key_prefix="iris/data")

        asyncio.run(stage())
        ```
    """
    client = task_client(aws_credentials)
    return await asyncio.to_thread(client.upload_data, path, bucket=bucket, key_prefix=key_prefix)


@task(cache_policy=NO_CACHE)
def record_set(
    array,
    labels=None,
    channel: str = "train",
    instance_count: int = 1,
    data_location: str | None = None,
    algorithm: str | None = None,
    encrypt: bool = False,
    distribution: str = "ShardedByS3Key",
    dtype: str | None = "float32",
    aws_credentials: AwsCredentials | None = None,
) -> dict:
    """Write a numpy array (rows x features; or a scipy.sparse matrix) and its labels as
    RecordIO-protobuf shards plus a manifest on S3, the training data of Amazon's built-in
    algorithms (the SageMaker Python SDK's ``record_set``;
    :meth:`smflow.client.SageMakerClient.record_set`). One shard per training instance
    (``instance_count``). The folder is named after the data's digest, so a retry writes the same
    objects.

    Returns: the channel for ``train_model(inputs=...)``: ``{"s3_data": "s3://.../.amazon.manifest",
        "s3_data_type": "ManifestFile", "distribution": "ShardedByS3Key", "channel": "train",
        "num_records": ..., "feature_dim": ...}`` (``train_model`` reads ``feature_dim`` and the
        default ``mini_batch_size`` from it).
    Raises: ConfigurationError (not 2-D, labels of another length, fewer rows than shards);
        smflow.recordio.ProtobufMissingError (``pip install protobuf``).

    Example:
        ```python
        import numpy as np
        from prefect import flow
        from smflow_prefect import record_set, train_model

        @flow
        def kmeans() -> str:
            rows = np.random.default_rng(0).normal(size=(500, 16)).astype("float32")
            train = record_set(rows, algorithm="kmeans")
            job = train_model(algorithm="kmeans", hyperparameters={"k": 10}, inputs=train,
                              instance_type="ml.c5.xlarge")
            return job["ModelDataUrl"]

        kmeans()
        ```
    """
    return task_client(aws_credentials).record_set(
        array, labels, channel, instance_count=instance_count, data_location=data_location, algorithm=algorithm,
        encrypt=encrypt, distribution=distribution, dtype=dtype,
    )


@async_twin(record_set)
async def arecord_set(*, array, labels, channel, instance_count, data_location, algorithm, encrypt, distribution,
                      dtype, aws_credentials) -> dict:
    """Async twin of :func:`record_set` (same arguments, result and errors).

    Example:
        ```python
        import asyncio
        import numpy as np
        from prefect import flow
        from smflow_prefect import arecord_set

        @flow
        async def stage() -> dict:
            rows = np.random.default_rng(0).normal(size=(500, 16)).astype("float32")
            return await arecord_set(rows, algorithm="kmeans")

        asyncio.run(stage())
        ```
    """
    client = task_client(aws_credentials)
    return await asyncio.to_thread(
        client.record_set, array, labels, channel, instance_count=instance_count, data_location=data_location,
        algorithm=algorithm, encrypt=encrypt, distribution=distribution, dtype=dtype,
    )
