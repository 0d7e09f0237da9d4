"""Image URIs of SageMaker's framework containers, from registry data files.

:func:`retrieve` follows the SageMaker Python SDK v2's ``sagemaker.image_uris.retrieve`` (its
signature, its choices and its errors) for the framework containers smflow knows: the image is
``<account>.dkr.ecr.<region>.<domain>/<repository>:<tag>``, with

- the account from the region's entry in the registry (SDK ``image_uri_config/<framework>.json``),
- the domain the DNS suffix of the region's partition, as the SDK takes it from botocore
  (``amazonaws.com``, ``amazonaws.com.cn``, ``c2s.ic.gov`` for us-iso-*, ``sc2s.sgov.gov`` for
  us-isob-*, ...),
- the tag ``<version or tag_prefix>-<processor>-<py_version>-<container_version>``, leaving out
  the parts the registry does not have (``1.2-1-cpu-py3``, ``1.13-gpu-py39``, ``1.7-1``).

The registries are data: ``smflow/frameworks/data/<framework>.json``, one file per framework, in
the SDK's format. A file either has one object per image scope (``"training"``,
``"inference"``, ``"inference_graviton"``) or a top-level ``"scope"`` list for images shared by
those scopes. Each scope (or the file) holds ``"versions"`` (version -> ``repository``,
``registries`` (region -> account), ``processors``, ``py_versions``, optional ``tag_prefix`` and
``container_version`` (processor -> suffix); a version without ``repository`` is keyed by py
version instead), optional ``"version_aliases"`` (alias -> version) and ``"processors"``. Two
additions keep the files short: a top-level ``"registries"`` is the table of every version that
has none, and ``"default_scope"`` is the scope taken when ``image_scope`` is None (the SDK does
this in code, in ``_get_final_image_scope``, for the frameworks whose training and inference
images are the same). What the SDK writes in code for some frameworks is data here too:
a scope's ``"instance_families"`` (the only families its images run on: the arm64 images whose
tags the SDK maps in ``_get_image_tag``), a file's ``"retired_instance_families"`` (family -> the
first version that refuses it: P2 in ``_validate_instance_deprecation``) and
``"distributed_container_versions"`` (tag -> CUDA suffix for ``ml.p4d.*`` and ``smdistributed``
jobs, ``_get_image_tag``); the images of ``<framework>-inference-graviton`` carry their
``-sagemaker`` suffix in ``container_version``.

Images may also be named by digest (``.../<repository>@sha256:<64 hex>``), which SageMaker accepts;
:func:`parse_image_uri` reads both forms back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import botocore.loaders

from smflow.errors import ConfigurationError

DATA_DIRECTORY = Path(__file__).parent / "frameworks" / "data"
# Amazon's built-in algorithms (``kmeans``, ``pca``, ...): the same format, one file each
# (SDK ``image_uri_config/<algorithm>.json``); see :mod:`smflow.algorithms`.
ALGORITHM_DATA_DIRECTORY = Path(__file__).parent / "algorithms" / "data"

# Instance families of AWS Graviton (arm64): they select the "inference_graviton" images
# (SDK sagemaker.fw_utils.GRAVITON_ALLOWED_TARGET_INSTANCE_FAMILY).
GRAVITON_FAMILIES = frozenset({"m6g", "m6gd", "c6g", "c6gd", "c6gn", "c7g", "r6g", "r6gd"})
GRAVITON_SCOPE = "inference_graviton"
# Instances whose GPU images of some versions carry a CUDA suffix, as do the images of any
# ``smdistributed`` job (SDK ``_should_auto_select_container_version``); the registry's
# ``distributed_container_versions`` maps the plain tag to the suffix.
DISTRIBUTED_FAMILY = "p4d"

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<domain>[a-z0-9.-]+)"
    r"/(?P<repository>[a-z0-9._/-]+)(?::(?P<tag>[A-Za-z0-9._-]+))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@lru_cache(maxsize=1)
def aws_partitions() -> tuple[dict, ...]:
    """AWS's partitions as botocore describes them (``partitions.json``: ``id``, ``regions``,
    ``regionRegex``, ``outputs.dnsSuffix``, ``outputs.dualStackDnsSuffix``)."""
    return tuple(botocore.loaders.create_loader().load_data("partitions")["partitions"])


def partition_domain(region: str) -> str | None:
    """The DNS suffix of ``region``'s partition (botocore ``partitions.json``: ``amazonaws.com``,
    ``amazonaws.com.cn``, ``c2s.ic.gov``, ``sc2s.sgov.gov``, ...); None for an unknown region."""
    partitions = aws_partitions()
    for partition in partitions:  # listed regions first, then the regions' patterns (as botocore)
        if region in partition.get("regions", {}):
            return partition["outputs"]["dnsSuffix"]
    for partition in partitions:
        if re.match(partition.get("regionRegex", r"(?!)"), region):
            return partition["outputs"]["dnsSuffix"]
    return None


@dataclass(frozen=True)
class ImageRef:
    """A parsed ECR image URI."""

    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None = None  # "sha256:<64 hex>" for an image named by digest

    @property
    def framework_version(self) -> str | None:
        """``"1.2-1"`` for tag ``1.2-1-cpu-py3``; None when the tag does not follow that form or
        the image is named by digest only."""
        if not self.tag:
            return None
        match = re.match(r"^(?P<version>.+?)-cpu-py3$", self.tag)
        return match.group("version") if match else None


def parse_image_uri(image_uri: str) -> ImageRef | None:
    """Parse an ECR image URI named by tag, by digest (``@sha256:<64 hex>``), by both or by
    neither; None when ``image_uri`` is not of the ECR form or its domain is not the one of its
    region's partition (see :func:`partition_domain`; any partition's for a region botocore does
    not know)."""
    match = _ECR_IMAGE.match(image_uri or "")
    if not match:
        return None
    domain, expected = match.group("domain"), partition_domain(match.group("region"))
    if domain != expected and (expected or domain not in {p["outputs"]["dnsSuffix"] for p in aws_partitions()}):
        return None
    return ImageRef(
        account=match.group("account"),
        region=match.group("region"),
        repository=match.group("repository"),
        tag=match.group("tag"),
        digest=match.group("digest"),
    )


class ImageArgumentError(ConfigurationError):
    """An argument of :func:`retrieve` names no image in the framework's registry (the SDK's
    ``ValueError("Unsupported <argument>: ...")``).

    Attributes:
        argument: the argument's name: ``"framework"``, ``"image_scope"``, ``"version"``,
            ``"py_version"``, ``"region"`` or ``"instance_type"``.
        value: the value given; None when the argument is required and was not given.
        allowed: the values the registry offers, in its order.
        images: the images looked in, e.g. ``"SageMaker <framework> 1.7-1 training images"``.
    """

    def __init__(self, argument: str, value: str | None, allowed, images: str, *, use: str = "use one of"):
        self.argument, self.value, self.allowed, self.images = argument, value, tuple(allowed), images
        self._use = use
        problem = f"{argument} is required" if value is None else f"{argument} {value!r} is not available"
        super().__init__(f"{problem} for {images}; {use} {', '.join(self.allowed)}")

    def renamed(self, argument: str) -> ImageArgumentError:
        """The same error naming the argument as the caller's API calls it (``framework_version``)."""
        return ImageArgumentError(argument, self.value, self.allowed, self.images, use=self._use)


