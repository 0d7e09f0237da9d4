"""Chainer: the conventions of the SageMaker Python SDK v2's ``sagemaker.chainer.Chainer``
estimator and ``ChainerModel``.

Images: ``data/chainer.json`` (``sagemaker-chainer``, the same image for training and
inference, CPU and GPU, py2 and py3). Chainer takes no ``distribution``: its estimator's own
arguments ``use_mpi``, ``num_processes``, ``process_slots_per_host`` and
``additional_mpi_options`` (passed here in ``framework_options``) become the HyperParameters
``sagemaker_use_mpi``, ``sagemaker_num_processes``, ``sagemaker_process_slots_per_host`` and
``sagemaker_additional_mpi_options``, each sent only when truthy (``Chainer.hyperparameters``).
The model's code is referenced by SAGEMAKER_SUBMIT_DIRECTORY. The default framework_version
is smflow's: 5.0 (the last), py3.
"""

from __future__ import annotations

from smflow.errors import ConfigurationError
from smflow.frameworks import Framework

OPTIONS = {  # framework_options key -> (HyperParameter, type)
    "use_mpi": ("sagemaker_use_mpi", bool),
    "num_processes": ("sagemaker_num_processes", int),
    "process_slots_per_host": ("sagemaker_process_slots_per_host", int),
    "additional_mpi_options": ("sagemaker_additional_mpi_options", str),
}


class Chainer(Framework):
    """SDK ``Chainer``: MPI settings as estimator arguments."""

    def _check_training(self, *, version, py_version, instance_type, instance_count, framework_options) -> None:
        for key, value in framework_options.items():
            kind = OPTIONS[key][1]
            if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
                raise ConfigurationError(
                    f"framework_options[{key!r}] must be a {kind.__name__}, got {value!r}"
                )
            if kind is int and value is not None and value < 1:
                raise ConfigurationError(f"framework_options[{key!r}] must be at least 1, got {value!r}")

    def _extra_hyperparameters(self, distribution, **context):
        options = context["framework_options"]
        return {hyperparameter: options[key] for key, (hyperparameter, _) in OPTIONS.items() if options.get(key)}


FRAMEWORK = Chainer(
    name="chainer",
    title="Chainer",
    base_job_name="sagemaker-chainer",
    default_version="5.0",
    preferred_py_version="py3",
    framework_options=tuple(OPTIONS),
)
