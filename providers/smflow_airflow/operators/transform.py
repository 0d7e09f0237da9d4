"""The batch transform operator: ``SageMakerBatchTransformOperator``
(``SageMakerClient.batch_transform``, boto3 ``create_transform_job``; arguments from
``smflow.resources.specs.TRANSFORM_JOB``). Shared behaviour: ``operators.base``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from smflow.resources import specs
from smflow_airflow import _common
from smflow_airflow.links.sagemaker import SageMakerTransformJobLink
from smflow_airflow.operators.base import SageMakerWaitingOperator, spec_template_fields, user_errors

if TYPE_CHECKING:
    from airflow.sdk import Context


class SageMakerBatchTransformOperator(SageMakerWaitingOperator):
    """Run a batch transform job (boto3 ``create_transform_job``) and wait for it: every object
    under the S3 prefix ``data`` gives ``<object>.out`` under ``output_path``.

    SDK-style arguments (``smflow.resources.specs.TRANSFORM_JOB``, as
    ``SageMakerClient.batch_transform``): ``model_name``, ``data``, ``output_path``,
    ``content_type``, ``split_type``, ``batch_strategy``, ``max_payload_mb`` (MB),
    ``max_concurrent_transforms``, ``assemble_with``, ``accept``, ``instance_type``,
    ``instance_count``, ``environment``, ``tags``; or ``config``: a raw CreateTransformJob request.
    Naming and ``action_if_job_exists`` as ``SageMakerTrainOperator``.

    Returns (XCom): ``smflow.summaries.transform_job_summary`` — TransformJobName,
    TransformJobArn, TransformJobStatus, ModelName, OutputPath, times, FailureReason.
    ``on_kill`` stops the job.
    """

    kind = _common.TRANSFORM_JOB
    spec = specs.TRANSFORM_JOB
    stops_on_kill = True
    console_link = SageMakerTransformJobLink
    operator_extra_links = (SageMakerTransformJobLink(),)
    template_fields: Sequence[str] = spec_template_fields(spec)
    template_fields_renderers: ClassVar[dict[str, str]] = spec.renderers

    def __init__(
        self,
        *,
        model_name: str | None = None,
        data: str | None = None,
        output_path: str | None = None,
        content_type: str | None = "text/csv",
        split_type: str | None = "Line",
        batch_strategy: str | None = "MultiRecord",
        max_payload_mb: int | str | None = specs.DEFAULT_MAX_PAYLOAD_MB,
        max_concurrent_transforms: int | str | None = None,
        assemble_with: str | None = "Line",
        accept: str | None = None,
        instance_type: str | None = specs.DEFAULT_INSTANCE_TYPE,
        instance_count: int | str = 1,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        job_name: str | None = None,
        base_job_name: str | None = None,
        idempotency_key: str | None = None,
        action_if_job_exists: str = "attach",
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_spec_arguments(locals())

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        with user_errors():
            description = client.batch_transform(**self.spec_call_arguments(context), wait=False)
        name = description["TransformJobName"]
        self._resource_name = name
        self.persist_link(context, client, name)
        return self.result(self.wait(context, client, name, description))

    def wait_sync(self, client, name, *, timeout, expected_endpoint_config=None) -> dict:
        return client.wait_for_transform_job(name, timeout=timeout)
