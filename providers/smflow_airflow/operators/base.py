"""The bases of the smflow SageMaker operators (``SageMakerBaseOperator``,
``SageMakerWaitingOperator``) and what they share; the operators themselves are in one module per
resource (``training``, ``models``, ``endpoints``, ``transform``), all exported by
``smflow_airflow.operators.sagemaker``.

What every operator shares:

* The connection is Airflow's ``aws`` connection (``aws_conn_id``, default ``aws_default``); an
  ``endpoint_url`` extra points it at the smflow local runtime. ``region_name``, ``verify`` and
  ``botocore_config`` override it, as in the Amazon provider's ``AwsBaseOperator``. See
  ``SageMakerClientHook``.
* Arguments are the client's SDK-style arguments, declared once per resource kind in
  ``smflow.resources.specs``: Train, CreateModel, Deploy and BatchTransform take their kind's
  arguments with its defaults, template them as it says and pass every one to the client
  (``tests/airflow/test_specs.py``); they also take a raw boto3 request as ``config``.
  Numbers that Jinja renders as strings (``"1"``) are converted to the integers the API needs
  (``builders.coerce_to_shape``).
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

This module imports neither boto3 nor the smflow client at import time (DAG parsing stays fast):
``smflow.resources.specs`` is pure data.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, conf

from smflow.resources.specs import ResourceSpec
from smflow_airflow import _common
from smflow_airflow.links.sagemaker import SageMakerConsoleLink

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


# Arguments for which an operator given None (or a template rendered empty) passes the spec's
# default, as the operators always have: the client takes no None for them.
EMPTY_MEANS_DEFAULT = frozenset({"instance_type", "volume_size", "max_run"})


def spec_template_fields(spec: ResourceSpec) -> tuple[str, ...]:
    """The ``template_fields`` of an operator over ``spec``: the base operator's, then the
    spec's templated arguments it does not list already (``role``)."""
    common = SageMakerBaseOperator.template_fields
    return (*common, *(name for name in spec.template_fields if name not in common))


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
        """Set the spec's arguments as attributes from a subclass ``__init__``'s ``locals()``;
        one that a base class takes (``role``) is set by that base. ``action_if_job_exists`` is
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
        spec, read from this operator's (rendered) attributes; ``instance_type``,
        ``volume_size`` and ``max_run`` left None or empty are the spec's defaults. A job is
        named from the task: ``base_job_name`` defaults to the task id and ``idempotency_key`` to
        ``<dag_id>.<task_id>.<run_id>`` (with ``.<map_index>`` for a mapped task)."""
        arguments = self.spec.call_arguments(vars(self))
        for name in EMPTY_MEANS_DEFAULT & arguments.keys():
            if arguments[name] in (None, ""):
                arguments[name] = self.spec.defaults[name]
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
