"""Image URIs: ``retrieve`` as the SDK's, its registry data, the SDK's domains per partition and digest URIs.
(Which local environment runs an image: tests/local/containers/test_environments.py.)"""

from __future__ import annotations

import functools
import json
import re

import pytest

from smflow import frameworks, image_uris
from smflow.errors import ConfigurationError
from smflow.image_uris import parse_image_uri, partition_domain

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
    assert image_uris.retrieve("sklearn", region, "1.2-1") == uri
    ref = parse_image_uri(uri)
    is_sklearn = frameworks.for_image(uri)[0].name == "sklearn"
    assert (ref.region, ref.framework_version, is_sklearn, ref.digest) == (region, "1.2-1", True, None)


def test_partition_domain_of_an_unknown_region_is_none():
    assert partition_domain("ap-southeast-9") == "amazonaws.com"  # the aws partition's pattern
    assert partition_domain("mars-1") is None


def test_digest_uri_is_a_scikit_learn_image():
    ref = parse_image_uri(f"{US_EAST_1}@{DIGEST}")

    assert frameworks.for_image(f"{US_EAST_1}@{DIGEST}") == (frameworks.get("sklearn"), None)
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


# ---------------------------------------------------------------- retrieve (SDK image_uris.retrieve)

REGISTRY = {  # the SDK's registry format, with aliases, processors, py versions, container versions
    "training": {
        "processors": ["cpu", "gpu"],
        "version_aliases": {"1.13": "1.13.1"},
        "versions": {
            "1.12.0": {"py_versions": ["py38"], "repository": "toy-training",
                       "registries": {"us-east-1": "111122223333", "cn-north-1": "444455556666"}},
            "1.13.1": {"py_versions": ["py39", "py310"], "repository": "toy-training",
                       "registries": {"us-east-1": "111122223333"}, "container_version": {"gpu": "cu117"}},
        },
    },
    "inference": {
        "processors": ["cpu", "gpu", "inf"],
        "version_aliases": {"latest": "1.12.0"},
        "versions": {
            "1.12.0": {"py_versions": ["py38"], "repository": "toy-inference",
                       "registries": {"us-east-1": "111122223333"}},
            "1.13.1": {"py_versions": ["py39"], "repository": "toy-inference",
                       "registries": {"us-east-1": "111122223333"}},
        },
    },
}
SHARED = {  # one image for training and inference; one version; no processor or py version in the tag
    "scope": ["training", "inference"],
    "versions": {"1.7-1": {"repository": "toy-shared", "registries": {"us-west-2": "777788889999"}}},
}
TOY = "111122223333.dkr.ecr.us-east-1.amazonaws.com/toy-training"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """Registry data files in a temporary directory: ``registry(name, config)`` writes one."""
    def clear():
        image_uris.registry_names.cache_clear()
        image_uris._load.cache_clear()

    def write(name, config):
        (tmp_path / f"{name}.json").write_text(json.dumps(config))
        clear()

    monkeypatch.setattr(image_uris, "DATA_DIRECTORY", tmp_path)
    write("toy", REGISTRY)
    write("shared", SHARED)
    yield write
    clear()


@pytest.mark.parametrize(("arguments", "uri"), [
    ({"version": "1.13.1", "py_version": "py39", "instance_type": "ml.m5.xlarge"}, f"{TOY}:1.13.1-cpu-py39"),
    ({"version": "1.13.1", "py_version": "py310", "instance_type": "ml.p3.2xlarge"}, f"{TOY}:1.13.1-gpu-py310-cu117"),
    ({"version": "1.13", "py_version": "py39", "instance_type": "ml.g5.xlarge"}, f"{TOY}:1.13-gpu-py39-cu117"),
    ({"version": "1.12.0", "instance_type": "local"}, f"{TOY}:1.12.0-cpu-py38"),  # the only py version
    ({"version": "1.12.0", "instance_type": "local_gpu"}, f"{TOY}:1.12.0-gpu-py38"),
    ({"py_version": "py39", "instance_type": "ml.c5.xlarge"}, f"{TOY}:1.13.1-cpu-py39"),  # the higher version
])
def test_retrieve_picks_version_py_version_and_processor_as_the_sdk(registry, arguments, uri):
    assert image_uris.retrieve("toy", "us-east-1", image_scope="training", **arguments) == uri


