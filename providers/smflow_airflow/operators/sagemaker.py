"""SageMaker lifecycle operators: thin Airflow wrappers over :class:`smflow.client.SageMakerClient`.

=========================================  ===================================================
operator                                   client call (boto3 calls in ``smflow.client``)
=========================================  ===================================================
``SageMakerTrainOperator``                 ``train`` (CreateTrainingJob), then waits
``SageMakerAttachOperator``                ``attach`` (DescribeTrainingJob), waits if running
``SageMakerCreateModelOperator``           ``create_model`` (CreateModel)
``SageMakerDeployOperator``                ``deploy`` (CreateEndpointConfig, Create/UpdateEndpoint)
``SageMakerPredictOperator``               ``predict`` (InvokeEndpoint)
``SageMakerBatchTransformOperator``        ``batch_transform`` (CreateTransformJob), then waits
``SageMakerDeleteEndpointOperator``        ``delete_endpoint`` (idempotent; a teardown task)
=========================================  ===================================================

What every operator shares:

* The connection is Airflow's ``aws`` connection (``aws_conn_id``, default ``aws_default``); an
  ``endpoint_url`` extra points it at the smflow local runtime. ``region_name``, ``verify`` and
  ``botocore_config`` override it, as in the Amazon provider's ``AwsBaseOperator``. See
  ``SageMakerClientHook``.
* Arguments are the client's SDK-style arguments, declared once per resource kind in
  ``smflow.resources.specs``: Train, CreateModel, Deploy and BatchTransform take their spec's
  arguments with its defaults, template them as it says and pass every one of them to the client
  (``tests/airflow/test_specs.py``); they also take a raw boto3 request as ``config``. Numbers that Jinja renders as
  strings (``"1"``) are converted to the integers the API needs (``builders.coerce_to_shape``).
* The XCom return value is a small JSON-serializable summary (``smflow.summaries``): names,
  ARNs, S3 URIs, status, metrics, ISO datetimes. What the console links need is stored in XCom
  under the link's key whether or not ``do_xcom_push`` is set (it only governs the return value).
* Jobs are named from the DAG, task and run (``<task id>-<10 hex digits>``), so a retry or a
  rerun attaches to the job an earlier try started (in progress: wait; completed: reuse) and
  starts ``<name>-2`` only when that job failed or was stopped. ``action_if_job_exists`` is
  ``attach`` (default), ``fail`` or ``timestamp``; another value is refused when the DAG is
  parsed (``ConfigurationError``).
* Waiting (``wait_for_completion``): polls start 0.2 s apart and grow x1.2 up to
  ``check_interval`` seconds; ``max_ingestion_time`` (seconds) bounds the wait. With
  ``deferrable=True`` (default: the ``[operators] default_deferrable`` Airflow option) the
  task waits in ``SageMakerResourceTrigger`` instead, unless the resource is already done.
* Completed / InService succeed; Failed and Stopped raise ``ResourceFailedError`` naming the
  resource and SageMaker's FailureReason, as does an endpoint update that rolled back. Bad
  arguments raise ``AirflowFailException`` (no retry: a retry would fail the same way).

This module imports neither boto3 nor the smflow client at import time (DAG parsing stays fast).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, conf

from smflow.resources import specs
from smflow.resources.specs import ResourceSpec
from smflow_airflow import _common
from smflow_airflow.links.sagemaker import (
    SageMakerConsoleLink,
    SageMakerEndpointLink,
    SageMakerModelLink,
    SageMakerTrainingJobLink,
    SageMakerTransformJobLink,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.client import SageMakerClient

def default_deferrable() -> bool:
    """The ``[operators] default_deferrable`` option of the Airflow configuration."""
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def check_action_if_job_exists(task_id: str, action_if_job_exists: str) -> str:
    """Validate ``action_if_job_exists`` when the operator is built (the DAG is parsed), before
    any AWS call.

    Raises:
        smflow.errors.ConfigurationError: not ``attach``, ``fail`` or ``timestamp``.
    """
    from smflow import naming

    return naming.check_action_if_job_exists(action_if_job_exists, where=f"task {task_id!r}: ")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Bad arguments fail the task for good (``AirflowFailException``): retrying cannot help."""
    from airflow.sdk.exceptions import AirflowFailException

    from smflow.errors import is_argument_error

    try:
        yield
    except Exception as error:
        if is_argument_error(error):
            raise AirflowFailException(str(error)) from error
        raise


