"""PyTorch's conventions (smflow.frameworks.pytorch), as the SDK v2's PyTorch estimator and model."""

from __future__ import annotations

import pytest

from smflow import frameworks
from smflow.errors import ConfigurationError

from .conftest import SCRIPT, decoded, training

PYTORCH = frameworks.get("pytorch")
DISTRIBUTED_KEYS = {"sagemaker_program", "sagemaker_submit_directory", "sagemaker_container_log_level",
                    "sagemaker_job_name", "sagemaker_region"}


def _extra(**arguments) -> dict:
    hyperparameters = decoded(PYTORCH.training_hyperparameters({"epochs": 2}, **SCRIPT, **arguments))
    assert hyperparameters.pop("epochs") == 2
    return {key: value for key, value in hyperparameters.items() if key not in DISTRIBUTED_KEYS}


def test_defaults_name_an_image_that_trains_and_one_that_serves():
    assert (PYTORCH.default_version, PYTORCH.default_py_version(), PYTORCH.base_job_name) == (
        "2.6.0", "py312", "pytorch-training")
    training_image = PYTORCH.image_uri("eu-west-1", instance_type="ml.g5.xlarge")
    assert training_image == "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.6.0-gpu-py312"
    assert PYTORCH.inference_image_uri(training_image, "eu-west-1") == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.6.0-gpu-py312")
    assert PYTORCH.inference_image_uri(training_image, "eu-west-1", instance_type="ml.c5.xlarge") == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312")


def test_a_training_version_without_inference_images_is_refused_for_create_model():
    training_image = PYTORCH.image_uri("us-east-1", "2.8", instance_type="ml.g5.xlarge")
    with pytest.raises(ConfigurationError, match=r"^framework_version '2\.8' is not available .* inference"):
        PYTORCH.inference_image_uri(training_image, "us-east-1")


@pytest.mark.parametrize(("distribution", "instance_type", "expected"), [
    ({"torch_distributed": {"enabled": True}}, "ml.p4d.24xlarge",
     {"sagemaker_torch_distributed_enabled": True, "sagemaker_instance_type": "ml.p4d.24xlarge"}),
    ({"pytorchddp": {"enabled": True}}, "ml.p4d.24xlarge",  # the SDK rewrites it to smdistributed data parallel
     {"sagemaker_distributed_dataparallel_enabled": True, "sagemaker_instance_type": "ml.p4d.24xlarge",
      "sagemaker_distributed_dataparallel_custom_mpi_options": ""}),
    ({"mpi": {"enabled": True}}, "ml.g5.xlarge",
     {"sagemaker_mpi_enabled": True, "sagemaker_mpi_custom_mpi_options": ""}),
    ({"mpi": {"enabled": True, "processes_per_host": 8, "custom_mpi_options": "-x A=1"}}, "ml.g5.xlarge",
     {"sagemaker_mpi_enabled": True, "sagemaker_mpi_num_of_processes_per_host": 8,
      "sagemaker_mpi_custom_mpi_options": "-x A=1"}),
    ({"smdistributed": {"modelparallel": {"enabled": True, "parameters": {"partitions": 2}}}}, "ml.p3.16xlarge",
     {"mp_parameters": {"partitions": 2}, "sagemaker_distributed_dataparallel_enabled": False,
      "sagemaker_instance_type": "ml.p3.16xlarge"}),
    ({"torch_distributed": {"enabled": False}}, "ml.g5.xlarge", {}),
    (None, "ml.g5.xlarge", {}),
])
def test_distribution_hyperparameters_are_the_sdk_estimators(distribution, instance_type, expected):
    assert _extra(distribution=distribution, instance_type=instance_type, instance_count=2) == expected


