"""The arguments of each SageMaker resource kind, declared once.

One :class:`ResourceSpec` per kind that smflow creates (training job, model, endpoint, transform
job) names the SDK-style arguments of its client call, their defaults, and what the
orchestrators need to know about them (whether Airflow renders them as templates, and how its UI
shows them). Everything that exposes these arguments is derived from, or checked against, this
module:

* :class:`smflow.client.SageMakerClient` (``train``, ``create_model``, ``deploy``,
  ``batch_transform``): its keyword arguments and defaults (``tests/unit/test_specs.py``);
* the Airflow operators: ``template_fields``, ``template_fields_renderers``, the ``__init__``
  arguments and what ``execute`` passes to the client (``tests/airflow/test_specs.py``);
* the Prefect tasks and their async twins: signatures and what they pass to the client
  (``tests/prefect/test_specs.py``).

So adding an argument (say ``checkpoint_s3_uri``) is one line here plus its behaviour in the
request builder; the tests then name every signature that lacks it.

Call-control arguments (``wait``, ``logs``, ``timeout``; Airflow's ``wait_for_completion``,
``check_interval``, ``deferrable``; Prefect's ``artifact_key``) belong to each caller, not to the
resource, and are not declared here. This module is pure data: importing it costs nothing, so
DAG files may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_INSTANCE_TYPE = "ml.m5.large"
DEFAULT_MAX_RUN = 24 * 60 * 60  # seconds, as the SDK's max_run
DEFAULT_VOLUME_SIZE = 30  # GB, as the SDK's volume_size
DEFAULT_MAX_PAYLOAD_MB = 6  # MB, SageMaker's default MaxPayloadInMB
DEFAULT_INPUT_MODE = "File"  # the SDK's input_mode
INPUT_MODES = ("File", "Pipe", "FastFile")  # AlgorithmSpecification.TrainingInputMode, Channel.InputMode

# Estimator arguments that only some frameworks take (the MPI launch options of the SDK's
# estimator for one framework): passed to the framework's conventions as ``framework_options``
# (only those not None), which refuse them for a framework that takes none.
FRAMEWORK_OPTIONS = ("use_mpi", "num_processes", "process_slots_per_host", "additional_mpi_options")


@dataclass(frozen=True)
class Argument:
    """One SDK-style argument of a client call.

    Attributes:
        name: the keyword, as the SageMaker Python SDK spells it (``entry_point``, ``max_run``).
        default: the default of every signature that takes it (None: the client decides, e.g.
            ``framework_version`` None is the framework's default version).
        templated: Airflow renders it with Jinja (in ``template_fields``).
        renderer: how Airflow's UI shows the rendered value (``"json"`` for dicts and lists).
    """

    name: str
    default: Any = None
    templated: bool = True
    renderer: str | None = None


@dataclass(frozen=True)
class ResourceSpec:
    """The arguments of the client call that creates one kind of resource.

    Attributes:
        kind: SageMaker's name of the resource (``"TrainingJob"``, ``"Model"``, ...).
        method: the :class:`~smflow.client.SageMakerClient` method taking these arguments.
        arguments: in the order signatures list them.
    """

    kind: str
    method: str
    arguments: tuple[Argument, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(argument.name for argument in self.arguments)

    @property
    def defaults(self) -> dict[str, Any]:
        return {argument.name: argument.default for argument in self.arguments}

    @property
    def template_fields(self) -> tuple[str, ...]:
        """The arguments Airflow renders as templates, in declaration order."""
        return tuple(argument.name for argument in self.arguments if argument.templated)

    @property
    def renderers(self) -> dict[str, str]:
        """Airflow's ``template_fields_renderers`` for these arguments."""
        return {argument.name: argument.renderer for argument in self.arguments if argument.renderer}

    def call_arguments(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the client call, read from ``values`` (an operator's
        attributes, a task's parameters): every declared argument, with its default when
        ``values`` lacks it."""
        return {argument.name: values.get(argument.name, argument.default) for argument in self.arguments}


def _json(name: str) -> Argument:
    return Argument(name, renderer="json")


# The naming arguments shared by the job kinds (see SageMakerClient.train, "Job names").
_JOB_NAMING = (
    Argument("job_name"),
    Argument("base_job_name"),
    Argument("idempotency_key"),
    # checked when the operator is built, so never a template
    Argument("action_if_job_exists", "attach", templated=False),
)

TRAINING_JOB = ResourceSpec(
    kind="TrainingJob",
    method="train",
    arguments=(
        Argument("entry_point"),
        Argument("source_dir"),
        _json("hyperparameters"),
        Argument("algorithm"),
        Argument("framework"),
        Argument("framework_version"),
        Argument("py_version"),
        Argument("image_uri"),
        Argument("role"),
        Argument("instance_type", DEFAULT_INSTANCE_TYPE),
        Argument("instance_count", 1),
        Argument("volume_size", DEFAULT_VOLUME_SIZE),
        _json("inputs"),
        Argument("input_mode", DEFAULT_INPUT_MODE),
        Argument("output_path"),
        Argument("code_location"),
        _json("dependencies"),
        _json("distribution"),
        Argument("max_run", DEFAULT_MAX_RUN),
        Argument("use_spot_instances", False),
        Argument("max_wait"),
        Argument("max_retry_attempts"),
        Argument("checkpoint_s3_uri"),
        Argument("checkpoint_local_path"),
        Argument("output_kms_key"),
        Argument("volume_kms_key"),
        _json("metric_definitions"),
        _json("subnets"),
        _json("security_group_ids"),
        Argument("enable_network_isolation", False),
        Argument("use_mpi"),
        Argument("num_processes"),
        Argument("process_slots_per_host"),
        Argument("additional_mpi_options"),
        _json("environment"),
        _json("tags"),
        *_JOB_NAMING,
        _json("config"),
    ),
)

MODEL = ResourceSpec(
    kind="Model",
    method="create_model",
    arguments=(
        Argument("model_name"),
        Argument("training_job_name"),
        Argument("model_data"),
        Argument("entry_point"),
        Argument("source_dir"),
        Argument("image_uri"),
        Argument("algorithm"),
        Argument("framework"),
        Argument("framework_version"),
        Argument("py_version"),
        Argument("instance_type"),
        Argument("model_server_workers"),
        Argument("role"),
        _json("environment"),
        _json("tags"),
        _json("config"),
    ),
)

ENDPOINT = ResourceSpec(
    kind="Endpoint",
    method="deploy",
    arguments=(
        Argument("model_name"),
        Argument("endpoint_name"),
        Argument("instance_type", DEFAULT_INSTANCE_TYPE),
        Argument("initial_instance_count", 1),
        Argument("endpoint_config_name"),
        _json("config"),
    ),
)

TRANSFORM_JOB = ResourceSpec(
    kind="TransformJob",
    method="batch_transform",
    arguments=(
        Argument("model_name"),
        _json("data"),
        Argument("output_path"),
        Argument("content_type", "text/csv"),
        Argument("split_type", "Line"),
        Argument("batch_strategy", "MultiRecord"),
        Argument("max_payload_mb", DEFAULT_MAX_PAYLOAD_MB),
        Argument("max_concurrent_transforms"),
        Argument("assemble_with", "Line"),
        Argument("accept"),
        Argument("instance_type", DEFAULT_INSTANCE_TYPE),
        Argument("instance_count", 1),
        _json("environment"),
        _json("tags"),
        *_JOB_NAMING,
        _json("config"),
    ),
)

SPECS: tuple[ResourceSpec, ...] = (TRAINING_JOB, MODEL, ENDPOINT, TRANSFORM_JOB)
