"""Local container contracts, one module per framework (``frameworks/<name>.py``).

Each module is what one family of SageMaker framework images does in a container, run locally:
the ECR repositories it claims, its version parsed from the image tag, the local environment
that runs it, the libraries its model servers' fork server preloads, and the default
``model_fn`` / ``input_fn`` / ``predict_fn`` / ``output_fn`` of its model server. A module
declares:

- ``NAME`` (the framework's name in ``smflow.frameworks``) and ``DISPLAY_NAME``;
- ``REPOSITORIES``: ECR repository names; ``IMAGE_FORMS``: how its image URIs look, for messages;
- ``version(tag) -> str | None``: the framework version the image tag names (None: by digest);
- ``environment(framework_version) -> EnvironmentSpec | None``: the local environment that runs
  this image version (``containers.environments.EnvironmentSpec``: pip install steps, version
  family, the version installed, a note when it is not the one asked for), built on first use;
  None = the runtime's own interpreter. It decides the version family and the
  nearest installable version, and raises ``containers.environments.UnsupportedImageError`` for a
  version it cannot run (the message says which run);
- ``python(version) -> str``: the interpreter that runs it, for modules whose ``environment``
  returns None (optional otherwise);
- ``FORK_SAFE: bool``: model servers may be forked from a process that preloaded
  ``PRELOADED_MODULES`` (else each model server is a fresh process of the environment's python);
- ``PRELOADED_MODULES`` and ``IMPORT_TIME_ENV_PREFIXES`` (see ``executors.hosting.fork_server``);
- ``serving_defaults() -> ServingDefaults`` (see ``containers.serving.handlers``);
- optional ``training_command(framework_version, hyperparameters) -> list[str]``: the arguments
  after the environment's python for the ``train`` step; absent = AWS's training toolkit,
  ``["-m", "sagemaker_training.cli.train"]``.

These modules are imported by the runtime and inside every model server, in the runtime's
interpreter and in every environment: they import their framework only inside functions, never
at module level.

Adding a framework is adding its module here: this package finds them by name.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from types import ModuleType


@functools.lru_cache(maxsize=None)
def all_frameworks() -> tuple[ModuleType, ...]:
    """Every framework module of this package, in name order."""
    return tuple(
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
        if not info.name.startswith("_")
    )


def get(name: str) -> ModuleType:
    """The framework module called ``name``. Raises KeyError for an unknown name."""
    for module in all_frameworks():
        if module.NAME == name:
            return module
    raise KeyError(name)


def for_repository(repository: str) -> ModuleType | None:
    """The framework module that claims the ECR repository ``repository``, or None."""
    for module in all_frameworks():
        if repository in module.REPOSITORIES:
            return module
    return None
