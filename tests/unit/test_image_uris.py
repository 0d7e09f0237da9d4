"""Image URIs: the SDK's domains per partition, digest URIs, and their local environment."""

from __future__ import annotations

import sys

import pytest

from smflow.image_uris import parse_image_uri, partition_domain, sklearn_image_uri
from smflow.local.environments import UnsupportedImageError, resolve_environment

DIGEST = "sha256:" + "0123456789abcdef" * 4
US_EAST_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"


@pytest.mark.parametrize(("region", "uri"), [
    # as the SageMaker Python SDK's image_uris.retrieve("sklearn", region, "1.2-1")
    ("us-east-1", "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    ("cn-north-1", "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    ("us-gov-west-1", "414596584902.dkr.ecr.us-gov-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    ("us-iso-east-1", "833128469047.dkr.ecr.us-iso-east-1.c2s.ic.gov/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    ("us-isob-east-1", "281123927165.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/sagemaker-scikit-learn:1.2-1-cpu-py3"),
])
def test_image_uri_uses_the_partition_domain_and_parses_back(region, uri):
    assert sklearn_image_uri(region, "1.2-1") == uri
    ref = parse_image_uri(uri)
    assert (ref.region, ref.framework_version, ref.is_sklearn, ref.digest) == (region, "1.2-1", True, None)


def test_partition_domain_of_an_unknown_region_is_none():
    assert partition_domain("ap-southeast-9") == "amazonaws.com"  # the aws partition's pattern
    assert partition_domain("mars-1") is None


def test_digest_uri_is_a_scikit_learn_image():
    ref = parse_image_uri(f"{US_EAST_1}@{DIGEST}")

    assert ref.is_sklearn
    assert (ref.tag, ref.digest, ref.framework_version) == (None, DIGEST, None)


def test_tag_and_digest_together_are_parsed():
    ref = parse_image_uri(f"{US_EAST_1}:1.2-1-cpu-py3@{DIGEST}")

    assert (ref.tag, ref.digest, ref.framework_version) == ("1.2-1-cpu-py3", DIGEST, "1.2-1")


@pytest.mark.parametrize("uri", [
    f"{US_EAST_1}@sha256:" + "0" * 63,  # too short
    f"{US_EAST_1}@sha256:" + "G" * 64,  # not hex
    f"{US_EAST_1}@md5:" + "0" * 32,
    "683313688378.dkr.ecr.us-east-1.c2s.ic.gov/sagemaker-scikit-learn:1.2-1-cpu-py3",  # wrong domain
    "683313688378.dkr.ecr.us-east-1.example.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
    "python:3.11",
])
def test_malformed_or_foreign_uris_are_not_ecr_images(uri):
    assert parse_image_uri(uri) is None


def test_digest_uri_runs_in_the_local_scikit_learn_environment():
    environment = resolve_environment(f"{US_EAST_1}@{DIGEST}")

    assert (environment.name, environment.python) == ("sklearn", sys.executable)
    assert resolve_environment(sklearn_image_uri("us-isob-east-1")).name == "sklearn"


def test_other_repositories_by_digest_are_refused_with_a_reason():
    with pytest.raises(UnsupportedImageError, match="only SageMaker scikit-learn images"):
        resolve_environment(f"683313688378.dkr.ecr.us-east-1.amazonaws.com/my-image@{DIGEST}")
