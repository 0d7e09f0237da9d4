"""Amazon SageMaker's built-in K-Means algorithm (image repository ``kmeans``), run locally.

- Images: any region's ``kmeans`` repository (``<account>.dkr.ecr.<region>.amazonaws.com/kmeans:1``,
  as ``sagemaker.image_uris.retrieve("kmeans", region)`` names it), by tag or by digest.
- Environment: this Python interpreter (the emulation needs NumPy only).
- Training: :mod:`smflow.local.containers.algorithms.kmeans` (hyperparameters, data formats and
  model file as AWS documents them), run by :mod:`smflow.local.containers.algorithms.train`
  instead of the training toolkit.
- Serving: no user script; ``/invocations`` answers as AWS's container
  (:mod:`smflow.local.containers.algorithms.serving`). Model servers fork from a process with
  NumPy imported.
"""

from __future__ import annotations

from smflow.local.containers.algorithms import container

NAME = "kmeans"
DISPLAY_NAME = "K-Means (built-in algorithm)"
REPOSITORIES = ("kmeans",)
IMAGE_FORMS = ("<account>.dkr.ecr.<region>.amazonaws.com/kmeans:1",)
PRELOADED_MODULES = container.preloaded_modules("kmeans")
IMPORT_TIME_ENV_PREFIXES = container.IMPORT_TIME_ENV_PREFIXES
FORK_SAFE = container.FORK_SAFE

version, environment, python, training_command, serving_defaults = container.module_functions(NAME)