@pytest.mark.parametrize(("overrides", "message"), [
    ({"distribution": {"parameter_server": {"enabled": True}}},
     r"^distribution 'parameter_server' is not supported by the SageMaker PyTorch containers; use one of mpi, "
     r"smdistributed, pytorchddp, torch_distributed$"),
    ({"distribution": {"torch_distributed": {"enabled": True}}},
     r"^distribution 'torch_distributed' runs on GPU instances only"),
    ({"distribution": {"torch_distributed": {"enabled": True}}, "framework_version": "2.6",
      "instance_type": "ml.g5.xlarge"}, r"does not support PyTorch 2\.6 on ml\.g5\.xlarge: use framework_version "
                                         r"1\.13\.1, .*2\.6\.0"),
    ({"distribution": {"pytorchddp": {"enabled": True}, "smdistributed": {"dataparallel": {"enabled": True}}}},
     r"^distribution: use one of 'pytorchddp' and 'smdistributed', not both$"),
    ({"distribution": {"smdistributed": {"dataparallel": {"enabled": True}}}, "instance_type": "ml.p4d.24xlarge"},
     r"^distribution\['smdistributed'\]\['dataparallel'\] does not support PyTorch 2\.6\.0: use framework_version"),
    ({"distribution": {"smdistributed": {"dataparallel": {"enabled": True}, "modelparallel": {"enabled": True}}}},
     r"must hold one strategy: use one of dataparallel, modelparallel"),
    ({"distribution": {"mpi": {"enabled": True}}, "instance_type": "ml.trn1.32xlarge"},
     r"^instance_type 'ml\.trn1\.32xlarge' is not available .*\(no trn image\)"),  # neuron images: not here
    ({"distribution": {"mpi": True}}, r"^distribution\['mpi'\] must be a dict such as \{'enabled': True\}"),
    ({"distribution": {"torch_distributed": {"enabled": True},
                       "smdistributed": {"modelparallel": {"enabled": True}}}, "instance_type": "ml.p4d.24xlarge"},
     r"pytorch-smp\) images, which smflow's registry does not hold: pass image_uri$"),
    ({"framework_version": "9.9"}, r"^framework_version '9\.9' is not available for SageMaker PyTorch training "
                                   r"images; use one of .*2\.6\.0"),
    ({"framework_version": "2.6", "py_version": "py38"}, r"^py_version 'py38' is not available .*use one of py312$"),
    ({"framework_options": {"use_mpi": True}}, r"^framework_options 'use_mpi' not supported; PyTorch takes none$"),
])
def test_what_the_sdk_estimator_refuses(overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        PYTORCH.validate_training(**training(PYTORCH, **overrides))


def test_many_instances_and_supported_strategies_are_accepted():
    PYTORCH.validate_training(**training(PYTORCH, instance_count=16, instance_type="ml.p4d.24xlarge",
                                         distribution={"torch_distributed": {"enabled": True}}))
    PYTORCH.validate_training(**training(PYTORCH, framework_version="2.2.0", py_version="py310", instance_count=2,
                                         instance_type="ml.p4d.24xlarge", distribution={"pytorchddp": {"enabled": True}}))


def test_metrics_and_where_the_model_code_lives_follow_the_version():
    assert (PYTORCH.metrics_time_series("1.2.0"), PYTORCH.metrics_time_series("1.3.1")) == (None, True)
    assert (PYTORCH.code_in_model("1.1.0"), PYTORCH.code_in_model("1.2"), PYTORCH.code_in_model()) == (
        False, True, True)
    assert PYTORCH.hosting_environment(program="inference.py", submit_directory="/opt/ml/model/code",
                                       region="us-east-1", model_server_workers=2) == {
        "SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": "us-east-1",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}


def test_p4d_and_smdistributed_images_of_16_carry_the_cuda_suffix():
    assert PYTORCH.image_uri("us-east-1", "1.6.0", py_version="py3", instance_type="ml.p4d.24xlarge").endswith(
        ":1.6.0-gpu-py3-cu110-ubuntu18.04")
    assert PYTORCH.image_uri("us-east-1", "1.6", py_version="py36", instance_type="ml.p3.16xlarge",
                             distribution={"smdistributed": {"dataparallel": {"enabled": True}}}).endswith(
        ":1.6-gpu-py36-cu110-ubuntu18.04-v3")
    assert PYTORCH.image_uri("us-east-1", "1.6", py_version="py36", instance_type="ml.p3.16xlarge").endswith(
        ":1.6-gpu-py36")


def test_p2_instances_are_refused_from_113():
    assert PYTORCH.image_uri("us-east-1", "1.12", py_version="py38", instance_type="ml.p2.xlarge").endswith(
        ":1.12-gpu-py38")
    with pytest.raises(ConfigurationError, match=r"retired p2 instances for pytorch 1\.13 and later"):
        PYTORCH.image_uri("us-east-1", "1.13", py_version="py39", instance_type="ml.p2.xlarge")


def test_graviton_instances_take_the_graviton_inference_images():
    assert PYTORCH.image_uri("us-west-2", "2.4", py_version="py311", instance_type="ml.c7g.xlarge",
                             image_scope="inference") == (
        "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-inference-graviton:2.4-cpu-py311-ubuntu22.04-sagemaker")


def test_torch_distributed_launches_python_programs_only():
    with pytest.raises(ConfigurationError, match=r"entry_point must be a \.py file \(got 'train\.sh'\)"):
        PYTORCH.training_hyperparameters({}, **{**SCRIPT, "program": "train.sh"}, instance_type="ml.g5.xlarge",
                                         distribution={"torch_distributed": {"enabled": True}})
