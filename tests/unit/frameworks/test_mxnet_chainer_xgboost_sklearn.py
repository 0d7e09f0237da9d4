"""MXNet's, Chainer's, XGBoost's and scikit-learn's conventions, as the SDK v2's estimators and models."""

from __future__ import annotations

import pytest

from smflow import frameworks
from smflow.errors import ConfigurationError

from .conftest import SCRIPT, decoded, training

MXNET, CHAINER, XGBOOST, SKLEARN = (frameworks.get(name) for name in ("mxnet", "chainer", "xgboost", "sklearn"))
SCRIPT_KEYS = {"sagemaker_program", "sagemaker_submit_directory", "sagemaker_container_log_level",
               "sagemaker_job_name", "sagemaker_region"}


def _extra(framework, **arguments) -> dict:
    hyperparameters = decoded(framework.training_hyperparameters({}, **SCRIPT, **arguments))
    assert SCRIPT_KEYS <= set(hyperparameters)
    return {key: value for key, value in hyperparameters.items() if key not in SCRIPT_KEYS}


def test_mxnet_sends_custom_mpi_options_only_when_set():
    assert _extra(MXNET, distribution={"mpi": {"enabled": True}}) == {"sagemaker_mpi_enabled": True}
    assert _extra(MXNET, distribution={"mpi": {"enabled": True, "custom_mpi_options": "-v",
                                               "processes_per_host": 2}}) == {
        "sagemaker_mpi_enabled": True, "sagemaker_mpi_custom_mpi_options": "-v",
        "sagemaker_mpi_num_of_processes_per_host": 2}
    assert _extra(MXNET, distribution={"parameter_server": {"enabled": True}}) == {
        "sagemaker_parameter_server_enabled": True}


def test_mxnet_refuses_distribution_before_13_and_strategies_it_lacks():
    with pytest.raises(ConfigurationError, match=r"^distribution needs MXNet 1\.3 or later"):
        MXNET.validate_training(**training(MXNET, framework_version="1.2", py_version="py3", instance_count=2,
                                           distribution={"parameter_server": {"enabled": True}}))
    with pytest.raises(ConfigurationError, match=r"^distribution 'smdistributed' is not supported .*parameter_server"):
        MXNET.validate_training(**training(MXNET, distribution={"smdistributed": {"dataparallel": {"enabled": True}}}))
    assert (MXNET.code_in_model("1.3"), MXNET.code_in_model("1.4.1"), MXNET.metrics_time_series("1.6")) == (
        False, True, True)


def test_chainer_options_become_its_hyperparameters_when_truthy():
    options = {"use_mpi": True, "num_processes": 4, "process_slots_per_host": 2, "additional_mpi_options": "-x A"}
    assert _extra(CHAINER, framework_options=options) == {
        "sagemaker_use_mpi": True, "sagemaker_num_processes": 4, "sagemaker_process_slots_per_host": 2,
        "sagemaker_additional_mpi_options": "-x A"}
    assert _extra(CHAINER, framework_options={"use_mpi": False, "num_processes": None}) == {}
    CHAINER.validate_training(**training(CHAINER, instance_count=4, framework_options=options))


@pytest.mark.parametrize(("framework", "overrides", "message"), [
    (CHAINER, {"framework_options": {"num_processes": "4"}}, r"^framework_options\['num_processes'\] must be a int"),
    (CHAINER, {"framework_options": {"use_gpu": True}}, r"'use_gpu' not supported; use use_mpi, num_processes"),
    (CHAINER, {"distribution": {"mpi": {"enabled": True}}}, r"^distribution 'mpi' .*Chainer takes no distribution$"),
    (XGBOOST, {"framework_options": {"use_mpi": True}}, r"^framework_options 'use_mpi' not supported; XGBoost takes"),
    (XGBOOST, {"py_version": "py2"}, r"^py_version 'py2' is not supported by SageMaker XGBoost; use py3$"),
    (XGBOOST, {"framework_version": "1.1-1"}, r"^framework_version '1\.1-1' is not available"),
    (SKLEARN, {"instance_count": 2}, r"^instance_count must be 1: scikit-learn trains on a single instance"),
    (SKLEARN, {"instance_type": "ml.g5.xlarge"}, r"^instance_type 'ml\.g5\.xlarge' is not available .*no gpu image"),
])
def test_what_the_sdk_estimators_refuse(framework, overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        framework.validate_training(**training(framework, **overrides))


def test_xgboost_trains_on_many_instances_and_serves_with_its_training_image():
    XGBOOST.validate_training(**training(XGBOOST, instance_count=8, instance_type="ml.g5.xlarge"))
    image = XGBOOST.image_uri("eu-west-1", instance_type="ml.g5.xlarge")
    assert image == "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert XGBOOST.inference_image_uri(image, "eu-west-1", instance_type="ml.m5.large") == image
    assert SKLEARN.inference_image_uri(SKLEARN.image_uri("us-east-1", "1.4-2"), "us-east-1").endswith(":1.4-2-cpu-py3")
    assert XGBOOST.hosting_environment(program="p.py", submit_directory="s3://b/s.tar.gz", region="eu-west-1",
                                       model_server_workers=3)["SAGEMAKER_MODEL_SERVER_WORKERS"] == "3"


def test_graviton_images_of_the_single_image_frameworks_are_arm64_tags():
    assert XGBOOST.image_uri("us-west-2", "1.5-1", instance_type="ml.c7g.xlarge") == (
        "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.5-1-arm64")
    with pytest.raises(ConfigurationError, match=r"instance_type 'ml\.m5\.large'.*instance family of m6g"):
        XGBOOST.image_uri("us-west-2", "1.5-1", instance_type="ml.m5.large", image_scope="inference_graviton")


def test_an_image_of_another_framework_has_no_inference_image_here():
    with pytest.raises(ConfigurationError, match=r"is not a SageMaker MXNet image with a version tag"):
        MXNET.inference_image_uri(XGBOOST.image_uri("us-east-1"), "us-east-1")
