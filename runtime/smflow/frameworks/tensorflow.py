"""TensorFlow: the conventions of the SageMaker Python SDK v2's ``sagemaker.tensorflow.TensorFlow``
estimator and ``TensorFlowModel``.

Images: ``data/tensorflow.json`` (``tensorflow-training``; serving by TensorFlow Serving in
``tensorflow-inference``). As the SDK:

- ``model_dir`` HyperParameter: ``<output_path>/<job name>/model`` (``_default_s3_path``), or
  ``/opt/ml/model`` when MPI is enabled; ``framework_options={"model_dir": "s3://..."}`` sets it,
  ``{"model_dir": False}`` leaves it out.
- ``distribution``: ``parameter_server``, ``mpi``, ``smdistributed`` (data parallel for the
  versions in ``DATAPARALLEL_VERSIONS``) and ``multi_worker_mirrored_strategy`` (2.9 and later,
  not with ``smdistributed`` or ``parameter_server``).
- Versions up to 1.10 ran in legacy mode only (the SDK refuses them without an image_uri);
  ``py2`` images exist up to 2.1.1. SageMaker metrics time series are on from 1.15.
- Hosting: TensorFlow Serving takes no SAGEMAKER_PROGRAM; its Environment is
  ``SAGEMAKER_TFS_NGINX_LOGLEVEL`` (from the container log level), and an inference script
  travels inside the model archive as ``code/inference.py`` (``TensorFlowModel``).
- The default framework_version is smflow's: 2.19 (the newest with training and inference images).
"""

from __future__ import annotations

import logging

from smflow.errors import ConfigurationError
from smflow.frameworks import Framework, _release, script_mode

# fw_utils.SM_DATAPARALLEL_SUPPORTED_FRAMEWORK_VERSIONS["tensorflow"]
DATAPARALLEL_VERSIONS = (
    "2.3", "2.3.1", "2.3.2", "2.4", "2.4.1", "2.4.3", "2.5", "2.5.0", "2.5.1", "2.6", "2.6.0", "2.6.2",
    "2.6.3", "2.7", "2.7.1", "2.8", "2.8.0", "2.9", "2.9.1", "2.9.2", "2.10", "2.10.1", "2.11", "2.11.0",
)
HIGHEST_LEGACY_MODE_VERSION = "1.10.0"
HIGHEST_PY2_VERSION = "2.1.1"
LOWEST_MULTI_WORKER_MIRRORED_VERSION = "2.9"
MODEL_DIRECTORY = "/opt/ml/model"  # model_dir under MPI (SDK _default_s3_path(mpi=True))
NGINX_LOG_LEVEL = "SAGEMAKER_TFS_NGINX_LOGLEVEL"
NGINX_LOG_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn",
                    logging.ERROR: "error", logging.CRITICAL: "crit"}


class TensorFlow(Framework):
    """SDK ``TensorFlow``: model_dir, its distribution strategies, TensorFlow Serving."""

    def _check_training(self, *, version, py_version, instance_type, instance_count, framework_options) -> None:
        if version is not None and _release(version) <= _release(HIGHEST_LEGACY_MODE_VERSION):
            raise ConfigurationError(
                f"framework_version {version!r} runs TensorFlow's legacy mode only, which script mode cannot "
                f"drive: use framework_version 1.11 or later, or pass image_uri"
            )
        if py_version == "py2" and version is not None and _release(version) > _release(HIGHEST_PY2_VERSION):
            raise ConfigurationError(
                f"py_version 'py2' exists up to TensorFlow {HIGHEST_PY2_VERSION}: use a py3* py_version with "
                f"{version}"
            )
        model_dir = framework_options.get("model_dir")
        if model_dir not in (None, False) and not isinstance(model_dir, str):
            raise ConfigurationError(
                f"framework_options['model_dir'] must be an s3:// or container path, or False, got {model_dir!r}"
            )

    def _check_distribution(self, distribution, *, version, py_version, instance_type, instance_count) -> None:
        script_mode.check_smdistributed(distribution, instance_type=instance_type, py_version=py_version,
                                        version=version, dataparallel_versions=DATAPARALLEL_VERSIONS,
                                        title=self.title)
        if distribution.get("multi_worker_mirrored_strategy", {}).get("enabled", False):
            if version is not None and _release(version) < _release(LOWEST_MULTI_WORKER_MIRRORED_VERSION):
                raise ConfigurationError(
                    f"distribution 'multi_worker_mirrored_strategy' needs TensorFlow "
                    f"{LOWEST_MULTI_WORKER_MIRRORED_VERSION} or later: use framework_version "
                    f"{LOWEST_MULTI_WORKER_MIRRORED_VERSION} or later (got {version!r})"
                )
            clashing = sorted({"smdistributed", "parameter_server"} & set(distribution))
            if clashing:
                raise ConfigurationError(
                    f"distribution 'multi_worker_mirrored_strategy' cannot be combined with {', '.join(clashing)}"
                )

    def _extra_hyperparameters(self, distribution, **context):
        """SDK ``TensorFlow.hyperparameters``: the distribution's keys and ``model_dir``."""
        config = script_mode.distribution_hyperparameters(distribution, instance_type=context["instance_type"])
        model_dir = context["framework_options"].get("model_dir")
        if model_dir is False:
            return config
        if not model_dir:
            if config.get(script_mode.MPI_ENABLED, False):
                model_dir = MODEL_DIRECTORY
            elif context["output_path"]:
                model_dir = _s3_join(context["output_path"], context["job_name"], "model")
        if model_dir:
            config["model_dir"] = model_dir
        return config

    def hosting_environment(self, *, program, submit_directory, region,
                            container_log_level=script_mode.CONTAINER_LOG_LEVEL, model_server_workers=None):
        """SDK ``TensorFlowModel._get_container_env``: ``SAGEMAKER_TFS_NGINX_LOGLEVEL`` for a known
        log level, nothing else (the inference script is in the model archive, ``code/``)."""
        level = NGINX_LOG_LEVELS.get(container_log_level)
        return {NGINX_LOG_LEVEL: level} if level else {}


def _s3_join(*parts: str) -> str:
    """SDK ``s3.s3_path_join``: parts joined by one ``/`` each (``s3://`` kept)."""
    joined = ""
    for part in (part for part in parts if part):
        if not joined:
            joined = part
        elif joined.endswith("/") or part.startswith("/"):
            joined = joined.rstrip("/") + "/" + part.lstrip("/")
        else:
            joined = f"{joined}/{part}"
    return joined.rstrip("/") if not joined.endswith("://") else joined


FRAMEWORK = TensorFlow(
    name="tensorflow",
    title="TensorFlow",
    base_job_name="tensorflow-training",
    default_version="2.19",
    distributions=("parameter_server", "mpi", "smdistributed", "multi_worker_mirrored_strategy"),
    framework_options=("model_dir",),
    metrics_since="1.15",
    code_in_model_since="",
)
