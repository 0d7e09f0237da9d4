"""SageMaker's framework containers: one registry data file plus one module per framework.

``data/<name>.json`` is the framework's image registry, read by
:func:`smflow.image_uris.retrieve`; ``<name>.py`` (optional) defines ``FRAMEWORK``, the
:class:`Framework` holding the conventions of the SageMaker Python SDK v2's estimator and model
for it (default version, base job name, instance limit, distribution strategies, the
HyperParameters and Environment it sends). A framework with a data file and no module gets the
script-mode conventions every SDK ``Framework`` estimator shares
(:mod:`smflow.frameworks.script_mode`), so ``get(name)`` works for every name in :func:`names`.

The interface the client calls, for any framework::

    chosen = frameworks.get(name)
    chosen.validate_training(framework_version=..., py_version=..., instance_type=...,
                             instance_count=..., distribution=..., framework_options=...)
    chosen.image_uri(region, version, instance_type=..., py_version=..., distribution=...)
    chosen.training_hyperparameters(hyperparameters, program=..., submit_directory=..., region=...,
                                    job_name=..., output_path=..., instance_type=..., ...)
    chosen.hosting_environment(program=..., submit_directory=..., region=...)
    chosen.inference_image_uri(training_image_uri, region, instance_type=...)

Only this module's ``DEFAULT_FRAMEWORK`` and the framework's own files name a framework.
"""

from __future__ import annotations

