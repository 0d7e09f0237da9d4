"""Local container contracts, one module per framework (``frameworks/<name>.py``).

Each module is what one family of SageMaker framework images does in a container, run locally:
the ECR repositories it claims, its version parsed from the image tag, the local environment
that runs it, the libraries its model servers' fork server preloads, and the default
``model_fn`` / ``input_fn`` / ``predict_fn`` / ``output_fn`` of its model server. A module
declares:

- ``NAME`` (the framework's name in ``smflow.frameworks``) and ``DISPLAY_NAME``;
- ``REPOSITORIES``: ECR repository names; ``IMAGE_FORMS``: how its image URIs look, for messages;
- ``version(tag) -> str | None`` and ``python(version) -> str`` (the interpreter that runs it);
- ``PRELOADED_MODULES`` and ``IMPORT_TIME_ENV_PREFIXES`` (see ``executors.hosting.fork_server``);
- ``serving_defaults() -> ServingDefaults`` (see ``containers.serving.handlers``).

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
