"""smflow.frameworks: the registry of frameworks, scikit-learn's conventions, the script-mode
conventions shared by every framework, and image -> framework."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smflow import frameworks, image_uris
from smflow.errors import ConfigurationError
from smflow.frameworks import script_mode

US_EAST_1 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"
DIGEST = "sha256:" + "0123456789abcdef" * 4
SCRIPT = {"program": "scikit_learn_iris.py", "submit_directory": "s3://b/job/source/sourcedir.tar.gz",
          "region": "us-east-1"}


@pytest.fixture
def toy_registry(tmp_path, monkeypatch):
    """A data directory holding sklearn's registry and ``toy.json``, a framework with no module."""
    def clear():
        for cached in (image_uris.registry_names, image_uris._load, frameworks.get, frameworks._tag_prefixes):
            cached.cache_clear()

    (tmp_path / "sklearn.json").write_text((image_uris.DATA_DIRECTORY / "sklearn.json").read_text())
    (tmp_path / "toy.json").write_text(json.dumps({
        "training": {"version_aliases": {"2.1": "2.1.0"}, "versions": {
            "2.0.1": {"processors": ["cpu", "gpu"], "py_versions": ["py310"], "repository": "toy-training",
                      "registries": {"us-east-1": "111122223333"}},
            "2.1.0": {"processors": ["cpu", "gpu"], "py_versions": ["py310"], "repository": "toy-training",
                      "registries": {"us-east-1": "111122223333"}}}},
        "inference": {"versions": {
            "2.1.0": {"processors": ["cpu"], "py_versions": ["py310"], "repository": "toy-inference",
                      "registries": {"us-east-1": "111122223333"}}}},
    }))
    monkeypatch.setattr(image_uris, "DATA_DIRECTORY", tmp_path)
    clear()
    yield
    clear()


def test_every_framework_with_a_registry_file_is_available():
    assert frameworks.DEFAULT_FRAMEWORK in frameworks.names()
    assert frameworks.names() == tuple(sorted(path.stem for path in image_uris.DATA_DIRECTORY.glob("*.json")))
    for name in frameworks.names():
        assert frameworks.get(name).name == name


def test_unknown_framework_names_the_argument_and_the_frameworks_available():
    with pytest.raises(ConfigurationError, match=r"^framework 'caffe' is not supported: use one of .*sklearn"):
        frameworks.get("caffe")


def test_sklearn_conventions_are_the_sdk_sklearn_estimator():
    sklearn = frameworks.get("sklearn")

    assert (sklearn.name, sklearn.default_version, sklearn.default_py_version()) == ("sklearn", "1.2-1", "py3")
    assert (sklearn.base_job_name, sklearn.max_instance_count) == ("sagemaker-scikit-learn", 1)


@pytest.mark.parametrize(("arguments", "uri"), [
    ({}, f"{US_EAST_1}:1.2-1-cpu-py3"),
    ({"version": "0.23-1"}, f"{US_EAST_1}:0.23-1-cpu-py3"),
    ({"version": "1.4-2", "instance_type": "ml.m5.large"}, f"{US_EAST_1}:1.4-2-cpu-py3"),
    ({"instance_type": "local", "image_scope": "inference"}, f"{US_EAST_1}:1.2-1-cpu-py3"),
    ({"py_version": "py3"}, f"{US_EAST_1}:1.2-1-cpu-py3"),
])
def test_sklearn_image_uri(arguments, uri):
    assert frameworks.get("sklearn").image_uri("us-east-1", **arguments) == uri


def test_sklearn_image_uri_errors_name_the_callers_arguments():
    sklearn = frameworks.get("sklearn")

    with pytest.raises(ConfigurationError, match=r"^framework_version '9\.9' is not available for SageMaker "
                                                 r"sklearn training images; use one of 0\.20\.0, "):
        sklearn.image_uri("us-east-1", "9.9")
    with pytest.raises(ConfigurationError, match=r"^framework_version '1\.4-2' .* inference images"):
        sklearn.image_uri("us-east-1", "1.4-2", image_scope="inference")
    with pytest.raises(ConfigurationError, match="region 'mars-1'"):
        sklearn.image_uri("mars-1")
    with pytest.raises(ConfigurationError, match="instance_type 'ml.g5.xlarge' .* processor cpu"):
        sklearn.image_uri("us-east-1", instance_type="ml.g5.xlarge")


def test_sklearn_trains_on_one_instance():
    sklearn = frameworks.get("sklearn")
    sklearn.check_instance_count(1)

    with pytest.raises(ConfigurationError,
                       match=r"^instance_count must be 1: scikit-learn trains on a single instance \(got 2\)$"):
        sklearn.check_instance_count(2)


def test_training_hyperparameters_are_json_encoded_like_the_sdk():
    encoded = frameworks.get("sklearn").training_hyperparameters(
        {"max_leaf_nodes": 30, "criterion": "gini", "lr": 0.1}, job_name="job", **SCRIPT)

    assert encoded == {
        "max_leaf_nodes": "30",
        "criterion": '"gini"',
        "lr": "0.1",
        "sagemaker_program": '"scikit_learn_iris.py"',
        "sagemaker_submit_directory": '"s3://b/job/source/sourcedir.tar.gz"',
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": '"job"',
        "sagemaker_region": '"us-east-1"',
    }


