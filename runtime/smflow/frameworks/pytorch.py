"""PyTorch: the conventions of the SageMaker Python SDK v2's ``sagemaker.pytorch.PyTorch``
estimator and ``PyTorchModel``.

Images: ``data/pytorch.json`` (``pytorch-training`` / ``pytorch-inference``, CPU and GPU; the
training images do not serve). As the SDK:

- ``distribution``: ``mpi``, ``smdistributed`` (``dataparallel`` or ``modelparallel``),
  ``pytorchddp`` (which the SDK rewrites to ``smdistributed.dataparallel`` before anything else,
  so it sends the data-parallel HyperParameters) and ``torch_distributed``
  (``sagemaker_torch_distributed_enabled`` and ``sagemaker_instance_type``; on GPU instances,
  only for the versions listed in ``TORCH_DISTRIBUTED_GPU_VERSIONS``, as
  ``fw_utils.validate_torch_distributed_distribution``).
- Not here: Trainium and Inferentia instances, for which the SDK switches to the separate
  ``pytorch-neuron`` image registry (``ml.trn*``/``ml.inf*`` are refused as having no image), and
  ``torch_distributed`` with ``smdistributed.modelparallel``, which the SDK runs in the
  ``pytorch-smp`` images (refused: pass image_uri).
- SageMaker metrics time series are turned on from 1.3; inference images from 1.2 load the
  model's code from the model archive (``PyTorchModel._is_mms_version``).
- The default framework_version is smflow's: 2.6.0, the newest with training and inference images.
"""

from __future__ import annotations

from smflow import image_uris
from smflow.errors import ConfigurationError
from smflow.frameworks import Framework, script_mode

# fw_utils.SM_DATAPARALLEL_SUPPORTED_FRAMEWORK_VERSIONS["pytorch"]
DATAPARALLEL_VERSIONS = (
    "1.6", "1.6.0", "1.7", "1.7.1", "1.8", "1.8.0", "1.8.1", "1.9", "1.9.0", "1.9.1", "1.10", "1.10.0",
    "1.10.2", "1.11", "1.11.0", "1.12", "1.12.0", "1.12.1", "1.13.1", "2.0.0", "2.0.1", "2.1.0", "2.1.2",
    "2.2.0",
)
# fw_utils.TORCH_DISTRIBUTED_GPU_SUPPORTED_FRAMEWORK_VERSIONS
TORCH_DISTRIBUTED_GPU_VERSIONS = (
    "1.13.1", "2.0.0", "2.0.1", "2.1.0", "2.1.2", "2.2.0", "2.3.0", "2.3.1", "2.4.1", "2.5.1", "2.6.0",
    "2.7.1", "2.8.0",
)
TORCH_DISTRIBUTED_ENABLED = "sagemaker_torch_distributed_enabled"


def _as_smdistributed(distribution: dict) -> dict:
    """``pytorchddp`` rewritten as the SDK's ``PyTorch.__init__`` does: ``smdistributed.dataparallel``."""
    if "pytorchddp" not in distribution:
        return distribution
    rewritten = {key: value for key, value in distribution.items() if key != "pytorchddp"}
    rewritten["smdistributed"] = {"dataparallel": distribution["pytorchddp"]}
    return rewritten


class PyTorch(Framework):
    """SDK ``PyTorch``: its distribution strategies and their rules."""

    def _check_distribution(self, distribution, *, version, py_version, instance_type, instance_count) -> None:
        if "pytorchddp" in distribution and "smdistributed" in distribution:
            raise ConfigurationError(
                "distribution: use one of 'pytorchddp' and 'smdistributed', not both"
            )
        distribution = _as_smdistributed(distribution)
        family = image_uris.instance_family(instance_type)
        torch_distributed = distribution.get("torch_distributed", {}).get("enabled", False)
        script_mode.check_smdistributed(distribution, instance_type=instance_type, py_version=py_version,
                                        version=version, dataparallel_versions=DATAPARALLEL_VERSIONS,
                                        title=self.title, p5_allowed=torch_distributed)
        modelparallel = distribution.get("smdistributed", {}).get("modelparallel")
        if "torch_distributed" in distribution and modelparallel is not None and modelparallel.get("enabled", True):
            raise ConfigurationError(
                "distribution 'torch_distributed' with smdistributed 'modelparallel' runs in the SageMaker model "
                "parallelism (pytorch-smp) images, which smflow's registry does not hold: pass image_uri"
            )
        if not torch_distributed:
            return
        if "py3" not in (py_version or ""):
            raise ConfigurationError(f"distribution 'torch_distributed' needs a py3* py_version, got {py_version!r}")
        if not (family[:1] in ("p", "g") or instance_type == "local_gpu"):
            raise ConfigurationError(
                f"distribution 'torch_distributed' runs on GPU instances only here: use an ml.p* or ml.g* "
                f"instance_type (got {instance_type!r})"
            )
        if version not in TORCH_DISTRIBUTED_GPU_VERSIONS:
            raise ConfigurationError(
                f"distribution 'torch_distributed' does not support PyTorch {version} on {instance_type}: "
                f"use framework_version {', '.join(TORCH_DISTRIBUTED_GPU_VERSIONS)}"
            )

    def _extra_hyperparameters(self, distribution, **context):
        """SDK ``PyTorch._pytorch_distribution_configuration`` (after the ``pytorchddp`` rewrite)."""
        distribution = _as_smdistributed(distribution)
        instance_type = context["instance_type"]
        torch_distributed = distribution.get("torch_distributed", {}).get("enabled", False)
        if torch_distributed and not str(context["program"]).endswith(".py"):
            raise ConfigurationError(
                f"distribution 'torch_distributed' launches Python programs only: entry_point must be a .py file "
                f"(got {context['program']!r})"
            )
        if not torch_distributed:
            return script_mode.distribution_hyperparameters(distribution, instance_type=instance_type)
        config = {}
        if "smdistributed" in distribution:
            config = script_mode.distribution_hyperparameters(distribution, instance_type=instance_type)
        config[TORCH_DISTRIBUTED_ENABLED] = True
        if instance_type is not None:
            config[script_mode.INSTANCE_TYPE] = instance_type
        return config


FRAMEWORK = PyTorch(
    name="pytorch",
    title="PyTorch",
    base_job_name="pytorch-training",
    default_version="2.6.0",
    preferred_py_version=None,
    distributions=("mpi", "smdistributed", "pytorchddp", "torch_distributed"),
    metrics_since="1.3",
    code_in_model_since="1.2",
)