@lru_cache(maxsize=1)
def registry_names() -> tuple[str, ...]:
    """The frameworks that have a registry data file (``frameworks/data/<name>.json``), sorted."""
    return tuple(sorted(path.stem for path in DATA_DIRECTORY.glob("*.json")))


@lru_cache(maxsize=1)
def algorithm_registry_names() -> tuple[str, ...]:
    """The built-in algorithms that have a registry data file (``algorithms/data/<name>.json``), sorted."""
    return tuple(sorted(path.stem for path in ALGORITHM_DATA_DIRECTORY.glob("*.json")))


@lru_cache(maxsize=None)
def _load(framework: str) -> dict:
    directory = DATA_DIRECTORY if framework in registry_names() else ALGORITHM_DATA_DIRECTORY
    return json.loads((directory / f"{framework}.json").read_text(encoding="utf-8"))


def config_for_framework(framework: str) -> dict:
    """The registry of ``framework`` (or of a built-in algorithm, as the SDK's ``retrieve``
    takes both): its data file, parsed (shared between calls: read only).

    Raises:
        ImageArgumentError: ``framework`` has no data file (names the frameworks and algorithms that have one).
    """
    if framework not in registry_names() and framework not in algorithm_registry_names():
        raise ImageArgumentError("framework", framework, registry_names() + algorithm_registry_names(),
                                 "SageMaker framework and algorithm images")
    return _load(framework)


def image_scopes(config: dict) -> tuple[str, ...]:
    """The image scopes of a registry: its ``"scope"`` list, or its keys that hold versions."""
    if "scope" in config:
        return tuple(config["scope"])
    return tuple(key for key, value in config.items() if isinstance(value, dict) and "versions" in value)


def registry_versions(framework: str, aliases: bool = True) -> tuple[str, ...]:
    """Every version of ``framework``'s images in its registry, in any scope (with the SDK's
    aliases such as ``"2.0"`` unless ``aliases`` is False), oldest first.

    Raises: ValueError for a framework without a registry."""
    config = config_for_framework(framework)
    found: set[str] = set()
    for scope in image_scopes(config):
        scoped = config if "versions" in config else config[scope]
        found.update(scoped["versions"])
        if aliases:
            found.update(scoped.get("version_aliases", {}))
    return tuple(sorted(found, key=lambda text: [int(part) for part in re.findall(r"\d+", text)]))