def test_hyperparameters_json_cannot_encode_are_named():
    with pytest.raises(ConfigurationError, match=r"hyperparameters\['alpha'\] cannot be sent to SageMaker"):
        script_mode.encode_hyperparameters({"alpha": np.float32(0.5)})
    assert script_mode.encode_hyperparameters(None) == {}


def test_hosting_environment_is_the_sdk_framework_model_environment():
    assert frameworks.get("sklearn").hosting_environment(**SCRIPT) == {
        "SAGEMAKER_PROGRAM": "scikit_learn_iris.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "s3://b/job/source/sourcedir.tar.gz",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": "us-east-1",
    }
    assert script_mode.hosting_environment(**SCRIPT, container_log_level=10)["SAGEMAKER_CONTAINER_LOG_LEVEL"] == "10"


def test_a_framework_with_a_registry_file_only_gets_the_script_mode_conventions(toy_registry):
    toy = frameworks.get("toy")

    assert frameworks.names() == ("sklearn", "toy")
    assert (toy.default_version, toy.default_py_version("2.1"), toy.max_instance_count) == (None, "py310", None)
    assert toy.base_job_name == "toy-training"  # the repository of its training images
    assert toy.image_uri("us-east-1", instance_type="ml.p3.2xlarge") == (
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/toy-training:2.1.0-gpu-py310")
    assert toy.image_uri("us-east-1", "2.1", instance_type="ml.m5.large", image_scope="inference") == (
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/toy-inference:2.1.0-cpu-py310")
    toy.check_instance_count(64)
    assert toy.training_hyperparameters({"epochs": 2}, job_name="j", **SCRIPT) == (
        script_mode.script_mode_hyperparameters({"epochs": 2}, job_name="j", **SCRIPT))
    assert toy.hosting_environment(**SCRIPT) == script_mode.hosting_environment(**SCRIPT)


@pytest.mark.parametrize(("uri", "version"), [
    (f"{US_EAST_1}:1.2-1-cpu-py3", "1.2-1"),
    (f"{US_EAST_1}:0.20.0-cpu-py3", "0.20.0"),
    (f"{US_EAST_1}:1.0-1-arm64-cpu-py3", "1.0-1"),
    (f"{US_EAST_1}:1.2-1-cpu-py3@{DIGEST}", "1.2-1"),
    (f"{US_EAST_1}@{DIGEST}", None),
    (f"{US_EAST_1}:9.9-cpu-py3", None),
    (f"{US_EAST_1}", None),
    ("281123927165.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/sagemaker-scikit-learn:1.2-1-cpu-py3", "1.2-1"),
])
def test_sklearn_images_are_found_with_their_version(uri, version):
    assert frameworks.for_image(uri) == (frameworks.get("sklearn"), version)


@pytest.mark.parametrize("uri", [
    f"683313688378.dkr.ecr.us-east-1.amazonaws.com/my-image@{DIGEST}",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/scikit-learn:1.2-1-cpu-py3",
    "python:3.11",
    "",
])
def test_other_images_are_no_framework(uri):
    assert frameworks.for_image(uri) is None


def test_images_of_a_framework_with_a_registry_file_only(toy_registry):
    toy = frameworks.get("toy")

    assert frameworks.for_image("111122223333.dkr.ecr.us-east-1.amazonaws.com/toy-inference:2.1.0-cpu-py310") == (
        toy, "2.1.0")
    assert frameworks.for_image("111122223333.dkr.ecr.us-east-1.amazonaws.com/toy-training:2.1-gpu-py310") == (
        toy, "2.1")


def test_the_interface_works_for_a_framework_with_a_registry_file_only(toy_registry):
    toy = frameworks.get("toy")

    toy.validate_training(framework_version="2.1", py_version=None, instance_type="ml.g5.xlarge", instance_count=8,
                          distribution=None, framework_options=None)
    for arguments, message in (
        ({"framework_version": "3.0"}, r"^framework_version '3\.0' is not available for SageMaker toy training "
                                       r"images; use one of 2\.0\.1, 2\.1\.0, 2\.1$"),
        ({"py_version": "py38"}, r"^py_version 'py38' is not available .*; use one of py310$"),
        ({"distribution": {"mpi": {"enabled": True}}}, r"^distribution 'mpi' is not supported .*toy takes no "),
        ({"framework_options": {"use_mpi": True}}, r"^framework_options 'use_mpi' not supported; toy takes none$"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            toy.validate_training(**{"framework_version": "2.1", "py_version": None, "instance_type": "ml.m5.large",
                                     "instance_count": 1, "distribution": None, "framework_options": None,
                                     **arguments})
    training_image = toy.image_uri("us-east-1", "2.1", instance_type="ml.g5.xlarge")
    assert toy.inference_image_uri(training_image, "us-east-1", instance_type="ml.m5.large") == (
        "111122223333.dkr.ecr.us-east-1.amazonaws.com/toy-inference:2.1.0-cpu-py310")  # its only version
    with pytest.raises(ConfigurationError, match=r"^instance_type is required: the training image is a gpu image "
                                                 r"and SageMaker toy 2\.1\.0 inference images .* have processor cpu"):
        toy.inference_image_uri(training_image, "us-east-1")  # the training image's processor is kept
    assert (toy.metrics_time_series("2.1"), toy.code_in_model("2.1"), toy.code_in_model(network_isolation=True)) == (
        None, False, True)
    assert toy.hosting_environment(**SCRIPT, model_server_workers=4)["SAGEMAKER_MODEL_SERVER_WORKERS"] == "4"