def spec_template_fields(spec: ResourceSpec, *extra: str) -> tuple[str, ...]:
    """The ``template_fields`` of an operator over ``spec``: the base operator's, then the
    spec's templated arguments it does not list already (``role``), then ``extra``."""
    common = SageMakerBaseOperator.template_fields
    return (*common, *(name for name in (*spec.template_fields, *extra) if name not in common))


class SageMakerBaseOperator(BaseOperator):
    """Base of the smflow SageMaker operators: the connection, the client and the extra links.

    Args:
        aws_conn_id: Airflow ``aws`` connection (templated).
        region_name: overrides the connection's region (templated).
        verify: SSL certificate verification of every boto3 client: ``False``, or the path of a
            CA bundle (templated); default: the connection's ``verify`` extra, else boto3's.
        botocore_config: botocore ``Config`` arguments (e.g. ``{"read_timeout": 900}``) over
            the connection's ``config_kwargs`` extra and smflow's retry defaults.
        role: SageMaker execution role ARN for jobs and models (templated); against the local
            runtime a placeholder is used when omitted.

    The connection arguments are those of the Amazon provider's ``AwsBaseOperator`` and reach
    ``SageMakerClientHook`` (and the trigger of a deferred task) unchanged.

    Subclasses list their own templated arguments after the common ones, which this base
    declares once. An operator that creates a resource sets ``spec`` (its kind's
    ``smflow.resources.specs.ResourceSpec``) and derives its ``template_fields`` from it
    (``spec_template_fields``), its ``template_fields_renderers`` (``spec.renderers``), its
    attributes (``set_spec_arguments``) and the client call's arguments
    (``spec_call_arguments``).
    """

    template_fields: Sequence[str] = ("aws_conn_id", "region_name", "verify", "role")
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    ui_color = "#c7e3d4"
    # The console page of the resource; subclasses set it and list it in operator_extra_links.
    console_link: ClassVar[type[SageMakerConsoleLink] | None] = None
    # The arguments of the client call this operator makes (None: not a spec'd resource call).
    spec: ClassVar[ResourceSpec | None] = None

    def __init__(
        self,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        role: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.role = role

    # ------------------------------------------------------------------ spec
    def set_spec_arguments(self, arguments: Mapping[str, Any]) -> None:
        """Set the spec's arguments as attributes from a subclass ``__init__``'s ``locals()``
        (those a base class takes, ``role``, that base sets). ``action_if_job_exists`` is
        checked here, when the DAG is parsed.

        Raises:
            smflow.errors.ConfigurationError: ``action_if_job_exists`` is not ``attach``,
                ``fail`` or ``timestamp``.
        """
        for name in self.spec.names:
            if name in arguments:
                setattr(self, name, arguments[name])
        if "action_if_job_exists" in arguments:
            self.action_if_job_exists = check_action_if_job_exists(self.task_id, self.action_if_job_exists)

    def spec_call_arguments(self, context: Context) -> dict[str, Any]:
        """The keyword arguments of the client call (``spec.method``): every argument of the
        spec, read from this operator's (rendered) attributes. A job is named from the task:
        ``base_job_name`` defaults to the task id and ``idempotency_key`` to
        ``<dag_id>.<task_id>.<run_id>`` (with ``.<map_index>`` for a mapped task)."""
        arguments = self.spec.call_arguments(vars(self))
        if "idempotency_key" in arguments:
            arguments["base_job_name"] = self.base_job_name or _common.default_base_name(self.task_id)
            arguments["idempotency_key"] = self.idempotency_key or _common.run_key(context)
        return arguments

    # ------------------------------------------------------------------ client
    def _backoff(self):
        return None

    def get_client(self, log=None) -> SageMakerClient:
        """The smflow client on this task's connection; log lines go to the task log."""
        from smflow_airflow.hooks.sagemaker import SageMakerClientHook

        hook = SageMakerClientHook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify,
            botocore_config=self.botocore_config, role=self.role,
        )
        return hook.get_client(log=log or self.log.info, backoff=self._backoff())

    def persist_link(self, context: Context, client: SageMakerClient, name: str) -> None:
        """Store what the console link of ``name`` needs (empty link on a custom endpoint),
        whatever ``do_xcom_push`` says: it governs the return value, not the links."""
        _common.persist_link(context, self.console_link, client, name)