def instance_family(instance_type: str | None) -> str:
    """``"m5"`` for ``ml.m5.xlarge`` (or ``ml_m5``); ``""`` for None or any other form
    (SDK ``sagemaker.utils.get_instance_type_family``)."""
    match = re.match(r"^ml[._]([a-z\d-]+)\.?\w*$", instance_type) if isinstance(instance_type, str) else None
    return match.group(1) if match else ""


def retrieve(
    framework: str,
    region: str,
    version: str | None = None,
    py_version: str | None = None,
    instance_type: str | None = None,
    image_scope: str | None = None,
    distribution: Mapping[str, Any] | None = None,
) -> str:
    """The ECR URI of a SageMaker framework image (SDK ``sagemaker.image_uris.retrieve``).

    Example: ``retrieve("<framework>", "us-east-1", "1.2-1", "py3", "ml.m5.xlarge", "training")``
    -> ``<account>.dkr.ecr.us-east-1.amazonaws.com/<repository>:1.2-1-cpu-py3``.

    Chosen as the SDK chooses:

    - ``image_scope``: ``"training"``, ``"inference"`` or another scope of the registry; ignored
      when the registry has one scope; None takes the registry's ``default_scope``, or the first
      of its ``"scope"`` list when that is training and inference. An AWS Graviton
      ``instance_type`` (``ml.c7g.*``, ...) selects the ``"inference_graviton"`` images.
    - ``version``: a version of the scope or one of its ``version_aliases`` (the tag keeps the
      alias: ``"1.13"`` -> ``1.13-gpu-py39``); the only version when there is one; when None, the
      scope's ``"latest"`` alias or the higher of its first and last listed versions, which the
      SDK finds only when ``image_scope`` is given (or the registry has no scopes).
    - ``py_version``: required when the version has several, else the only one (or none).
    - ``instance_type`` -> processor: ``local`` -> cpu, ``local_gpu`` -> gpu, an instance family
      the registry names itself (``p3``), ``inf*`` -> inf, ``trn*`` -> trn, ``g*``/``p*`` -> gpu,
      any other ``ml.*`` -> cpu; required only when the version has images for several processors.
    - ``region`` -> the registry's account; the domain is the region's partition's DNS suffix.
    - ``distribution`` (the estimator's): with ``smdistributed``, as an ``ml.p4d.*`` instance
      type, it adds the CUDA suffix the registry's ``distributed_container_versions`` names.

    Raises:
        ImageArgumentError: (a ConfigurationError, so a ValueError) ``framework``,
            ``image_scope``, ``version``, ``py_version``, ``region`` or ``instance_type`` that
            the registry has no image for, or that it needs and was not given; the message names
            the argument and the values allowed.
        ConfigurationError: ``instance_type`` is not of the form ``ml.<family>.<size>``,
            ``local`` or ``local_gpu``, or is a Graviton instance for a framework without
            Graviton images.
    """
    config = config_for_framework(framework)
    family = instance_family(instance_type)
    if family in GRAVITON_FAMILIES:
        if GRAVITON_SCOPE not in image_scopes(config):
            raise ConfigurationError(
                f"instance_type {instance_type!r} is an AWS Graviton (arm64) instance and SageMaker "
                f"{framework} has no Graviton images; use an x86 instance type"
            )
        scope = GRAVITON_SCOPE
    else:
        scope = image_scope if image_scope is not None else config.get("default_scope")
    scope, scope_config = _scope(framework, config, scope)
    images = f"SageMaker {framework} {scope} images"

    version = _version(config, scope_config, version, image_scope, images)
    version_config = scope_config["versions"][scope_config.get("version_aliases", {}).get(version, version)]
    images = f"SageMaker {framework} {version} {scope} images"
    py_version = _py_version(version_config, py_version, images)
    version_config = version_config.get(py_version) or version_config
    registries = version_config.get("registries") or config.get("registries", {})
    if region not in registries:
        raise ImageArgumentError("region", region, registries, images)
    processors = scope_config.get("processors") or version_config.get("processors")
    processor = _processor(instance_type, processors, images)
    families = scope_config.get("instance_families")
    if families and family and family not in families:
        raise ImageArgumentError("instance_type", instance_type, families, images, use="use an instance family of")
    retired = config.get("retired_instance_families", {}).get(family)
    if retired and _version_key(version) >= _version_key(retired):
        raise ConfigurationError(
            f"instance_type {instance_type!r}: SageMaker retired {family} instances for {framework} {retired} "
            f"and later; use a current instance type (e.g. ml.g5.xlarge)"
        )

    parts = (
        version_config.get("tag_prefix", version),
        processor,
        py_version,
        (version_config.get("container_version") or {}).get(processor),
    )
    tag = "-".join(part for part in parts if part)
    if family == DISTRIBUTED_FAMILY or "smdistributed" in (distribution or {}):
        tag = "-".join(part for part in (tag, config.get("distributed_container_versions", {}).get(tag)) if part)
    domain = partition_domain(region) or "amazonaws.com"
    uri = f"{registries[region]}.dkr.ecr.{region}.{domain}/{version_config['repository']}"
    return f"{uri}:{tag}" if tag else uri


