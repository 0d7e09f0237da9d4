"""Training operators: ``SageMakerTrainOperator`` (``SageMakerClient.train``, boto3
``create_training_job``; arguments from ``smflow.resources.specs.TRAINING_JOB``) and
``SageMakerAttachOperator`` (``SageMakerClient.attach``). Shared behaviour: ``operators.base``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from smflow.resources import specs
from smflow_airflow import _common
from smflow_airflow.links.sagemaker import SageMakerTrainingJobLink
from smflow_airflow.operators.base import (
    SageMakerBaseOperator,
    SageMakerWaitingOperator,
    spec_template_fields,
    user_errors,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class SageMakerTrainOperator(SageMakerWaitingOperator):
    """Run a training job (SDK ``Estimator.fit``; boto3 ``create_training_job``) and wait for it.

    SDK-style arguments (``smflow.resources.specs.TRAINING_JOB``, as ``SageMakerClient.train``):
    ``entry_point`` (a script on the worker), ``source_dir``, ``hyperparameters``,
    ``framework``, ``framework_version`` and ``py_version`` (None: smflow's default framework and
    the framework's defaults), ``image_uri``, ``instance_type``, ``instance_count``,
    ``volume_size`` (GB), ``inputs`` (an S3 URI: the ``train`` channel, or ``{channel: S3
    URI or TrainingInput arguments}``), ``input_mode``, ``output_path``, ``code_location``,
    ``dependencies``, ``distribution``, ``max_run`` (seconds), ``use_spot_instances`` with
    ``max_wait`` (seconds), ``max_retry_attempts``, ``checkpoint_s3_uri``/``checkpoint_local_path``,
    ``output_kms_key``, ``volume_kms_key``, ``metric_definitions``, ``subnets`` with
    ``security_group_ids``, ``enable_network_isolation``, the MPI options ``use_mpi``,
    ``num_processes``, ``process_slots_per_host``, ``additional_mpi_options`` (for the framework
    whose estimator takes them), ``environment``, ``tags``; ``role`` may be a role name. Or ``config``: a raw CreateTrainingJob request (its ``TrainingJobName`` may be left
    out; ``RoleArn`` defaults to ``role``).

    Naming: ``job_name`` if given; else ``<base_job_name or task id>-<sha1(idempotency_key)[:10]>``
    where ``idempotency_key`` defaults to ``<dag_id>.<task_id>.<run_id>``.

    ``print_log``: stream the job's CloudWatch log lines into the task log while waiting.

    Returns (XCom): ``smflow.summaries.training_job_summary`` — TrainingJobName, TrainingJobArn,
    TrainingJobStatus, ModelDataUrl, HyperParameters, times, FinalMetrics, FailureReason.
    ``on_kill`` stops the job.
    """

    kind = _common.TRAINING_JOB
    spec = specs.TRAINING_JOB
    stops_on_kill = True
    console_link = SageMakerTrainingJobLink
    operator_extra_links = (SageMakerTrainingJobLink(),)
    template_fields: Sequence[str] = spec_template_fields(spec)
    template_fields_renderers: ClassVar[dict[str, str]] = spec.renderers

    def __init__(
        self,
        *,
        entry_point: str | None = None,
        source_dir: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        algorithm: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        image_uri: str | None = None,
        instance_type: str | None = specs.DEFAULT_INSTANCE_TYPE,
        instance_count: int | str = 1,
        volume_size: int | str | None = specs.DEFAULT_VOLUME_SIZE,
        inputs: str | Mapping[str, Any] | None = None,
        input_mode: str = specs.DEFAULT_INPUT_MODE,
        output_path: str | None = None,
        code_location: str | None = None,
        dependencies: Sequence[str] | None = None,
        distribution: Mapping[str, Any] | None = None,
        max_run: int | str | None = specs.DEFAULT_MAX_RUN,
        use_spot_instances: bool | str = False,
        max_wait: int | str | None = None,
        max_retry_attempts: int | str | None = None,
        checkpoint_s3_uri: str | None = None,
        checkpoint_local_path: str | None = None,
        output_kms_key: str | None = None,
        volume_kms_key: str | None = None,
        metric_definitions: Sequence[Mapping[str, str]] | None = None,
        subnets: Sequence[str] | None = None,
        security_group_ids: Sequence[str] | None = None,
        enable_network_isolation: bool | str = False,
        use_mpi: bool | None = None,
        num_processes: int | str | None = None,
        process_slots_per_host: int | str | None = None,
        additional_mpi_options: str | None = None,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        job_name: str | None = None,
        base_job_name: str | None = None,
        idempotency_key: str | None = None,
        action_if_job_exists: str = "attach",
        config: Mapping[str, Any] | None = None,
        print_log: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_spec_arguments(locals())
        self.print_log = print_log

    @property
    def stream_logs(self) -> bool:
        return self.print_log

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        with user_errors():
            description = client.train(**self.spec_call_arguments(context), wait=False, logs=False)
        name = description["TrainingJobName"]
        self._resource_name = name
        self.persist_link(context, client, name)
        return self.result(self.wait(context, client, name, description))

    def wait_sync(self, client, name, *, timeout, expected_endpoint_config=None) -> dict:
        return client.wait_for_training_job(name, logs=self.print_log, timeout=timeout)


class SageMakerAttachOperator(SageMakerWaitingOperator):
    """Attach to an existing training job (SDK ``Estimator.attach``): wait for it if it is still
    running (streaming its log), fail if it Failed or was Stopped.

    Returns (XCom): the training job summary (see ``SageMakerTrainOperator``). The job was not
    started by this task, so ``on_kill`` leaves it running.
    """

    kind = _common.TRAINING_JOB
    console_link = SageMakerTrainingJobLink
    operator_extra_links = (SageMakerTrainingJobLink(),)
    template_fields: Sequence[str] = SageMakerBaseOperator.template_fields + ("job_name",)

    def __init__(self, *, job_name: str, print_log: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.print_log = print_log

    @property
    def stream_logs(self) -> bool:
        return self.print_log

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        with user_errors():
            description = client.attach(self.job_name, wait=False)
        self._resource_name = self.job_name
        self.persist_link(context, client, self.job_name)
        return self.result(self.wait(context, client, self.job_name, description))

    def wait_sync(self, client, name, *, timeout, expected_endpoint_config=None) -> dict:
        return client.wait_for_training_job(name, logs=self.print_log, timeout=timeout)
