"""Amazon SageMaker's built-in algorithms: their images, hyperparameters and the SDK's defaults.

An algorithm is data plus one module, as a framework is (:mod:`smflow.frameworks`):

- its registry, in the SageMaker Python SDK's ``image_uri_config`` format, with an
  ``"algorithm"`` section: ``algorithms/data/<name>.json`` (``kmeans``, ``pca``,
  ``linear-learner``); an algorithm whose image is a framework's (a framework's "built-in
  algorithm" mode runs the framework's own image without a script) keeps its ``"algorithm"``
  section in that framework's file, ``frameworks/data/<name>.json``;
- ``algorithms/<name>.py`` (``-`` as ``_``) when a rule ties hyperparameters together:
  ``check(hyperparameters)`` raising HyperparameterError (PCA's ``num_components`` <=
  ``feature_dim``); an algorithm without such rules is data only.

The ``"algorithm"`` section holds: ``title``; ``sdk_estimator`` (the SDK class whose requests
smflow's match: ``KMeans``, ``PCA``, ``LinearLearner``, or ``Estimator`` for an image trained
without a script); ``style`` (``"typed"``: each value converted to its type and written with
``str()``, lists as JSON, as ``sagemaker.amazon.hyperparameter.Hyperparameter.serialize_all``;
``"plain"``: ``str()`` of the value as given, as ``Estimator.set_hyperparameters``);
``required`` and ``required_when`` (``{name: {other: [values]}}``) as AWS's documentation of
the algorithm lists them; ``fixed`` (what the SDK's estimator always adds: KMeans's
``force_dense``); ``mini_batch_size`` (the default the SDK's ``fit`` sends when the record set is
known: ``min(default, max(1, records // instance_count))``; KMeans's ``fit`` sends none); ``record_set``
(trains on ``record_set`` channels: ``feature_dim`` comes from them, as the SDK's
``_prepare_for_training``); ``default_version``; ``hyperparameters``: every documented name ->
``type`` (int, float, bool, str, list), optional ``choices``, ``min``/``max`` (inclusive),
``auto`` (the value ``"auto"`` is accepted). Sources: AWS's algorithm pages ("K-Means
Hyperparameters", "PCA Hyperparameters", "Linear Learner Hyperparameters", and each framework
algorithm's page) and the SDK's ``sagemaker.amazon`` estimators.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from smflow import image_uris
from smflow.errors import ConfigurationError

RECORDIO_PROTOBUF = "application/x-recordio-protobuf"


class HyperparameterError(ConfigurationError):
    """A hyperparameter is missing, unknown or invalid for the algorithm; the message names it
    and what the algorithm accepts. ``name`` is the hyperparameter."""

    def __init__(self, algorithm: str, name: str, problem: str):
        self.algorithm, self.name = algorithm, name
        super().__init__(f"{algorithm} hyperparameter {name!r} {problem}")


@dataclass(frozen=True)
class Algorithm:
    """One built-in algorithm (see the module docstring for the fields' sources).

    Attributes:
        name: as ``algorithm=`` takes it and ``sagemaker.image_uris.retrieve`` names it.
        registry: the registry file holding its images (``name``, or the framework's).
    """

    name: str
    registry: str
    title: str
    sdk_estimator: str
    style: str
    hyperparameters: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...] = ()
    required_when: Mapping[str, Mapping[str, list]] = field(default_factory=dict)
    fixed: Mapping[str, str] = field(default_factory=dict)
    mini_batch_size: Mapping[str, Any] | None = None
    record_set: bool = False
    default_version: str | None = None

    def image_uri(self, region: str, version: str | None = None, *, instance_type: str | None = None) -> str:
        """The training and inference image for ``region`` (SDK ``image_uris.retrieve(<name>,
        region, version)``; ``version`` None: the algorithm's default).

        Raises: ImageArgumentError for a region or version without an image.
        """
        try:
            return image_uris.retrieve(self.registry, region, version or self.default_version,
                                       instance_type=instance_type, image_scope="training")
        except image_uris.ImageArgumentError as error:
            raise error.renamed("framework_version" if error.argument == "version" else error.argument) from None

    def training_hyperparameters(
        self,
        hyperparameters: Mapping[str, Any] | None,
        *,
        num_records: int | None = None,
        feature_dim: int | None = None,
        instance_count: int = 1,
    ) -> dict[str, str]:
        """The request's HyperParameters, as the SDK's estimator sends them: the user's
        (checked: known names, types, ranges, choices, required ones), ``feature_dim`` and
        ``mini_batch_size`` from the training record set when not given, the fixed ones.

        Raises:
            HyperparameterError: naming the hyperparameter and the fix.
        """
        given = {str(key): value for key, value in (hyperparameters or {}).items() if value is not None}
        if self.record_set and feature_dim is not None and "feature_dim" in self.hyperparameters:
            given.setdefault("feature_dim", feature_dim)
        defaults = self.mini_batch_size
        if defaults and "mini_batch_size" not in given and num_records is not None:
            given["mini_batch_size"] = min(defaults["default"], max(1, int(num_records / max(1, instance_count))))
        encoded = {name: self._encode(name, value) for name, value in given.items()}
        for name in self.required:
            if name not in encoded:
                raise HyperparameterError(self.title, name, self._missing_fix(name))
        for name, conditions in self.required_when.items():
            for other, values in conditions.items():
                if encoded.get(other) in values and name not in encoded:
                    raise HyperparameterError(self.title, name, f"is required when {other} is {encoded[other]!r}")
        module = _module(self.name)
        if module is not None and hasattr(module, "check"):
            module.check(encoded)
        return {**self.fixed, **encoded}

    def _missing_fix(self, name: str) -> str:
        if name == "feature_dim" and self.record_set:
            return "is required: pass it in hyperparameters, or train on record_set(...) channels, which carry it"
        if name == "mini_batch_size" and self.mini_batch_size:
            return "is required: pass it in hyperparameters, or train on record_set(...) channels (the default " \
                   f"is then min({self.mini_batch_size['default']}, records per instance), as the SDK's)"
        return "is required: pass it in hyperparameters"

    def _encode(self, name: str, value: Any) -> str:
        spec = self.hyperparameters.get(name)
        if spec is None:
            raise HyperparameterError(self.title, name, "is not a hyperparameter of the algorithm; its "
                                      f"hyperparameters are {', '.join(sorted(self.hyperparameters))}")
        kind = spec["type"]
        if spec.get("auto") and isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        typed = _convert(self.title, name, kind, value)
        if "choices" in spec:
            chosen = typed if kind == "list" else [typed]
            wrong = [item for item in chosen if item not in spec["choices"]]
            if wrong:
                raise HyperparameterError(self.title, name, f"must be one of {', '.join(map(str, spec['choices']))}"
                                          f", got {wrong[0]!r}")
        if kind in ("int", "float"):
            if "min" in spec and typed < spec["min"]:
                raise HyperparameterError(self.title, name, f"must be at least {spec['min']}, got {typed!r}")
            if "max" in spec and typed > spec["max"]:
                raise HyperparameterError(self.title, name, f"must be at most {spec['max']}, got {typed!r}")
        if self.style == "plain":
            return json.dumps(value) if isinstance(value, list) else str(value)
        if kind == "list":
            return json.dumps(typed)
        return str(typed)


def _convert(title: str, name: str, kind: str, value: Any):
    try:
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise ValueError
        if kind == "list":
            if isinstance(value, str):
                stripped = value.strip()
                return json.loads(stripped) if stripped.startswith("[") else [item.strip() for item in stripped.split(",")]
            return list(value)
        return str(value)
    except (TypeError, ValueError):
        article = {"int": "an integer", "float": "a number", "bool": "True or False", "list": "a list"}.get(kind, kind)
        raise HyperparameterError(title, name, f"must be {article}, got {value!r}") from None


def _module(name: str):
    module_name = f"{__name__}.{name.replace('-', '_')}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        return None


@lru_cache(maxsize=1)
def _sections() -> dict[str, tuple[str, dict]]:
    """Algorithm name -> (registry name, its ``"algorithm"`` section)."""
    found: dict[str, tuple[str, dict]] = {}
    for registry in image_uris.algorithm_registry_names() + image_uris.registry_names():
        section = image_uris.config_for_framework(registry).get("algorithm")
        if section is not None:
            found[registry] = (registry, section)
    return found


def names() -> tuple[str, ...]:
    """The built-in algorithms smflow knows, sorted."""
    return tuple(sorted(_sections()))


@lru_cache(maxsize=None)
def get(name: str) -> Algorithm:
    """The algorithm called ``name``.

    Raises:
        ConfigurationError: an unknown algorithm (names the known ones).
    """
    sections = _sections()
    if name not in sections:
        raise ConfigurationError(f"algorithm {name!r} is not supported: use one of {', '.join(names())}, "
                                 "or pass image_uri for another image")
    registry, section = sections[name]
    return Algorithm(
        name=name, registry=registry, title=section["title"], sdk_estimator=section["sdk_estimator"],
        style=section["style"], hyperparameters=section["hyperparameters"],
        required=tuple(section.get("required", ())), required_when=section.get("required_when", {}),
        fixed=section.get("fixed", {}), mini_batch_size=section.get("mini_batch_size"),
        record_set=bool(section.get("record_set")), default_version=section.get("default_version"),
    )


def for_image(image_uri: str) -> Algorithm | None:
    """The algorithm whose own registry lists ``image_uri``'s repository (``.../kmeans:1``);
    None for any other image (a framework's image is the framework's, even when it has an algorithm mode)."""
    ref = image_uris.parse_image_uri(image_uri)
    if ref is None:
        return None
    for name in image_uris.algorithm_registry_names():
        config = image_uris.config_for_framework(name)
        if any(entry.get("repository") == ref.repository for entry in config.get("versions", {}).values()):
            return get(name) if name in _sections() else None
    return None
