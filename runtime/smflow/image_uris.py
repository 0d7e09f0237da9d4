"""Image URIs of the SageMaker scikit-learn framework containers.

Follows the SageMaker Python SDK's ``sagemaker.image_uris.retrieve("sklearn", ...)``: the image
is ``<registry>.dkr.ecr.<region>.<domain>/sagemaker-scikit-learn:<version>-cpu-py3`` where the
registry account depends on the region (SDK ``image_uri_config/sklearn.json``; the same accounts
for every version and for training and inference) and the domain is the DNS suffix of the
region's partition, as the SDK takes it from botocore (``amazonaws.com``, ``amazonaws.com.cn``,
``c2s.ic.gov`` for us-iso-*, ``sc2s.sgov.gov`` for us-isob-*). Images may also be named by digest
(``.../sagemaker-scikit-learn@sha256:<64 hex>``), which SageMaker accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import botocore.loaders

from smflow.errors import ConfigurationError

SKLEARN_REPOSITORY = "sagemaker-scikit-learn"
SKLEARN_VERSIONS = ("0.20.0", "0.23-1", "1.0-1", "1.2-1")
DEFAULT_SKLEARN_VERSION = "1.2-1"

# Region -> ECR registry account of the scikit-learn containers (SDK image_uri_config/sklearn.json).
SKLEARN_REGISTRIES: dict[str, str] = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "me-south-1": "801668240914",
    "me-central-1": "272398656194",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-west-1": "414596584902",
    "us-gov-east-1": "237065988967",
    "us-iso-east-1": "833128469047",
    "us-isob-east-1": "281123927165",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}

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
    def is_sklearn(self) -> bool:
        return self.repository == SKLEARN_REPOSITORY

    @property
    def framework_version(self) -> str | None:
        """``"1.2-1"`` for tag ``1.2-1-cpu-py3``; None when the tag does not follow that form or
        the image is named by digest only."""
        if not self.tag:
            return None
        match = re.match(r"^(?P<version>.+?)-cpu-py3$", self.tag)
        return match.group("version") if match else None


def _domain(region: str) -> str:
    return partition_domain(region) or "amazonaws.com"


def sklearn_image_uri(region: str, framework_version: str = DEFAULT_SKLEARN_VERSION) -> str:
    """The scikit-learn container image for ``region`` and ``framework_version``.

    Example: ``sklearn_image_uri("us-east-1", "1.2-1")`` ->
    ``683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3``.

    Raises:
        ConfigurationError: unknown region or version (the message lists the valid ones).
    """
    if framework_version not in SKLEARN_VERSIONS:
        raise ConfigurationError(
            f"framework_version {framework_version!r} is not a SageMaker scikit-learn version; "
            f"use one of {', '.join(SKLEARN_VERSIONS)}"
        )
    account = SKLEARN_REGISTRIES.get(region)
    if account is None:
        raise ConfigurationError(
            f"region {region!r} has no SageMaker scikit-learn image; set region_name to one of "
            f"{', '.join(sorted(SKLEARN_REGISTRIES))} or pass image_uri explicitly"
        )
    return (
        f"{account}.dkr.ecr.{region}.{_domain(region)}/{SKLEARN_REPOSITORY}:"
        f"{framework_version}-cpu-py3"
    )


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
