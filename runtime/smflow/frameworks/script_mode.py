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
