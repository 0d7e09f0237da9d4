"""TensorFlow's conventions (smflow.frameworks.tensorflow), as the SDK v2's TensorFlow estimator and
TensorFlowModel."""

from __future__ import annotations

import pytest

from smflow import frameworks
from smflow.errors import ConfigurationError

from .conftest import JOB, SCRIPT, decoded, training

TENSORFLOW = frameworks.get("tensorflow")


def _hyperparameters(**arguments) -> dict:
    return decoded(TENSORFLOW.training_hyperparameters({}, **SCRIPT, **arguments))


@pytest.mark.parametrize("output_path", ["s3://bucket/out", "s3://bucket/out/"])
def test_model_dir_is_the_jobs_model_folder_under_output_path(output_path):
    assert _hyperparameters(output_path=output_path)["model_dir"] == f"s3://bucket/out/{JOB}/model"


def test_model_dir_under_mpi_is_the_container_model_directory_and_can_be_set_or_left_out():
    mpi = _hyperparameters(output_path="s3://b/o", distribution={"mpi": {"enabled": True}}, instance_count=2)
    assert (mpi["model_dir"], mpi["sagemaker_mpi_enabled"], mpi["sagemaker_mpi_custom_mpi_options"]) == (
        "/opt/ml/model", True, "")
    assert _hyperparameters(output_path="s3://b/o", framework_options={"model_dir": "s3://b/m"})["model_dir"] == "s3://b/m"
    assert "model_dir" not in _hyperparameters(output_path="s3://b/o", framework_options={"model_dir": False})


@pytest.mark.parametrize(("distribution", "expected"), [
    ({"parameter_server": {"enabled": True}}, {"sagemaker_parameter_server_enabled": True}),
    ({"multi_worker_mirrored_strategy": {"enabled": True}}, {"sagemaker_multi_worker_mirrored_strategy_enabled": True}),
    ({"smdistributed": {"dataparallel": {"enabled": True, "custom_mpi_options": "-v"}}},
     {"sagemaker_distributed_dataparallel_enabled": True, "sagemaker_instance_type": "ml.p4d.24xlarge",
      "sagemaker_distributed_dataparallel_custom_mpi_options": "-v"}),
])
def test_distribution_hyperparameters(distribution, expected):
    hyperparameters = _hyperparameters(output_path="s3://b/o", distribution=distribution,
                                       instance_type="ml.p4d.24xlarge", instance_count=2)
    assert {key: hyperparameters[key] for key in expected} == expected


@pytest.mark.parametrize(("overrides", "message"), [
    ({"framework_version": "1.10"}, r"^framework_version '1\.10' runs TensorFlow's legacy mode only"),
    ({"framework_version": "2.1", "py_version": "py2"}, r"^py_version 'py2' is not available .*2\.1 training images"),
    ({"framework_version": "2.8", "py_version": "py39",
      "distribution": {"multi_worker_mirrored_strategy": {"enabled": True}}}, r"needs TensorFlow 2\.9 or later"),
    ({"distribution": {"multi_worker_mirrored_strategy": {"enabled": True}, "parameter_server": {"enabled": True}}},
     r"cannot be combined with parameter_server"),
    ({"distribution": {"torch_distributed": {"enabled": True}}}, r"^distribution 'torch_distributed' is not supported"),
    ({"framework_version": "2.12", "py_version": "py310", "instance_type": "ml.p4d.24xlarge",
      "distribution": {"smdistributed": {"dataparallel": {"enabled": True}}}},
     r"does not support TensorFlow 2\.12: use framework_version 2\.3, .*2\.11\.0$"),
    ({"framework_options": {"model_dir": 3}}, r"^framework_options\['model_dir'\] must be"),
])
def test_what_the_sdk_estimator_refuses(overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        TENSORFLOW.validate_training(**training(TENSORFLOW, **overrides))


def test_serving_images_and_environment_are_tensorflow_servings():
    training_image = TENSORFLOW.image_uri("us-east-1", instance_type="ml.g5.xlarge")
    assert training_image == "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.19-gpu-py312"
    assert TENSORFLOW.inference_image_uri(training_image, "us-east-1") == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.19-gpu")
    environment = TENSORFLOW.hosting_environment(program="inference.py", submit_directory="/opt/ml/model/code",
                                                 region="us-east-1")
    assert environment == {"SAGEMAKER_TFS_NGINX_LOGLEVEL": "info"}
    assert TENSORFLOW.hosting_environment(program="p", submit_directory="d", region="r", container_log_level=40) == {
        "SAGEMAKER_TFS_NGINX_LOGLEVEL": "error"}
    assert TENSORFLOW.code_in_model("2.19") and TENSORFLOW.metrics_time_series("1.15") is True


def test_python_2_script_mode_images_are_their_own_repository():
    assert TENSORFLOW.image_uri("us-east-1", "1.13", py_version="py2", instance_type="ml.m5.xlarge") == (
        "520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow-scriptmode:1.13-cpu-py2")
    assert TENSORFLOW.image_uri("us-east-1", "1.13", py_version="py3", instance_type="ml.m5.xlarge") == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:1.13-cpu-py3")
