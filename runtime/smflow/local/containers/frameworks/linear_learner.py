"""Amazon SageMaker's built-in Linear Learner algorithm (image repository ``linear-learner``), run locally.

- Images: any region's ``linear-learner`` repository (``<account>.dkr.ecr.<region>.amazonaws.com/linear-learner:1``,
  as ``sagemaker.image_uris.retrieve("linear-learner", region)`` names it), by tag or by digest.
- Environment: this Python interpreter (the emulation needs NumPy only).
- Training: :mod:`smflow.local.containers.algorithms.linear_learner` (hyperparameters, data formats and
  model file as AWS documents them), run by :mod:`smflow.local.containers.algorithms.train`
  instead of the training toolkit.
- Serving: no user script; ``/invocations`` answers as AWS's container
  (:mod:`smflow.local.containers.algorithms.serving`). Model servers fork from a process with
  NumPy imported.
"""

from __future__ import annotations

import sys

from smflow.local.containers.algorithms import container
from smflow.local.containers.serving.handlers import ServingDefaults

NAME = "linear-learner"
DISPLAY_NAME = "Linear Learner (built-in algorithm)"
REPOSITORIES = ("linear-learner",)
IMAGE_FORMS = ("<account>.dkr.ecr.<region>.amazonaws.com/linear-learner:1",)
PRELOADED_MODULES = ("numpy", "smflow.local.containers.algorithms.serving", "smflow.local.containers.algorithms.linear_learner")
IMPORT_TIME_ENV_PREFIXES = ("OMP_", "OPENBLAS_", "GOTO", "MKL_", "BLIS_", "VECLIB_", "NPY_", "NUMPY_")
FORK_SAFE = True


def version(tag: str | None) -> str | None:
    """The image tag (``"1"``; AWS publishes this one version), None for an image by digest."""
    return tag or None


def environment(framework_version: str | None) -> None:
    """None: the runtime's own interpreter runs the emulation (every version)."""
    return None


def python(framework_version: str | None) -> str:
    """The interpreter that runs the image: this one."""
    return sys.executable


def training_command(framework_version: str | None, hyperparameters: dict[str, str]) -> list[str]:
    """The emulation's ``train`` (the hyperparameters are read from hyperparameters.json)."""
    return container.training_command(NAME)


def serving_defaults() -> ServingDefaults:
    """A model server that answers without an entry point, as AWS's Linear Learner container."""
    return container.serving_defaults(NAME)
