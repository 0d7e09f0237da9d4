"""Batch transform jobs: ``batch_transform`` (CreateTransformJob, SDK ``Transformer``), its wait
and ``stop_transform_job``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from smflow import builders, naming, states
from smflow.errors import ConfigurationError
from smflow.naming import ActionIfJobExists
from smflow.resources.base import (
    ClientBase,
    completion_message,
    error_code,
    field_differences,
    s3_path,
    stop_ignoring_ended,
)
from smflow.waiting import Backoff, Deadline

TRANSFORM_JOB_BASE_NAME = "transform-job"  # the SDK's name prefix for a job of unknown model


class TransformJobs(ClientBase):
    """The batch-transform calls of :class:`smflow.client.SageMakerClient`."""

    def describe_transform_job(self, job_name: str) -> dict:
        """boto3 ``describe_transform_job``."""
        return self.sagemaker.describe_transform_job(TransformJobName=job_name)

    def batch_transform(
        self,
        *,
        model_name: str | None = None,
        data: str | None = None,
        output_path: str | None = None,
        content_type: str | None = "text/csv",
        split_type: str | None = "Line",
        batch_strategy: str | None = "MultiRecord",
        max_payload_mb: int | None = 6,
        max_concurrent_transforms: int | None = None,
        assemble_with: str | None = "Line",
        accept: str | None = None,
        instance_type: str = builders.DEFAULT_INSTANCE_TYPE,
        instance_count: int = 1,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        job_name: str | None = None,
        base_job_name: str | None = None,
        idempotency_key: str | None = None,
        action_if_job_exists: ActionIfJobExists = "attach",
        config: Mapping[str, Any] | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> dict:
        """Run a batch transform job (boto3 ``create_transform_job``, the SDK's ``Transformer``):
        every object under the S3 prefix ``data`` gives ``<object>.out`` under
        ``output_path`` (default ``s3://<default bucket>/<job name>``). ``max_payload_mb`` is in MB.
        ``split_type``, ``batch_strategy``, ``max_payload_mb`` and ``assemble_with`` may be None
        (left to SageMaker's defaults; ``split_type=None`` is the SDK's default: one record per
        object).

        When a job of that name exists (``action_if_job_exists="attach"``, see
        ``_resolve_job``): a Stopping job is waited for; a Completed or InProgress job is reused
        only if it matches this call (ModelName, input S3Uri, output path, SplitType,
        BatchStrategy, MaxPayloadInMB, AssembleWith; arguments left None, or fields absent from
        ``config``, are not compared); otherwise, and after a Failed or Stopped job,
        ``<name>-2`` (``-3``...) is started. The model is looked up (boto3 ``describe_model``)
        before a job is created.

        Returns: the DescribeTransformJob payload (after waiting, when ``wait``).
        Raises:
            ConfigurationError: a bad argument, or no model named ``model_name`` (both named).
            JobExistsError, ResourceFailedError, WaitTimeoutError.
        """
        deadline = Deadline.after(timeout)
        if config is not None:
            request = builders.coerce_to_shape(config, "CreateTransformJob")
            name = request.get("TransformJobName") or self._job_name(
                job_name, base_job_name, idempotency_key,
                naming.base_of(request.get("ModelName", TRANSFORM_JOB_BASE_NAME)),
            )
            wanted = _transform_fields(request)
        else:
            if not model_name or not data:
                raise ConfigurationError("model_name and data (an s3:// input prefix) are required")
            request = None
            name = self._job_name(job_name, base_job_name, idempotency_key, naming.base_of(model_name))
            preview = builders.transform_job_request(
                job_name=name, model_name=model_name, data=data, output_path=output_path or "s3://unset",
                content_type=content_type, split_type=split_type, batch_strategy=batch_strategy,
                max_payload_mb=max_payload_mb, max_concurrent_transforms=max_concurrent_transforms,
                assemble_with=assemble_with, accept=accept, instance_type=instance_type,
                instance_count=instance_count,
            )
            if not output_path:  # the default output path depends on the job name: not compared
                del preview["TransformOutput"]["S3OutputPath"]
            wanted = _transform_fields(preview)
        name, existing = self._resolve_job(
            name,
            lambda candidate: self._describe_or_none(
                self.sagemaker.describe_transform_job, TransformJobName=candidate
            ),
            states.TRANSFORM_JOB,
            action_if_job_exists,
            differences=lambda found: field_differences(wanted, _transform_fields(found)),
            timeout=timeout,
        )
        if existing is None:
            model = (request or {}).get("ModelName") or model_name
            argument = "ModelName in config" if request is not None else "model_name"
            if model and self._describe_or_none(self.sagemaker.describe_model, ModelName=model) is None:
                raise ConfigurationError(f"Model {model!r} not found; check {argument} (create_model makes one)")
            if request is None:
                request = builders.transform_job_request(
                    job_name=name, model_name=model_name, data=data,
                    output_path=output_path or f"s3://{self.default_bucket()}/{name}",
                    content_type=content_type, split_type=split_type, batch_strategy=batch_strategy,
                    max_payload_mb=max_payload_mb, max_concurrent_transforms=max_concurrent_transforms,
                    assemble_with=assemble_with, accept=accept, instance_type=instance_type,
                    instance_count=instance_count, environment=environment, tags=tags,
                )
            else:
                request = {**request, "TransformJobName": name}
            try:
                self.sagemaker.create_transform_job(**request)
                self.log(f"Created transform job {name}")
            except ClientError as error:
                if error_code(error) != "ResourceInUse":
                    raise
        if not wait:
            return self.describe_transform_job(name)
        return self.wait_for_transform_job(name, timeout=deadline.remaining())

    def wait_for_transform_job(self, job_name: str, *, timeout: float | None = None, backoff: Backoff | None = None) -> dict:
        """Wait until the transform job is Completed.

        Raises: ConfigurationError (no such job), ResourceFailedError (Failed/Stopped, with
            FailureReason), WaitTimeoutError.
        """
        description = self.wait_for_resource(states.TRANSFORM_JOB.kind, job_name, timeout=timeout, backoff=backoff)
        self.log(completion_message(states.TRANSFORM_JOB.kind, job_name, description))
        return description

    def stop_transform_job(self, job_name: str) -> None:
        """boto3 ``stop_transform_job``; a job that already ended is left as it is."""
        stop_ignoring_ended(self.sagemaker.stop_transform_job, TransformJobName=job_name)


# ---------------------------------------------------------------------- helpers
def _transform_fields(request: Mapping[str, Any]) -> dict[str, Any]:
    """What decides whether an existing transform job is the one a request asks for, read the
    same way from a CreateTransformJob request and a DescribeTransformJob payload: ModelName,
    the input S3Uri, S3OutputPath, SplitType, BatchStrategy, MaxPayloadInMB, AssembleWith. A
    field the request does not set is absent."""
    transform_input = request.get("TransformInput") or {}
    output = request.get("TransformOutput") or {}
    candidates = {
        "ModelName": request.get("ModelName"),
        "S3Uri": (transform_input.get("DataSource") or {}).get("S3DataSource", {}).get("S3Uri"),
        "S3OutputPath": s3_path(output["S3OutputPath"]) if output.get("S3OutputPath") else None,
        "SplitType": transform_input.get("SplitType"),
        "BatchStrategy": request.get("BatchStrategy"),
        "MaxPayloadInMB": request.get("MaxPayloadInMB"),
        "AssembleWith": output.get("AssembleWith"),
    }
    return {key: value for key, value in candidates.items() if value is not None}
