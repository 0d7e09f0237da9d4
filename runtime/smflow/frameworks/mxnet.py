"""Apache MXNet: the conventions of the SageMaker Python SDK v2's ``sagemaker.mxnet.MXNet``
estimator and ``MXNetModel``.

Images: ``data/mxnet.json`` (``mxnet-training`` / ``mxnet-inference``, CPU and GPU). As the SDK:
``distribution`` takes ``parameter_server`` and ``mpi``, from MXNet 1.3 on
(``MXNet._configure_distribution``, which, unlike the other estimators, sends
``sagemaker_mpi_custom_mpi_options`` only when it is set); SageMaker metrics time series are
on from 1.6; inference images from 1.4.0 load the model's code from the model archive
(``MXNetModel._is_mms_version``). The default framework_version is smflow's: 1.9 (the last).
"""

from __future__ import annotations

from smflow.errors import ConfigurationError
from smflow.frameworks import Framework, _release, script_mode

LOWEST_DISTRIBUTION_VERSION = "1.3"


class MXNet(Framework):
    """SDK ``MXNet``: parameter server and MPI from 1.3."""

    def _check_distribution(self, distribution, *, version, py_version, instance_type, instance_count) -> None:
        if version is not None and _release(version) < _release(LOWEST_DISTRIBUTION_VERSION):
            raise ConfigurationError(
                f"distribution needs MXNet {LOWEST_DISTRIBUTION_VERSION} or later: use framework_version "
                f"{LOWEST_DISTRIBUTION_VERSION} or later (got {version!r})"
            )

    def _extra_hyperparameters(self, distribution, **context):
        config = {}
        if "parameter_server" in distribution:
            config[script_mode.PARAMETER_SERVER_ENABLED] = distribution["parameter_server"].get("enabled", False)
        if "mpi" in distribution:
            mpi = distribution["mpi"]
            config[script_mode.MPI_ENABLED] = mpi.get("enabled", False)
            if mpi.get("processes_per_host"):
                config[script_mode.MPI_PROCESSES_PER_HOST] = mpi["processes_per_host"]
            if mpi.get("custom_mpi_options"):
                config[script_mode.MPI_CUSTOM_OPTIONS] = mpi["custom_mpi_options"]
        return config


FRAMEWORK = MXNet(
    name="mxnet",
    title="MXNet",
    base_job_name="mxnet-training",
    default_version="1.9",
    distributions=("parameter_server", "mpi"),
    metrics_since="1.6",
    code_in_model_since="1.4.0",
)
