"""Prefect 3 tasks for the Amazon SageMaker model lifecycle, over smflow's client.

Tasks are named verb_noun as prefect-aws's; each has an async twin with an ``a`` prefix:

| task | async twin | SageMaker calls |
| --- | --- | --- |
| ``upload_data`` | ``aupload_data`` | S3 PutObject |
| ``record_set`` | ``arecord_set`` | S3 PutObject (RecordIO-protobuf shards and a manifest) |
| ``train_model`` | ``atrain_model`` | CreateTrainingJob, DescribeTrainingJob, CloudWatch GetLogEvents |
| ``attach_training_job`` | ``aattach_training_job`` | DescribeTrainingJob |
| ``wait_for_training_job`` | ``await_for_training_job`` | DescribeTrainingJob |
| ``create_model`` | ``acreate_model`` | CreateModel |
| ``deploy_model`` | ``adeploy_model`` | CreateEndpointConfig, CreateEndpoint / UpdateEndpoint |
| ``wait_for_endpoint`` | ``await_for_endpoint`` | DescribeEndpoint |
| ``predict`` | ``apredict`` | InvokeEndpoint |
| ``batch_transform`` | ``abatch_transform`` | CreateTransformJob |
| ``wait_for_transform_job`` | ``await_for_transform_job`` | DescribeTransformJob |
| ``delete_endpoint`` | ``adelete_endpoint`` | DeleteEndpoint, DeleteEndpointConfig, DeleteModel |

Credentials and endpoint come from a prefect-aws ``AwsCredentials`` block passed as
``aws_credentials`` (its ``aws_client_parameters.endpoint_url`` may point at smflow's local
runtime), or from boto3's default chain. The async twins are separate tasks rather than one
dispatching function (Prefect's ``async_dispatch`` loses ``.submit``, ``.map`` and
``.with_options``) so that both keep ``.submit``, ``.map`` and ``.with_options(retries=...)``.
The rule: sync tasks in sync flows, ``await`` the async twins in async flows (or ``.submit()`` a
sync task there). An async twin called from sync code raises ConfigurationError naming the sync
twin; a sync task that waits, called directly by an async flow, logs a warning naming the async
twin (it would block the event loop for the whole wait).

Retries never launch a duplicate job: a task that starts a job (``train_model``,
``batch_transform``) names it after the flow run, the task and its arguments
(:mod:`smflow_prefect.idempotency`), so a retry of the task (``retries=`` on the task) or of the
flow (``@flow(retries=...)``) attaches to the job its earlier attempt started. An endpoint
deployed with ``teardown_on_failure=True`` is deleted when the flow run fails if the flow has the
hook ``delete_endpoints_on_failure`` (``@flow(on_failure=[delete_endpoints_on_failure])``). Give
retried job tasks ``retry_condition_fn=retry_transient_only``: a job that ended Failed or Stopped
(the script's own error) is then not retried into a second paid job, a lost API call is.

Example::

    from prefect import flow
    from smflow_prefect import create_model, deploy_model, predict, train_model

    @flow
    def iris(data: str = "s3://my-bucket/iris/data") -> list:
        job = train_model.with_options(retries=2)(
            entry_point="iris/train.py", inputs=data,
            hyperparameters={"max_leaf_nodes": 30})
        model = create_model(training_job_name=job["TrainingJobName"])
        endpoint = deploy_model(model["ModelName"], endpoint_name="iris")
        return predict(endpoint["EndpointName"], [[5.1, 3.5, 1.4, 0.2]])

Importing this package is cheap: the task modules (and Prefect) load on first use.
"""

from __future__ import annotations

_TASKS = {
    "upload_data": "data", "aupload_data": "data",
    "record_set": "data", "arecord_set": "data",
    "train_model": "training", "atrain_model": "training",
    "attach_training_job": "training", "aattach_training_job": "training",
    "wait_for_training_job": "training", "await_for_training_job": "training",
    "create_model": "hosting", "acreate_model": "hosting",
    "deploy_model": "hosting", "adeploy_model": "hosting",
    "wait_for_endpoint": "hosting", "await_for_endpoint": "hosting",
    "predict": "hosting", "apredict": "hosting",
    "delete_endpoint": "hosting", "adelete_endpoint": "hosting",
    "teardown_endpoint": "hosting", "delete_endpoints_on_failure": "hosting",
    "batch_transform": "transform", "abatch_transform": "transform",
    "wait_for_transform_job": "transform", "await_for_transform_job": "transform",
    "sagemaker_client": "clients",
    "task_run_idempotency_key": "idempotency",
    "retry_transient_only": "retries",
    "local_runtime_credentials": "local",
}

__all__ = sorted(_TASKS)


def __getattr__(name: str):  # PEP 562: load a task module on first use
    module_name = _TASKS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'smflow_prefect' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"smflow_prefect.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