class SageMakerWaitingOperator(SageMakerBaseOperator):
    """Base of the operators that wait for a job or an endpoint.

    Args:
        wait_for_completion: wait until the resource is terminal (default True); otherwise
            return as soon as it is started, with its current status.
        check_interval: longest delay between two Describe* calls, in seconds (polls start at
            0.2 s and grow x1.2 up to it).
        max_ingestion_time: fail the task after waiting this many seconds (the resource is
            left running; a retry attaches to it again). None: no limit.
        deferrable: wait in the triggerer (``SageMakerResourceTrigger``) and free the worker
            slot. Default: the ``[operators] default_deferrable`` Airflow option.
    """

    kind: ClassVar[str]  # _common.TRAINING_JOB / TRANSFORM_JOB / ENDPOINT
    stops_on_kill: ClassVar[bool] = False  # on_kill stops the job this task started

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        check_interval: float = _common.DEFAULT_CHECK_INTERVAL,
        max_ingestion_time: float | None = None,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self.check_interval = check_interval
        self.max_ingestion_time = max_ingestion_time
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self._resource_name: str | None = None

    def _backoff(self):
        return _common.backoff(self.check_interval)

    @property
    def stream_logs(self) -> bool:
        return False

    def wait(
        self, context: Context, client: SageMakerClient, name: str, description: dict,
        *, expected_endpoint_config: str | None = None,
    ) -> dict:
        """Wait for ``name`` as configured (sync, deferred or not at all); return its description.

        A resource that is already terminal is never deferred.
        """
        from smflow.states import Outcome, of_kind

        if not self.wait_for_completion:
            return description
        table = of_kind(self.kind)
        if self.deferrable and table.outcome(description) is Outcome.RUNNING:
            from smflow_airflow.triggers.sagemaker import SageMakerResourceTrigger

            deadline = None if self.max_ingestion_time is None else time.time() + float(self.max_ingestion_time)
            self.log.info("Deferring: %s %s is %s", self.kind, name, table.status(description))
            self.defer(
                trigger=SageMakerResourceTrigger(
                    kind=self.kind,
                    name=name,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                    check_interval=float(self.check_interval),
                    deadline=deadline,
                    stream_logs=self.stream_logs,
                    expected_endpoint_config=expected_endpoint_config,
                    stop_on_kill=self.stops_on_kill,
                ),
                method_name="execute_complete",
                # a backstop only: the trigger itself stops at the deadline with a clear message
                timeout=None if deadline is None else timedelta(seconds=float(self.max_ingestion_time) + 300),
            )
        return self.wait_sync(client, name, timeout=self.max_ingestion_time,
                              expected_endpoint_config=expected_endpoint_config)

    def wait_sync(self, client: SageMakerClient, name: str, *, timeout: float | None,
                  expected_endpoint_config: str | None = None) -> dict:
        raise NotImplementedError

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: fail on a failed / timed-out event, else describe once more
        (flushing training log lines the trigger had not seen yet) and return the summary."""
        payload = _common.raise_for_event(event)
        name = payload["name"]
        self._resource_name = name
        log = _common.SkipLines(payload.get("log_lines") or 0, self.log.info)
        client = self.get_client(log=log)
        description = self.wait_sync(client, name, timeout=self.max_ingestion_time,
                                     expected_endpoint_config=payload.get("expected_endpoint_config"))
        return self.result(description)

    def result(self, description: dict) -> Any:
        return _common.summary(self.kind, description)

    def on_kill(self) -> None:
        """Stop the training / transform job this task started or attached to."""
        if not self.stops_on_kill or not self._resource_name:
            return
        self.log.info("Task killed: stopping %s %s", self.kind, self._resource_name)
        _common.stop(self.get_client(), self.kind, self._resource_name)


# ---------------------------------------------------------------------- training
class SageMakerTrainOperator(SageMakerWaitingOperator):
    """Run a training job (SDK ``Estimator.fit``; boto3 ``create_training_job``) and wait for it.

    SDK-style arguments (``smflow.resources.specs.TRAINING_JOB``, as ``SageMakerClient.train``):
    ``entry_point`` (a script on the worker), ``source_dir``, ``hyperparameters``,
    ``framework`` and ``framework_version`` (None: smflow's default framework and the
    framework's default version), ``image_uri``, ``instance_type``, ``instance_count``,
    ``volume_size`` (GB), ``inputs`` (an S3 URI: the ``train`` channel, or ``{channel: S3
    URI}``), ``output_path``, ``code_location``, ``max_run`` (seconds), ``environment``,
    ``tags``. Or ``config``: a raw CreateTrainingJob request (its ``TrainingJobName`` may be left
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
    template_fields: Sequence[str] = spec_template_fields(specs.TRAINING_JOB)
    template_fields_renderers: ClassVar[dict[str, str]] = specs.TRAINING_JOB.renderers

    def __init__(
        self,
        *,
        entry_point: str | None = None,
        source_dir: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        image_uri: str | None = None,
        instance_type: str = specs.DEFAULT_INSTANCE_TYPE,
        instance_count: int | str = 1,
        volume_size: int | str = specs.DEFAULT_VOLUME_SIZE,
        inputs: str | Mapping[str, Any] | None = None,
        output_path: str | None = None,
        code_location: str | None = None,
        max_run: int | str = specs.DEFAULT_MAX_RUN,
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


# ---------------------------------------------------------------------- models and endpoints
class SageMakerCreateModelOperator(SageMakerBaseOperator):
    """Create a model (boto3 ``create_model``) from a training job (``training_job_name``), from
    model data (``model_data`` S3 URI of a model.tar.gz plus an inference ``entry_point``), or from
    a raw CreateModel request (``config``). An identical existing model is reused.

    Arguments: ``smflow.resources.specs.MODEL``, as ``SageMakerClient.create_model``
    (``framework`` and ``framework_version`` None: the training job's image, else smflow's
    default framework and the framework's default version).

    Returns (XCom): ``{"ModelName", "ModelArn", "Image", "ModelDataUrl"}``.
    """

    spec = specs.MODEL
    console_link = SageMakerModelLink
    operator_extra_links = (SageMakerModelLink(),)
    template_fields: Sequence[str] = spec_template_fields(specs.MODEL)
    template_fields_renderers: ClassVar[dict[str, str]] = specs.MODEL.renderers

    def __init__(
        self,
        *,
        model_name: str | None = None,
        training_job_name: str | None = None,
        model_data: str | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        image_uri: str | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        environment: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_spec_arguments(locals())

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        with user_errors():
            model = client.create_model(**self.spec_call_arguments(context))
        self.persist_link(context, client, model["ModelName"])
        return model


class SageMakerDeployOperator(SageMakerWaitingOperator):
    """Deploy a model to an endpoint (boto3 ``create_endpoint_config``, ``create_endpoint`` or,
    for an existing endpoint, ``update_endpoint`` — it keeps serving until the new config is
    InService) and wait for InService. A Failed endpoint, or an update that rolled back, fails
    the task with SageMaker's FailureReason.

    Arguments (``smflow.resources.specs.ENDPOINT``, as ``SageMakerClient.deploy``):
    ``model_name``, ``endpoint_name`` (default: the model name), ``instance_type``,
    ``initial_instance_count``, ``endpoint_config_name``; or ``config``: a raw
    CreateEndpointConfig request.

    Returns (XCom): ``smflow.summaries.endpoint_summary`` — EndpointName, EndpointArn,
    EndpointStatus, EndpointConfigName, times, FailureReason.
    """

    kind = _common.ENDPOINT
    spec = specs.ENDPOINT
    console_link = SageMakerEndpointLink
    operator_extra_links = (SageMakerEndpointLink(),)
    template_fields: Sequence[str] = spec_template_fields(specs.ENDPOINT)
    template_fields_renderers: ClassVar[dict[str, str]] = specs.ENDPOINT.renderers

    def __init__(
        self,
        *,
        model_name: str | None = None,
        endpoint_name: str | None = None,
        instance_type: str = specs.DEFAULT_INSTANCE_TYPE,
        initial_instance_count: int | str = 1,
        endpoint_config_name: str | None = None,
        config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.set_spec_arguments(locals())

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        endpoint_name = self.endpoint_name or self.model_name
        if endpoint_name:
            self.persist_link(context, client, endpoint_name)
        synchronous = self.wait_for_completion and not self.deferrable
        arguments = self.spec_call_arguments(context)
        with user_errors():
            if synchronous:
                return self.result(client.deploy(**arguments, timeout=self.max_ingestion_time))
            expected, description = client.start_deploy(**arguments, timeout=self.max_ingestion_time)
        return self.result(self.wait(context, client, description["EndpointName"], description,
                                     expected_endpoint_config=expected))

    def wait_sync(self, client, name, *, timeout, expected_endpoint_config=None) -> dict:
        return client.wait_for_endpoint(name, expected_config=expected_endpoint_config, timeout=timeout)


class SageMakerPredictOperator(SageMakerBaseOperator):
    """Send rows to an endpoint and return its predictions (SDK ``Predictor.predict``; boto3
    ``invoke_endpoint``).

    Args:
        endpoint_name: the endpoint (templated).
        data: the rows: a list (of lists), or a JSON array as a string (what Jinja renders); an
            XComArg resolves to the upstream task's list (templated).
        content_type, accept: ``application/x-npy`` (default, as the SDK's NumPy serializer
            and deserializer), ``application/json`` or ``text/csv``.
        target_variant: the production variant to invoke.

    Returns (XCom): ``{"EndpointName", "Count", "Predictions": [...]}`` (a plain list, never a
    NumPy array).
    """

    console_link = SageMakerEndpointLink
    operator_extra_links = (SageMakerEndpointLink(),)
    template_fields: Sequence[str] = SageMakerBaseOperator.template_fields + (
        "endpoint_name", "data", "content_type", "accept", "target_variant",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"data": "json"}

    def __init__(
        self,
        *,
        endpoint_name: str,
        data: Any,
        content_type: str = "application/x-npy",
        accept: str = "application/x-npy",
        target_variant: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.data = data
        self.content_type = content_type
        self.accept = accept
        self.target_variant = target_variant

    def rows(self) -> Any:
        """``data`` as a Python value; a string must be a JSON array.

        Raises: AirflowFailException naming ``data``."""
        import json

        from airflow.sdk.exceptions import AirflowFailException

        data = self.data
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError:
                raise AirflowFailException(
                    f"data must be a list of rows or a JSON array string, got {str(self.data)[:80]!r}"
                ) from None
        if data is None or isinstance(data, Mapping):
            raise AirflowFailException(f"data must be a list of rows, got {type(data).__name__}")
        return data

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        rows = self.rows()
        self.persist_link(context, client, self.endpoint_name)
        from smflow.codecs import UnsupportedContentTypeError

        try:
            predictions = client.predict(
                self.endpoint_name, rows, content_type=self.content_type, accept=self.accept,
                target_variant=self.target_variant,
            )
        except UnsupportedContentTypeError as error:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(error)) from error
        values = predictions.tolist()
        count = len(values) if isinstance(values, list) else 1
        self.log.info("Endpoint %s returned %d predictions", self.endpoint_name, count)
        return {"EndpointName": self.endpoint_name, "Count": count, "Predictions": values}


# ---------------------------------------------------------------------- batch transform
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
    template_fields: Sequence[str] = spec_template_fields(specs.TRANSFORM_JOB)
    template_fields_renderers: ClassVar[dict[str, str]] = specs.TRANSFORM_JOB.renderers

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
        instance_type: str = specs.DEFAULT_INSTANCE_TYPE,
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


# ---------------------------------------------------------------------- teardown
class SageMakerDeleteEndpointOperator(SageMakerBaseOperator):
    """Delete an endpoint and, by default, its endpoint config (boto3 ``delete_endpoint``,
    ``delete_endpoint_config``; ``delete_model=True`` also deletes its models).

    Idempotent: deleting what is already gone succeeds, so it fits a teardown task::

        delete = SageMakerDeleteEndpointOperator(task_id="delete", endpoint_name=...)
        deploy >> predict >> delete.as_teardown(setups=deploy)

    Naming the deploy task as its setup makes clearing ``predict`` (or any task between them)
    deploy the endpoint again before it runs. Its trigger rule defaults to ``all_done``
    (``as_teardown`` sets Airflow's teardown rule).

    Returns (XCom): ``{"EndpointName", "Deleted": ["Endpoint/<name>", "EndpointConfig/<name>", ...]}``.
    """

    template_fields: Sequence[str] = SageMakerBaseOperator.template_fields + ("endpoint_name",)

    def __init__(
        self,
        *,
        endpoint_name: str,
        delete_endpoint_config: bool = True,
        delete_model: bool = False,
        wait_for_completion: bool = True,
        max_ingestion_time: float | None = 600,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.delete_endpoint_config = delete_endpoint_config
        self.delete_model = delete_model
        self.wait_for_completion = wait_for_completion
        self.max_ingestion_time = max_ingestion_time

    def execute(self, context: Context) -> dict:
        client = self.get_client()
        with user_errors():
            return client.delete_endpoint(
                self.endpoint_name,
                delete_endpoint_config=self.delete_endpoint_config,
                delete_model=self.delete_model,
                wait=self.wait_for_completion,
                timeout=self.max_ingestion_time,
            )


__all__ = [
    "SageMakerAttachOperator",
    "SageMakerBaseOperator",
    "SageMakerBatchTransformOperator",
    "SageMakerCreateModelOperator",
    "SageMakerDeleteEndpointOperator",
    "SageMakerDeployOperator",
    "SageMakerPredictOperator",
    "SageMakerTrainOperator",
    "SageMakerWaitingOperator",
]
