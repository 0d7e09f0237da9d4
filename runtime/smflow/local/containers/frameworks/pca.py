"""Amazon SageMaker's built-in PCA algorithm (image repository ``pca``), run locally.

- Images: any region's ``pca`` repository (``<account>.dkr.ecr.<region>.amazonaws.com/pca:1``,
  as ``sagemaker.image_uris.retrieve("pca", region)`` names it), by tag or by digest.
- Environment: this Python interpreter (the emulation needs NumPy only).
- Training: :mod:`smflow.local.containers.algorithms.pca` (hyperparameters, data formats and
  model file as AWS documents them), run by :mod:`smflow.local.containers.algorithms.train`
  instead of the training toolkit.
- Serving: no user script; ``/invocations`` answers as AWS's container
  (:mod:`smflow.local.containers.algorithms.serving`). Model servers fork from a process with
  NumPy imported.
"""

from __future__ import annotations

from smflow.local.containers.algorithms import container

NAME = "pca"
DISPLAY_NAME = "PCA (built-in algorithm)"
REPOSITORIES = ("pca",)
IMAGE_FORMS = ("<account>.dkr.ecr.<region>.amazonaws.com/pca:1",)
PRELOADED_MODULES = container.preloaded_modules("pca")
IMPORT_TIME_ENV_PREFIXES = container.IMPORT_TIME_ENV_PREFIXES
FORK_SAFE = container.FORK_SAFE

version, environment, python, training_command, serving_defaults = container.module_functions(NAME)