import importlib
import re
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
    """A SageMaker framework container family and the conventions of its SDK estimator and model.

    Subclasses (in the framework's own module) add what that framework's SDK estimator adds:
    its distribution strategies and their checks, extra HyperParameters, extra Environment.

    Attributes:
        name: the registry name, as ``retrieve`` takes it.
        base_job_name: the job name prefix when none is given (SDK ``base_name_from_image``:
            the training image's repository name).
        title: the framework's name in messages.
        default_version: the framework_version used when none is given; None lets
            :func:`smflow.image_uris.retrieve` choose (the registry's latest).
        preferred_py_version: the py_version :meth:`default_py_version` takes when the version
            has it; None = the newest the version's training images have.
        max_instance_count: the most instances one training job may use; None = no limit.
        distributions: the ``distribution`` strategies (keys) the SDK estimator takes.
        framework_options: the estimator arguments beyond the common ones, passed in
            ``framework_options`` (none for most frameworks).
        metrics_since: the first framework_version for which the SDK estimator turns on
            ``EnableSageMakerMetricsTimeSeries``; None = it never does.
        code_in_model_since: the first framework_version whose inference images load the
            model's code from the model archive (``code/`` in model.tar.gz, SDK
            ``_is_mms_version``: the SDK repacks the model and sets SAGEMAKER_SUBMIT_DIRECTORY to
            ``/opt/ml/model/code``); None = never, ``""`` = every version.
        serves_with_training_image: the SDK's model of a trained estimator reuses the
            estimator's training image (its ``create_model`` passes ``image_uri``), so
            :meth:`inference_image_uri` returns the training image unchanged.
    """

    name: str
    base_job_name: str
    title: str
    default_version: str | None = None
    preferred_py_version: str | None = None
    max_instance_count: int | None = None
    distributions: tuple[str, ...] = ()
    framework_options: tuple[str, ...] = ()
    metrics_since: str | None = None
    code_in_model_since: str | None = None
    serves_with_training_image: bool = False

    # ------------------------------------------------------------------ images
    def image_uri(
        self,
        region: str,
        version: str | None = None,
        *,
        instance_type: str | None = None,
        py_version: str | None = None,
        image_scope: str = "training",
        distribution: Mapping[str, Any] | None = None,
    ) -> str:
        """The framework's image for ``region`` (:func:`smflow.image_uris.retrieve` with this
        framework's default version and :meth:`default_py_version`).

        Raises:
            ConfigurationError: no such image; the message names the argument
                (``framework_version`` for the version) and the values allowed.
        """
        version = version or self.default_version
        try:
            return image_uris.retrieve(
                self.name,
                region,
                version,
                py_version or self.default_py_version(version, image_scope),
                instance_type,
                image_scope,
                distribution=distribution,
            )
        except image_uris.ImageArgumentError as error:
            if error.argument != "version":
                raise
            raise error.renamed("framework_version") from None

    def default_py_version(self, framework_version: str | None = None, image_scope: str = "training") -> str | None:
        """The py_version taken when none is given for ``framework_version`` (default: the
        default version): :attr:`preferred_py_version` when the version's images have it, else
        the newest they have; None when the images name none or the version is unknown. (The
        SDK's deep-learning estimators require py_version; this is smflow's choice.)"""
        available = self._py_versions(framework_version or self.default_version, image_scope)
        if not available:
            return None
        if self.preferred_py_version in available:
            return self.preferred_py_version
        return max(available, key=_py_version_key)

    def inference_image_uri(self, training_image_uri: str, region: str, *, instance_type: str | None = None) -> str:
        """The inference image serving models trained with ``training_image_uri``: the same
        version and py_version (read from its tag) in this framework's inference images (SDK
        ``<Framework>Model.serving_image_uri``), or the training image itself for a framework
        that :attr:`serves_with_training_image`. Without ``instance_type`` the processor of the
        training image's tag is kept.

        Raises:
            ConfigurationError: the image is not one of this framework's, or its version has
                no inference image (names the versions that have one).
        """
        found = for_image(training_image_uri)
        if self.serves_with_training_image and found is not None and found[0].name == self.name:
            return training_image_uri
        if found is None or found[0].name != self.name or found[1] is None:
            raise ConfigurationError(
                f"image_uri {training_image_uri!r} is not a SageMaker {self.title} image with a version "
                f"tag; pass the inference image_uri"
            )
        version = found[1]
        rest = (image_uris.parse_image_uri(training_image_uri).tag or "")[len(version):].split("-")
        py_version = next((part for part in rest if re.fullmatch(r"py\d+", part)), None)
        processor = next((part for part in rest if part in ("cpu", "gpu")), None)
        if instance_type is not None or not processor:
            return self.image_uri(region, version, instance_type=instance_type, py_version=py_version,
                                  image_scope="inference")
        try:  # the training image's processor, as the SDK's local modes name it
            return self.image_uri(region, version, instance_type="local_gpu" if processor == "gpu" else "local",
                                  py_version=py_version, image_scope="inference")
        except image_uris.ImageArgumentError as error:
            if error.argument != "instance_type":
                raise
            raise ConfigurationError(
                f"instance_type is required: the training image is a {processor} image and {error.images} have "
                f"processor {', '.join(error.allowed)} only; pass the instance_type the model will run on"
            ) from None

    # ------------------------------------------------------------------ training
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

    def validate_training(
        self,
        *,
        framework_version: str | None,
        py_version: str | None,
        instance_type: str | None,
        instance_count: int,
        distribution: Mapping[str, Any] | None,
        framework_options: Mapping[str, Any] | None,
    ) -> None:
        """Refuse what the SDK estimator refuses, before anything is uploaded.

        ``framework_version``/``py_version`` None mean the defaults. Checks the version and the
        py_version against the training images, ``instance_count`` against
        :attr:`max_instance_count`, each ``distribution`` strategy against :attr:`distributions`
        and the framework's rules (:meth:`_check_distribution`), ``framework_options`` against
        :attr:`framework_options`, then the framework's own rules (:meth:`_check_training`).

        Raises:
            ConfigurationError: naming the argument and the values allowed.
        """
        version = framework_version or self.default_version
        versions = self._versions("training")
        if version is not None and version not in versions:
            raise ConfigurationError(
                f"framework_version {version!r} is not available for SageMaker {self.title} training images; "
                f"use one of {', '.join(versions)}"
            )
        py_version = py_version or self.default_py_version(version) or self.preferred_py_version
        available = self._py_versions(version, "training")
        if available and py_version not in available:
            raise ConfigurationError(
                f"py_version {py_version!r} is not available for SageMaker {self.title} {version} training images; "
                f"use one of {', '.join(available)}"
            )
        if instance_type is not None:
            self._check_instance_type(version, py_version, instance_type)
        self.check_instance_count(instance_count)
        distribution = dict(distribution or {})
        for strategy, settings in distribution.items():
            if strategy not in self.distributions:
                allowed = f"use one of {', '.join(self.distributions)}" if self.distributions else (
                    f"{self.title} takes no distribution")
                raise ConfigurationError(
                    f"distribution {strategy!r} is not supported by the SageMaker {self.title} containers; {allowed}"
                )
            if not isinstance(settings, Mapping):
                raise ConfigurationError(
                    f"distribution[{strategy!r}] must be a dict such as {{'enabled': True}}, got {settings!r}"
                )
        if distribution:
            self._check_distribution(distribution, version=version, py_version=py_version,
                                     instance_type=instance_type, instance_count=instance_count)
        unknown = sorted(set(framework_options or {}) - set(self.framework_options))
        if unknown:
            allowed = f"use {', '.join(self.framework_options)}" if self.framework_options else (
                f"{self.title} takes none")
            raise ConfigurationError(f"framework_options {', '.join(map(repr, unknown))} not supported; {allowed}")
        self._check_training(version=version, py_version=py_version, instance_type=instance_type,
                             instance_count=instance_count, framework_options=dict(framework_options or {}))

    def _check_instance_type(self, version: str | None, py_version: str | None, instance_type: str) -> None:
        """Raises ConfigurationError naming ``instance_type`` when the version's training images
        have no build for its processor (a GPU instance for a CPU-only framework)."""
        config = image_uris.config_for_framework(self.name)
        regions = list(config.get("registries") or {}) or ["us-east-1"]
        try:
            self.image_uri(regions[0], version, instance_type=instance_type, py_version=py_version)
        except image_uris.ImageArgumentError as error:
            if error.argument == "instance_type":
                raise
        except ConfigurationError as error:
            if "instance_type" in str(error):
                raise

    def _check_distribution(self, distribution: dict, *, version, py_version, instance_type, instance_count) -> None:
        """The framework's rules for ``distribution`` (strategies already known); raise
        ConfigurationError naming ``distribution``."""
        script_mode.check_smdistributed(distribution, instance_type=instance_type, py_version=py_version)

    def _check_training(self, *, version, py_version, instance_type, instance_count, framework_options) -> None:
        """The framework's own training rules (SDK estimator ``__init__``)."""

    def training_hyperparameters(
        self,
        hyperparameters: Mapping[str, Any] | None,
        *,
        program: str,
        submit_directory: str,
        region: str,
        job_name: str,
        output_path: str | None = None,
        instance_type: str | None = None,
        instance_count: int = 1,
        distribution: Mapping[str, Any] | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        framework_options: Mapping[str, Any] | None = None,
        container_log_level: int = script_mode.CONTAINER_LOG_LEVEL,
    ) -> dict[str, str]:
        """The HyperParameters of CreateTrainingJob as the framework's SDK estimator sends them,
        every value a JSON string: the user's, the script-mode ``sagemaker_*`` keys
        (:func:`smflow.frameworks.script_mode.script_mode_hyperparameters`), the distribution's
        keys and what the framework adds (:meth:`_extra_hyperparameters`).

        ``output_path`` is the job's S3OutputPath (``s3://bucket/prefix``).

        Raises:
            ConfigurationError: a user value JSON cannot encode, naming its key; a program the
                distribution cannot launch (the framework's rule).
        """
        encoded = script_mode.script_mode_hyperparameters(
            hyperparameters,
            program=program,
            submit_directory=submit_directory,
            region=region,
            job_name=job_name,
            container_log_level=container_log_level,
        )
        extra = self._extra_hyperparameters(
            dict(distribution or {}),
            program=program,
            job_name=job_name,
            output_path=output_path,
            instance_type=instance_type,
            instance_count=instance_count,
            framework_version=framework_version or self.default_version,
            framework_options=dict(framework_options or {}),
        )
        encoded.update(script_mode.encode_hyperparameters(extra))
        return encoded

    def _extra_hyperparameters(self, distribution: dict, **context: Any) -> dict[str, Any]:
        """The framework's HyperParameters beyond script mode's, not yet JSON-encoded (SDK
        ``Framework._distribution_configuration`` for the base class)."""
        return script_mode.distribution_hyperparameters(distribution, instance_type=context["instance_type"])

    def metrics_time_series(self, framework_version: str | None = None) -> bool | None:
        """``AlgorithmSpecification.EnableSageMakerMetricsTimeSeries`` as the SDK estimator sets
        it when the user does not: True from :attr:`metrics_since` on, else None (not sent)."""
        version = framework_version or self.default_version
        if self.metrics_since is None or version is None:
            return None
        return True if _release(version) >= _release(self.metrics_since) else None

    # ------------------------------------------------------------------ hosting
    def code_in_model(self, framework_version: str | None = None, *, network_isolation: bool = False) -> bool:
        """Whether the SDK's model has its code in the model archive (``code/`` in a repacked
        model.tar.gz, SAGEMAKER_SUBMIT_DIRECTORY ``/opt/ml/model/code``) rather than
        SAGEMAKER_SUBMIT_DIRECTORY naming the code's ``sourcedir.tar.gz``: for the versions from
        :attr:`code_in_model_since` on, and for any model with network isolation (SDK
        ``Model._script_mode_env_vars``; the models that serve with their training image repack
        then)."""
        version = framework_version or self.default_version
        if network_isolation:
            return True
        if self.code_in_model_since is None:
            return False
        return not self.code_in_model_since or (version is not None and _release(version) >= _release(
            self.code_in_model_since))

    def hosting_environment(
        self,
        *,
        program: str,
        submit_directory: str,
        region: str,
        container_log_level: int = script_mode.CONTAINER_LOG_LEVEL,
        model_server_workers: int | None = None,
    ) -> dict[str, str]:
        """The container Environment of a model served by this framework's inference image (SDK
        ``FrameworkModel.prepare_container_def``): ``SAGEMAKER_PROGRAM``,
        ``SAGEMAKER_SUBMIT_DIRECTORY``, ``SAGEMAKER_CONTAINER_LOG_LEVEL``, ``SAGEMAKER_REGION``
        and, when given, ``SAGEMAKER_MODEL_SERVER_WORKERS``."""
        env = script_mode.hosting_environment(
            program=program, submit_directory=submit_directory, region=region, container_log_level=container_log_level
        )
        if model_server_workers is not None:
            env[script_mode.MODEL_SERVER_WORKERS] = str(model_server_workers)
        return env

    # ------------------------------------------------------------------ registry
    def _versions(self, scope: str) -> list[str]:
        config = image_uris.config_for_framework(self.name)
        if scope not in image_uris.image_scopes(config):
            return []
        part = config if "scope" in config else config[scope]
        return list(part["versions"]) + list(part.get("version_aliases", {}))

    def _py_versions(self, version: str | None, scope: str) -> list[str]:
        if version is None or version not in self._versions(scope):
            return []
        config = image_uris.config_for_framework(self.name)
        part = config if "scope" in config else config[scope]
        entry = part["versions"][part.get("version_aliases", {}).get(version, version)]
        return list(entry.get("py_versions") or []) if "repository" in entry else list(entry)


def _py_version_key(py_version: str) -> tuple[int, int]:
    """``py310`` -> (3, 10), ``py3`` -> (3, -1): newest last."""
    digits = py_version[2:]
    return (int(digits[0]), int(digits[1:]) if digits[1:] else -1) if digits else (0, 0)


def _release(version: str) -> tuple[int, ...]:
    """``"1.13.1"`` -> (1, 13, 1); ``"1.2-1"`` -> (1, 2); trailing zeros dropped (PEP 440
    release comparison)."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("-")[0])]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


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
    starts with (``(<framework>, "1.7-1")`` for ``.../<repository>:1.7-1``; an alias as the tag
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
