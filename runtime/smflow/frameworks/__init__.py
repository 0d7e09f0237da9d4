"""SageMaker's framework containers: one registry data file plus one module per framework.

``data/<name>.json`` is the framework's image registry, read by
:func:`smflow.image_uris.retrieve`; ``<name>.py`` (optional) defines ``FRAMEWORK``, the
:class:`Framework` holding its conventions (default version, base job name, instance limit). A
framework with a data file and no module gets the script-mode conventions every SageMaker Python
SDK ``Framework`` estimator shares (:mod:`smflow.frameworks.script_mode`), so ``get(name)``
works for every name in :func:`names`.

Example: ``frameworks.get(name).image_uri("us-east-1", instance_type="ml.m5.xlarge")`` is the
training image of the framework's default version, ``.training_hyperparameters(...)`` the
HyperParameters its SDK estimator sends, ``.hosting_environment(...)`` its model's Environment.

Only this module's ``DEFAULT_FRAMEWORK`` and the framework's own files name a framework.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from smflow import image_uris
from smflow.errors import ConfigurationError
from smflow.frameworks import script_mode

DEFAULT_FRAMEWORK = "sklearn"


@dataclass(frozen=True)
class Framework:
    """A SageMaker framework container family and the conventions of its SDK estimator.

    Attributes:
        name: the registry name (``"pytorch"``, ``"xgboost"``, ...), as ``retrieve`` takes it.
        default_version: the framework_version used when none is given; None lets
            :func:`smflow.image_uris.retrieve` choose (the registry's latest).
        default_py_version: the py_version used when none is given (SDK estimator default).
        base_job_name: the job name prefix when none is given (SDK ``base_name_from_image``:
            the training image's repository name).
        max_instance_count: the most instances one training job may use; None = no limit.
        title: the framework's name in messages (``"PyTorch"``).
    """

    name: str
    base_job_name: str
    title: str
    default_version: str | None = None
    default_py_version: str | None = None
    max_instance_count: int | None = None

    def image_uri(
        self,
        region: str,
        version: str | None = None,
        *,
        instance_type: str | None = None,
        py_version: str | None = None,
        image_scope: str = "training",
    ) -> str:
        """The framework's image for ``region`` (:func:`smflow.image_uris.retrieve` with this
        framework's default version and py_version).

        Raises:
            ConfigurationError: no such image; the message names the argument
                (``framework_version`` for the version) and the values allowed.
        """
        try:
            return image_uris.retrieve(
                self.name,
                region,
                version or self.default_version,
                py_version or self.default_py_version,
                instance_type,
                image_scope,
            )
        except image_uris.ImageArgumentError as error:
            if error.argument != "version":
                raise
            raise error.renamed("framework_version") from None

    def check_instance_count(self, instance_count: int) -> None:
        """Raises ConfigurationError, naming ``instance_count``, when it exceeds
        :attr:`max_instance_count`."""
        limit = self.max_instance_count
        if limit is not None and instance_count > limit:
            if limit == 1:
                raise ConfigurationError(
                    f"instance_count must be 1: {self.title} trains on a single instance (got {instance_count})"
                )
            raise ConfigurationError(
                f"instance_count must be at most {limit}: {self.title} trains on up to {limit} instances "
                f"(got {instance_count})"
            )

    def training_hyperparameters(
        self,
        hyperparameters: Mapping[str, Any] | None,
        *,
        program: str,
        submit_directory: str,
        region: str,
        job_name: str,
        container_log_level: int = script_mode.CONTAINER_LOG_LEVEL,
    ) -> dict[str, str]:
        """The HyperParameters of a script-mode training job
        (:func:`smflow.frameworks.script_mode.script_mode_hyperparameters`)."""
        return script_mode.script_mode_hyperparameters(
            hyperparameters,
            program=program,
            submit_directory=submit_directory,
            region=region,
            job_name=job_name,
            container_log_level=container_log_level,
        )

    def hosting_environment(
        self,
        *,
        program: str,
        submit_directory: str,
        region: str,
        container_log_level: int = script_mode.CONTAINER_LOG_LEVEL,
    ) -> dict[str, str]:
        """The container Environment of a model served by this framework's image
        (:func:`smflow.frameworks.script_mode.hosting_environment`)."""
        return script_mode.hosting_environment(
            program=program, submit_directory=submit_directory, region=region, container_log_level=container_log_level
        )


def names() -> tuple[str, ...]:
    """The frameworks that have a registry data file, sorted."""
    return image_uris.registry_names()


@lru_cache(maxsize=None)
def get(name: str) -> Framework:
    """The framework called ``name``: its module's ``FRAMEWORK``, or the generic script-mode
    conventions for a framework that has a data file only.

    Raises:
        ConfigurationError: ``name`` has no registry data file; names ``framework`` and the
            frameworks available.
    """
    if name not in names():
        raise ConfigurationError(
            f"framework {name!r} is not supported: use one of {', '.join(names())} or pass image_uri"
        )
    try:
        module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name.replace('-', '_')}":
            raise
        return _generic(name)
    return module.FRAMEWORK


def _generic(name: str) -> Framework:
    """A framework known by its data file only; its base job name is the repository of its
    training images when they share one (as the SDK's ``base_name_from_image``), else ``name``."""
    config = image_uris.config_for_framework(name)
    repositories = {entry["repository"] for _, _, entry in _images(config, "training")}
    return Framework(name=name, base_job_name=repositories.pop() if len(repositories) == 1 else name, title=name)


def for_image(image_uri: str) -> tuple[Framework, str | None] | None:
    """The framework whose registry lists ``image_uri``'s repository, and the version its tag
    starts with (``(xgboost, "1.7-1")`` for ``.../sagemaker-xgboost:1.7-1``; an alias as the tag
    names it). The version is None for an image named by digest only or by a tag naming no
    version of the registry. None for any other image."""
    ref = image_uris.parse_image_uri(image_uri)
    if ref is None:
        return None
    for name in names():
        prefixes = _tag_prefixes(name)
        if ref.repository in prefixes:
            tag = ref.tag or ""
            matches = [(prefix, version) for prefix, version in prefixes[ref.repository]
                       if tag == prefix or tag.startswith(f"{prefix}-")]
            return get(name), max(matches, key=lambda match: len(match[0]))[1] if matches else None
    return None


@lru_cache(maxsize=None)
def _tag_prefixes(name: str) -> dict[str, list[tuple[str, str]]]:
    """Repository -> [(tag prefix, version)] over every scope, version and alias of a registry."""
    prefixes: dict[str, list[tuple[str, str]]] = {}
    for scope_config, version, entry in _images(image_uris.config_for_framework(name)):
        listed = prefixes.setdefault(entry["repository"], [])
        listed.append((entry.get("tag_prefix", version), version))
        aliases = scope_config.get("version_aliases", {})
        listed.extend((alias, alias) for alias, target in aliases.items() if target == version)
    return prefixes


def _images(config: dict, scope: str | None = None) -> Iterator[tuple[dict, str, dict]]:
    """(scope part, version, image entry) of every image of a registry, or of one scope's."""
    scopes = [s for s in image_uris.image_scopes(config) if scope in (None, s)]
    parts = ([config] if scopes else []) if "scope" in config else [config[s] for s in scopes]
    for part in parts:
        for version, version_config in part["versions"].items():
            entries = [version_config] if "repository" in version_config else list(version_config.values())
            for entry in entries:
                if isinstance(entry, dict) and "repository" in entry:
                    yield part, version, entry
