"""Script-mode conventions shared by every SageMaker Python SDK ``Framework`` estimator and
``FrameworkModel``: how the user's script and code reach the framework container.

Training: the HyperParameters of CreateTrainingJob carry every user value JSON-encoded plus
``sagemaker_program``, ``sagemaker_submit_directory``, ``sagemaker_container_log_level``,
``sagemaker_job_name`` and ``sagemaker_region`` (SDK ``Framework._script_mode_hyperparam_update``
and ``EstimatorBase.set_hyperparameters``); the training toolkit decodes them and passes the user's
values to the script as ``--name value`` arguments. Hosting: the model's container Environment
carries ``SAGEMAKER_PROGRAM``, ``SAGEMAKER_SUBMIT_DIRECTORY``, ``SAGEMAKER_CONTAINER_LOG_LEVEL``
and ``SAGEMAKER_REGION`` (SDK ``Model._script_mode_env_vars``, used by ``FrameworkModel``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from smflow.errors import ConfigurationError

CONTAINER_LOG_LEVEL = 20  # logging.INFO, the SDK's default container_log_level


def encode_hyperparameters(hyperparameters: Mapping[str, Any] | None) -> dict[str, str]:
    """User hyperparameters as the SageMaker Python SDK sends them: every value ``json.dumps``-ed
    (``30`` -> ``"30"``, ``"1e-3"`` -> ``"\\"1e-3\\""``).

    Raises:
        ConfigurationError: a value JSON cannot encode (e.g. a NumPy scalar), naming its key.
    """
    encoded = {}
    for key, value in (hyperparameters or {}).items():
        try:
            encoded[str(key)] = json.dumps(value)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(
                f"hyperparameters[{key!r}] cannot be sent to SageMaker ({error}): pass a str, int, "
                f"float, bool, list or dict (e.g. int(value) for a NumPy number)"
            ) from None
    return encoded


def script_mode_hyperparameters(
    hyperparameters: Mapping[str, Any] | None,
    *,
    program: str,
    submit_directory: str,
    region: str,
    job_name: str,
    container_log_level: int = CONTAINER_LOG_LEVEL,
) -> dict[str, str]:
    """The HyperParameters of a script-mode training job, every value a JSON string as the SDK
    sends them (``30`` -> ``"30"``, ``"train.py"`` -> ``"\\"train.py\\""``): the user's plus
    ``sagemaker_program``, ``sagemaker_submit_directory``, ``sagemaker_container_log_level``,
    ``sagemaker_job_name`` and ``sagemaker_region``.

    Raises:
        ConfigurationError: a user value JSON cannot encode, naming its key.
    """
    encoded = encode_hyperparameters(hyperparameters)
    encoded.update(
        {
            "sagemaker_program": json.dumps(program),
            "sagemaker_submit_directory": json.dumps(submit_directory),
            "sagemaker_container_log_level": json.dumps(container_log_level),
            "sagemaker_job_name": json.dumps(job_name),
            "sagemaker_region": json.dumps(region),
        }
    )
    return encoded


def hosting_environment(
    *, program: str, submit_directory: str, region: str, container_log_level: int = CONTAINER_LOG_LEVEL
) -> dict[str, str]:
    """The container Environment of a script-mode model: ``SAGEMAKER_PROGRAM``,
    ``SAGEMAKER_SUBMIT_DIRECTORY``, ``SAGEMAKER_CONTAINER_LOG_LEVEL`` and ``SAGEMAKER_REGION``."""
    return {
        "SAGEMAKER_PROGRAM": program,
        "SAGEMAKER_SUBMIT_DIRECTORY": submit_directory,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": str(container_log_level),
        "SAGEMAKER_REGION": region,
    }


# ---------------------------------------------------------------------------- distribution
# HyperParameters of the SDK ``EstimatorBase`` distribution settings, read by the containers'
# training toolkits (sagemaker-training-toolkit ``params.py``).
MODEL_SERVER_WORKERS = "SAGEMAKER_MODEL_SERVER_WORKERS"
PARAMETER_SERVER_ENABLED = "sagemaker_parameter_server_enabled"
MPI_ENABLED = "sagemaker_mpi_enabled"
MPI_PROCESSES_PER_HOST = "sagemaker_mpi_num_of_processes_per_host"
MPI_CUSTOM_OPTIONS = "sagemaker_mpi_custom_mpi_options"
DATAPARALLEL_ENABLED = "sagemaker_distributed_dataparallel_enabled"
DATAPARALLEL_CUSTOM_MPI_OPTIONS = "sagemaker_distributed_dataparallel_custom_mpi_options"
MULTI_WORKER_MIRRORED_ENABLED = "sagemaker_multi_worker_mirrored_strategy_enabled"
INSTANCE_TYPE = "sagemaker_instance_type"
MODELPARALLEL_PARAMETERS = "mp_parameters"
SMDISTRIBUTED_STRATEGIES = ("dataparallel", "modelparallel")


def distribution_hyperparameters(distribution: Mapping[str, Any], *, instance_type: str | None) -> dict[str, Any]:
    """The HyperParameters (not yet JSON-encoded) of a ``distribution`` as the SDK's
    ``Framework._distribution_configuration`` writes them: ``parameter_server`` ->
    ``sagemaker_parameter_server_enabled``; ``mpi`` -> ``sagemaker_mpi_enabled``,
    ``sagemaker_mpi_num_of_processes_per_host`` (when set), ``sagemaker_mpi_custom_mpi_options``
    (``""`` by default); ``smdistributed`` -> ``mp_parameters`` (model parallel, enabled),
    ``sagemaker_distributed_dataparallel_enabled``, ``sagemaker_instance_type`` and, for data
    parallel, ``sagemaker_distributed_dataparallel_custom_mpi_options``;
    ``multi_worker_mirrored_strategy`` -> ``sagemaker_multi_worker_mirrored_strategy_enabled``."""
    config: dict[str, Any] = {}
    if "parameter_server" in distribution:
        config[PARAMETER_SERVER_ENABLED] = distribution["parameter_server"].get("enabled", False)
    if "mpi" in distribution:
        mpi = distribution["mpi"]
        config[MPI_ENABLED] = mpi.get("enabled", False)
        if mpi.get("processes_per_host"):
            config[MPI_PROCESSES_PER_HOST] = mpi["processes_per_host"]
        config[MPI_CUSTOM_OPTIONS] = mpi.get("custom_mpi_options", "")
    if "smdistributed" in distribution:
        smdistributed = distribution["smdistributed"]
        modelparallel = smdistributed.get("modelparallel", {})
        if modelparallel.get("enabled", False) is True and modelparallel.get("parameters"):
            config[MODELPARALLEL_PARAMETERS] = dict(modelparallel["parameters"])
        dataparallel = smdistributed.get("dataparallel", {}).get("enabled", False)
        config[DATAPARALLEL_ENABLED] = dataparallel
        config[INSTANCE_TYPE] = instance_type
        if dataparallel:
            config[DATAPARALLEL_CUSTOM_MPI_OPTIONS] = smdistributed["dataparallel"].get("custom_mpi_options", "")
    if "multi_worker_mirrored_strategy" in distribution:
        config[MULTI_WORKER_MIRRORED_ENABLED] = distribution["multi_worker_mirrored_strategy"].get("enabled", False)
    return config


def check_smdistributed(
    distribution: Mapping[str, Any],
    *,
    instance_type: str | None,
    py_version: str | None,
    version: str | None = None,
    dataparallel_versions: tuple[str, ...] = (),
    title: str = "this framework",
    p5_allowed: bool = False,
) -> None:
    """SDK ``fw_utils.validate_smdistributed``: one strategy of ``dataparallel`` /
    ``modelparallel``; data parallel needs an instance type, a Python 3 image and a version in
    ``dataparallel_versions``; neither runs on ``ml.p5.48xlarge`` unless ``p5_allowed`` (SDK
    ``_distribution_configuration``: only a framework's own launcher makes p5 work).

    Raises:
        ConfigurationError: naming ``distribution`` and the values allowed.
    """
    if "smdistributed" not in distribution:
        return
    smdistributed = distribution["smdistributed"]
    if len(smdistributed) != 1 or next(iter(smdistributed)) not in SMDISTRIBUTED_STRATEGIES:
        raise ConfigurationError(
            f"distribution['smdistributed'] must hold one strategy: use one of {', '.join(SMDISTRIBUTED_STRATEGIES)} "
            f"(got {', '.join(map(repr, smdistributed)) or 'none'})"
        )
    if not isinstance(next(iter(smdistributed.values())), Mapping):
        raise ConfigurationError("distribution['smdistributed'][strategy] must be a dict such as {'enabled': True}")
    if smdistributed.get("dataparallel", {}).get("enabled", False):
        if not instance_type:
            raise ConfigurationError("instance_type is required with distribution['smdistributed']['dataparallel']")
        if version not in dataparallel_versions:
            raise ConfigurationError(
                f"distribution['smdistributed']['dataparallel'] does not support {title} {version}: use "
                f"framework_version {', '.join(dataparallel_versions) or '(none: not available)'}"
            )
        if "py3" not in (py_version or ""):
            raise ConfigurationError(
                f"distribution['smdistributed']['dataparallel'] needs a Python 3 image: use a py3* py_version, "
                f"got {py_version!r}"
            )
    if not p5_allowed and "p5.48xlarge" in (instance_type or ""):
        raise ConfigurationError(
            "distribution['smdistributed'] does not run on ml.p5.48xlarge instances: use another instance_type"
        )