def _scope(framework: str, config: dict, scope: str | None) -> tuple[str, dict]:
    """The image scope and its part of the registry (SDK ``_config_for_framework_and_scope``)."""
    scopes = image_scopes(config)
    if len(scopes) == 1:
        scope = scopes[0]
    elif scope is None and "scope" in config and set(scopes) == {"training", "inference"}:
        scope = scopes[0]
    if scope not in scopes:
        raise ImageArgumentError("image_scope", scope, scopes, f"SageMaker {framework} images")
    return scope, config if "scope" in config else config[scope]


def _version(config: dict, scope_config: dict, version: str | None, image_scope: str | None, images: str) -> str:
    """The version asked for, validated (SDK ``_validate_version_and_set_if_needed``)."""
    versions, aliases = list(scope_config["versions"]), scope_config.get("version_aliases", {})
    if len(versions) == 1 and version not in aliases:
        return versions[0]
    if version is None:
        version = _latest_version(config, image_scope)
    if version not in versions and version not in aliases:
        raise ImageArgumentError("version", version, versions + list(aliases), images)
    return version


def _latest_version(config: dict, image_scope: str | None) -> str | None:
    """The version taken when none is given (SDK ``_fetch_latest_version_from_config``): the
    scope's ``"latest"`` alias, else the higher of the first and last versions listed; None
    when the registry has scopes and ``image_scope`` is None."""
    scoped = config.get(image_scope) if image_scope else None
    scoped = scoped if isinstance(scoped, dict) else {}
    if "latest" in scoped.get("version_aliases", {}):
        return scoped["version_aliases"]["latest"]
    if "versions" in config:
        listed = list(config["versions"])
        if len(listed) == 1:
            return listed[0]
        if "latest" in (listed[0], listed[-1]):
            return None
    elif "versions" in scoped:
        listed = list(scoped["versions"])
    else:
        return None
    first, last = listed[0], listed[-1]
    if first.endswith(".x") and last.endswith(".x"):  # "1.x": one image per major version
        return f"{max(int(first[:-2]), int(last[:-2]))}.x"
    return max(first, last, key=_version_key)


def _version_key(version: str) -> tuple[tuple[int, ...], int]:
    """Orders ``"1.2-1"`` (release 1.2, post-release 1) as PEP 440 does."""
    release, _, post = version.partition("-")
    numbers = [int(number) for number in release.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers), int(post) if post else -1


def _py_version(version_config: dict, py_version: str | None, images: str) -> str | None:
    """The Python version of the image (SDK ``_validate_py_version_and_set_if_needed``)."""
    available = version_config.get("py_versions") if "repository" in version_config else list(version_config)
    if not available:
        return None
    if py_version is None and len(available) == 1:
        return available[0]
    if py_version not in available:
        raise ImageArgumentError("py_version", py_version, available, images)
    return py_version


def _processor(instance_type: str | None, available: list[str] | None, images: str) -> str | None:
    """The processor part of the tag for ``instance_type`` (SDK ``_processor``)."""
    if not available:
        return None
    if not instance_type:
        if len(available) == 1:
            return available[0]
        raise ImageArgumentError("instance_type", None, available, images, use="use an instance type with processor")
    if instance_type.startswith("local"):
        processor = "cpu" if instance_type == "local" else "gpu"
    elif instance_type.startswith("neuron"):
        processor = "neuron"
    else:
        family = instance_family(instance_type)
        if not family:
            raise ConfigurationError(
                f"instance_type {instance_type!r} is not a SageMaker instance type: use ml.<family>.<size> "
                f"(e.g. ml.m5.xlarge), local or local_gpu"
            )
        if family in available:
            processor = family
        elif family.startswith(("inf", "trn")):
            processor = family[:3]
        elif family[0] in "gp":
            processor = "gpu"
        else:
            processor = "cpu"
    if processor not in available:
        raise ImageArgumentError(
            "instance_type", instance_type, available, f"{images} (no {processor} image)",
            use="use an instance type with processor",
        )
    return processor