def test_retrieve_inference_images_and_their_latest_alias(registry):
    retrieve = functools.partial(image_uris.retrieve, "toy", "us-east-1", image_scope="inference")

    assert retrieve(instance_type="ml.inf1.xlarge") == (
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/toy-inference:1.12.0-inf-py38")
    assert retrieve("1.13.1", instance_type="ml.t2.medium").endswith("/toy-inference:1.13.1-cpu-py39")


def test_retrieve_from_a_registry_shared_by_training_and_inference(registry):
    uri = "777788889999.dkr.ecr.us-west-2.amazonaws.com/toy-shared:1.7-1"

    assert image_uris.retrieve("shared", "us-west-2") == uri
    assert image_uris.retrieve("shared", "us-west-2", "9.9", "py2", "ml.p3.2xlarge", "inference") == uri


@pytest.mark.parametrize(("arguments", "argument", "allowed"), [
    ({"version": "1.11"}, "version", ("1.12.0", "1.13.1", "1.13")),
    ({"version": "1.13.1", "instance_type": "ml.m5.xlarge"}, "py_version", ("py39", "py310")),
    ({"version": "1.13.1", "py_version": "py38", "instance_type": "ml.m5.xlarge"}, "py_version", ("py39", "py310")),
    ({"version": "1.12.0"}, "instance_type", ("cpu", "gpu")),
    ({"version": "1.12.0", "instance_type": "ml.inf1.xlarge"}, "instance_type", ("cpu", "gpu")),
    ({"version": "1.12.0", "instance_type": "ml.m5.xlarge", "image_scope": "eia"}, "image_scope",
     ("training", "inference")),
])
def test_retrieve_errors_name_the_argument_and_the_values_allowed(registry, arguments, argument, allowed):
    arguments = {"image_scope": "training", **arguments}
    with pytest.raises(image_uris.ImageArgumentError) as raised:
        image_uris.retrieve("toy", "us-east-1", **arguments)

    assert (raised.value.argument, raised.value.allowed) == (argument, allowed)
    assert str(raised.value).startswith(argument) and ", ".join(allowed) in str(raised.value)
    assert isinstance(raised.value, ConfigurationError) and isinstance(raised.value, ValueError)


def test_retrieve_needs_a_version_or_a_scope_to_find_the_latest(registry):
    with pytest.raises(ConfigurationError, match=r"^image_scope is required for SageMaker toy images; use one of "
                                                 r"training, inference$"):
        image_uris.retrieve("toy", "us-east-1", "1.12.0", instance_type="ml.m5.xlarge")


def test_retrieve_refuses_a_region_the_version_has_no_image_in(registry):
    assert image_uris.retrieve("toy", "cn-north-1", "1.12.0", instance_type="ml.m5.xlarge",
                               image_scope="training").startswith("444455556666.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    with pytest.raises(ConfigurationError, match=r"^region 'cn-north-1' is not available for SageMaker toy 1\.13\.1 "
                                                 r"training images; use one of us-east-1$"):
        image_uris.retrieve("toy", "cn-north-1", "1.13.1", "py39", "ml.m5.xlarge", "training")


@pytest.mark.parametrize("instance_type", ["m5.xlarge", "bogus", "ml."])
def test_retrieve_refuses_what_is_not_an_instance_type(registry, instance_type):
    with pytest.raises(ConfigurationError, match=rf"instance_type '{re.escape(instance_type)}' is not a SageMaker "
                                                 r"instance type: use ml\.<family>\.<size>"):
        image_uris.retrieve("toy", "us-east-1", "1.12.0", image_scope="training", instance_type=instance_type)


def test_graviton_instances_need_graviton_images(registry):
    with pytest.raises(ConfigurationError, match="'ml.c7g.xlarge' is an AWS Graviton .* SageMaker toy has no Graviton"):
        image_uris.retrieve("toy", "us-east-1", "1.12.0", image_scope="training", instance_type="ml.c7g.xlarge")


def test_unknown_framework_is_named_with_the_frameworks_that_have_a_registry(registry):
    # the frameworks' registries, then the built-in algorithms' (retrieve takes both, as the SDK's)
    with pytest.raises(image_uris.ImageArgumentError, match=r"^framework 'nope' is not available .*; use one of "
                                                            r"shared, toy, kmeans, linear-learner, pca$"):
        image_uris.retrieve("nope", "us-east-1")
    with pytest.raises(image_uris.ImageArgumentError, match="framework '../toy'"):
        image_uris.retrieve("../toy", "us-east-1")


# ---------------------------------------------------------------- scikit-learn's registry (data/sklearn.json)

SKLEARN_VERSIONS = ("0.20.0", "0.23-1", "1.0-1", "1.2-1", "1.4-2")


def test_sklearn_images_are_the_same_for_training_and_inference():
    for version in SKLEARN_VERSIONS[:-1]:
        uris = {
            image_uris.retrieve("sklearn", "eu-west-1", version, image_scope="inference"),
            image_uris.retrieve("sklearn", "eu-west-1", version, image_scope="training"),
            image_uris.retrieve("sklearn", "eu-west-1", version, "py3", "ml.m5.large"),  # default_scope: training
        }
        assert uris == {f"141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:{version}-cpu-py3"}


def test_sklearn_latest_version_is_found_for_a_scope_only():
    assert image_uris.retrieve("sklearn", "us-east-1", image_scope="training").endswith(":1.4-2-cpu-py3")
    assert image_uris.retrieve("sklearn", "us-east-1", image_scope="inference").endswith(":1.2-1-cpu-py3")
    with pytest.raises(ConfigurationError, match=r"^version is required for SageMaker sklearn training images; use "
                                                 r"one of 0\.20\.0, 0\.23-1, 1\.0-1, 1\.2-1, 1\.4-2$"):
        image_uris.retrieve("sklearn", "us-east-1")


@pytest.mark.parametrize(("arguments", "message"), [
    ({"version": "1.4-2", "image_scope": "inference"},
     r"^version '1\.4-2' is not available for SageMaker sklearn inference images; use one of 0\.20\.0, 0\.23-1, "
     r"1\.0-1, 1\.2-1$"),
    ({"version": "1.2-1", "instance_type": "ml.p3.2xlarge"},
     r"^instance_type 'ml\.p3\.2xlarge' is not available for SageMaker sklearn 1\.2-1 training images \(no gpu "
     r"image\); use an instance type with processor cpu$"),
    ({"version": "1.2-1", "py_version": "py2"},
     r"^py_version 'py2' is not available for SageMaker sklearn 1\.2-1 training images; use one of py3$"),
])
def test_sklearn_errors(arguments, message):
    with pytest.raises(ConfigurationError, match=message):
        image_uris.retrieve("sklearn", "us-east-1", **arguments)


def test_sklearn_on_graviton_is_the_arm64_image():
    arm64 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.0-1-arm64-cpu-py3"

    assert image_uris.retrieve("sklearn", "us-east-1", "1.2-1", instance_type="ml.c7g.xlarge") == arm64
    assert image_uris.retrieve("sklearn", "us-east-1", "1.0-1", image_scope="inference_graviton") == arm64
    with pytest.raises(image_uris.ImageArgumentError, match="instance_type .ml.m5.large.*instance family of m6g"):
        image_uris.retrieve("sklearn", "us-east-1", "1.0-1", instance_type="ml.m5.large",
                            image_scope="inference_graviton")
