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

from smflow.local.containers.algorithms import container

NAME = "linear-learner"
DISPLAY_NAME = "Linear Learner (built-in algorithm)"
REPOSITORIES = ("linear-learner",)
IMAGE_FORMS = ("<account>.dkr.ecr.<region>.amazonaws.com/linear-learner:1",)
PRELOADED_MODULES = container.preloaded_modules("linear_learner")
IMPORT_TIME_ENV_PREFIXES = container.IMPORT_TIME_ENV_PREFIXES
FORK_SAFE = container.FORK_SAFE

version, environment, python, training_command, serving_defaults = container.module_functions(NAME)
