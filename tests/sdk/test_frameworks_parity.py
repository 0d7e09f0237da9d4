"""smflow's framework conventions against the SageMaker Python SDK v2's estimators and models.

For each configuration (six frameworks, three regions, CPU and GPU instance types, one and several
instances, each distribution strategy, Chainer's MPI options, TensorFlow's model_dir) the SDK's
estimator of that framework is built and asked, as ``fit()`` would, for its HyperParameters,
its training image and whether it turns SageMaker metrics on; its ``create_model`` -> model is
asked for the container definition of CreateModel (Image, Environment), with the code upload
replaced by its result (no network). smflow answers the same from ``frameworks.get(name)``;
configurations the SDK refuses must be refused by ``validate_training`` too. All SDK calls run in
one subprocess.
"""

from __future__ import annotations

import pytest

from smflow import frameworks
from smflow.errors import ConfigurationError

REGIONS = ("us-east-1", "eu-west-1", "ap-northeast-2")
CPU, GPU, DDP_GPU = "ml.m5.xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge"
JOB = "parity-job-2026-12-06-21-00-00-000"
OUTPUT = "s3://bucket/output/"
SUBMIT = f"s3://bucket/{JOB}/source/sourcedir.tar.gz"
PROGRAM = "train.py"
HYPERPARAMETERS = {"epochs": 3, "lr": "1e-3", "layers": [64, 32], "verbose": True}

MPI = {"mpi": {"enabled": True, "processes_per_host": 4, "custom_mpi_options": "-x NCCL_DEBUG=INFO"}}
MPI_PLAIN = {"mpi": {"enabled": True}}
PS = {"parameter_server": {"enabled": True}}
SMDDP = {"smdistributed": {"dataparallel": {"enabled": True}}}
SMMP = {"smdistributed": {"modelparallel": {"enabled": True, "parameters": {"partitions": 2, "microbatches": 4}}},
        "mpi": {"enabled": True, "processes_per_host": 8}}
TORCH_DISTRIBUTED = {"torch_distributed": {"enabled": True}}
PYTORCHDDP = {"pytorchddp": {"enabled": True}}
MWMS = {"multi_worker_mirrored_strategy": {"enabled": True}}
CHAINER_MPI = {"use_mpi": True, "num_processes": 4, "process_slots_per_host": 2,
               "additional_mpi_options": "-x NCCL_DEBUG=INFO"}


def _case(framework, version, py_version, instance_type, count=1, distribution=None, options=None, region=None,
          log_level=20, workers=None):
    return {"framework": framework, "framework_version": version, "py_version": py_version,
            "instance_type": instance_type, "instance_count": count, "distribution": distribution,
            "framework_options": options or {}, "region": region, "container_log_level": log_level,
            "model_server_workers": workers}


def configurations() -> list[dict]:
    """The configurations compared (the region of each is filled in round robin)."""
    cases = [
        _case("sklearn", "1.2-1", "py3", CPU),
        _case("sklearn", "1.4-2", "py3", "ml.c5.2xlarge", workers=2),
        _case("sklearn", "0.23-1", "py3", CPU, log_level=10),
        _case("sklearn", "1.2-1", "py3", CPU, count=2),  # refused: one instance
        _case("sklearn", "1.2-1", "py3", "ml.p3.2xlarge"),  # refused: no GPU image
        _case("xgboost", "1.7-1", "py3", CPU),
        _case("xgboost", "1.7-1", "py3", GPU, count=3, workers=4),
        _case("xgboost", "1.5-1", "py3", CPU, count=2),
        _case("xgboost", "1.0-1", "py3", CPU),
        _case("xgboost", "1.7-1", "py2", CPU),  # refused: py3 only
        _case("pytorch", "2.6.0", "py312", CPU),
        _case("pytorch", "2.6", "py312", GPU, workers=2),
        _case("pytorch", "2.5.1", "py311", GPU, count=2, distribution=TORCH_DISTRIBUTED),
        _case("pytorch", "2.6.0", "py312", "ml.p4d.24xlarge", count=4, distribution=TORCH_DISTRIBUTED),
        _case("pytorch", "2.2.0", "py310", DDP_GPU, count=2, distribution=PYTORCHDDP),
        _case("pytorch", "2.1.0", "py310", DDP_GPU, count=2, distribution=SMDDP),
        _case("pytorch", "1.13.1", "py39", GPU, count=2, distribution=SMMP),
        _case("pytorch", "2.0.1", "py310", GPU, count=2, distribution=MPI),
        _case("pytorch", "1.12", "py38", GPU, count=2, distribution=MPI_PLAIN),
        _case("pytorch", "1.8.1", "py36", CPU, count=2),
        _case("pytorch", "1.6.0", "py3", DDP_GPU),  # p4d CUDA suffix on the training image
        _case("pytorch", "1.1.0", "py3", CPU),  # before inference images served code from the model
        _case("pytorch", "2.6", "py312", CPU, distribution=TORCH_DISTRIBUTED),  # refused: CPU
        _case("pytorch", "2.6", "py312", GPU, distribution=TORCH_DISTRIBUTED),  # refused: alias not listed
        _case("pytorch", "2.6.0", "py312", GPU, distribution=SMDDP),  # refused: version
        _case("pytorch", "2.2.0", "py310", GPU, distribution={**PYTORCHDDP, **SMDDP}),  # refused: both
        _case("tensorflow", "2.19", "py312", CPU),
        _case("tensorflow", "2.16", "py310", GPU, count=2, distribution=PS),
        _case("tensorflow", "2.14", "py310", GPU, count=2, distribution=MPI),
        _case("tensorflow", "2.13", "py310", GPU, count=2, distribution=MPI_PLAIN),
        _case("tensorflow", "2.11", "py39", DDP_GPU, count=2, distribution=SMDDP),
        _case("tensorflow", "2.14", "py310", GPU, count=3, distribution=MWMS),
        _case("tensorflow", "2.3", "py37", DDP_GPU, count=2),  # p4d CUDA suffix
        _case("tensorflow", "1.15", "py37", CPU, log_level=30),
        _case("tensorflow", "2.1", "py2", CPU, log_level=40),
        _case("tensorflow", "2.12", "py310", CPU, options={"model_dir": "s3://bucket/custom/model"}),
        _case("tensorflow", "2.12", "py310", CPU, options={"model_dir": False}),
        _case("tensorflow", "1.10", "py2", CPU),  # refused: legacy mode only
        _case("tensorflow", "2.4", "py2", CPU),  # refused: no py2
        _case("tensorflow", "2.8", "py39", GPU, distribution=MWMS),  # refused: before 2.9
        _case("tensorflow", "2.14", "py310", GPU, distribution={**MWMS, **PS}),  # refused: combined
        _case("mxnet", "1.9", "py38", CPU),
        _case("mxnet", "1.8", "py37", GPU, count=2, distribution=PS, workers=3),
        _case("mxnet", "1.9.0", "py38", GPU, count=2, distribution=MPI),
        _case("mxnet", "1.7", "py3", GPU, count=2, distribution=MPI_PLAIN),
        _case("mxnet", "1.3", "py3", CPU),  # before inference images served code from the model
        _case("mxnet", "1.2", "py3", CPU, count=2, distribution=PS),  # refused: before 1.3
        _case("chainer", "5.0", "py3", CPU),
        _case("chainer", "5.0.0", "py3", GPU, count=2, options=CHAINER_MPI, workers=2),
        _case("chainer", "4.1", "py2", CPU, count=2, options={"use_mpi": True, "num_processes": 2}),
    ]
    for number, case in enumerate(cases):
        case["region"] = case["region"] or REGIONS[number % len(REGIONS)]
    return cases


SDK_FRAMEWORKS = """
import json, os, sys, tempfile, functools
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
import boto3
from sagemaker import utils
utils._botocore_resolver = functools.lru_cache(maxsize=None)(utils._botocore_resolver)
from sagemaker.session import Session
from sagemaker.fw_utils import UploadedCode
from sagemaker.sklearn import SKLearn
from sagemaker.xgboost import XGBoost
from sagemaker.pytorch import PyTorch
from sagemaker.tensorflow import TensorFlow
from sagemaker.mxnet import MXNet
from sagemaker.chainer import Chainer
ESTIMATORS = {"sklearn": SKLearn, "xgboost": XGBoost, "pytorch": PyTorch, "tensorflow": TensorFlow,
              "mxnet": MXNet, "chainer": Chainer}
payload = json.load(sys.stdin)
source = tempfile.mkdtemp()
open(os.path.join(source, payload["program"]), "w").close()
sessions = {}
answers = []
for case in payload["cases"]:
    region = case["region"]
    if region not in sessions:
        sessions[region] = Session(boto3.Session(region_name=region))
        sessions[region]._default_bucket = "bucket"  # no STS call for the account's default bucket
    session = sessions[region]
    arguments = dict(entry_point=payload["program"], source_dir=source, role=payload["role"],
                     framework_version=case["framework_version"], py_version=case["py_version"],
                     instance_type=case["instance_type"], instance_count=case["instance_count"],
                     hyperparameters=dict(payload["hyperparameters"]), output_path=payload["output"],
                     container_log_level=case["container_log_level"], sagemaker_session=session,
                     **case["framework_options"])
    if case["distribution"] is not None:
        arguments["distribution"] = case["distribution"]
    try:
        estimator = ESTIMATORS[case["framework"]](**arguments)
        estimator._current_job_name = payload["job"]
        estimator._script_mode_hyperparam_update(payload["submit"], payload["program"])
        answer = {"hyperparameters": estimator.hyperparameters(), "image": estimator.training_image_uri(),
                  "metrics": estimator.enable_sagemaker_metrics}
    except (ValueError, AttributeError) as error:
        answers.append({"error": f"{type(error).__name__}: {error}"})
        continue
    estimator.uploaded_code = UploadedCode(s3_prefix=payload["submit"], script_name=payload["program"])
    extra = {} if case["framework"] == "tensorflow" else {"model_server_workers": case["model_server_workers"]}
    model = estimator.create_model(**extra)
    def upload(*args, model=model, **kwargs):
        model.uploaded_code = UploadedCode(s3_prefix=payload["submit"], script_name=payload["program"])
        if kwargs.get("repack") or (len(args) > 1 and args[1]):
            model.repacked_model_data = "s3://bucket/repacked/model.tar.gz"
    model._upload_code = upload
    container = model.prepare_container_def(case["instance_type"])
    answer.update(model_image=container["Image"], environment=container["Environment"])
    answers.append(answer)
print(json.dumps(answers))
"""


def _smflow(case: dict) -> dict:
    """smflow's answers for a configuration: what the client would send."""
    chosen = frameworks.get(case["framework"])
    try:
        chosen.validate_training(
            framework_version=case["framework_version"], py_version=case["py_version"],
            instance_type=case["instance_type"], instance_count=case["instance_count"],
            distribution=case["distribution"], framework_options=case["framework_options"],
        )
    except ConfigurationError as error:
        return {"error": str(error)}
    image = chosen.image_uri(case["region"], case["framework_version"], instance_type=case["instance_type"],
                             py_version=case["py_version"], distribution=case["distribution"])
    code_in_model = chosen.code_in_model(case["framework_version"])
    return {
        "hyperparameters": chosen.training_hyperparameters(
            HYPERPARAMETERS, program=PROGRAM, submit_directory=SUBMIT, region=case["region"], job_name=JOB,
            output_path=OUTPUT, instance_type=case["instance_type"], instance_count=case["instance_count"],
            distribution=case["distribution"], framework_version=case["framework_version"],
            py_version=case["py_version"], framework_options=case["framework_options"],
            container_log_level=case["container_log_level"],
        ),
        "image": image,
        "metrics": chosen.metrics_time_series(case["framework_version"]),
        "model_image": chosen.inference_image_uri(image, case["region"], instance_type=case["instance_type"]),
        "environment": chosen.hosting_environment(
            program=PROGRAM, submit_directory="/opt/ml/model/code" if code_in_model else SUBMIT,
            region=case["region"], container_log_level=case["container_log_level"],
            model_server_workers=case["model_server_workers"],
        ),
    }


@pytest.fixture(scope="module")
def sdk_answers(sagemaker_sdk) -> list[tuple[dict, dict]]:
    cases = configurations()
    payload = {"cases": cases, "program": PROGRAM, "submit": SUBMIT, "job": JOB, "output": OUTPUT,
               "hyperparameters": HYPERPARAMETERS, "role": "arn:aws:iam::111122223333:role/SageMakerRole"}
    return list(zip(cases, sagemaker_sdk.run(SDK_FRAMEWORKS, payload)))


def _label(case: dict) -> str:
    return f"{case['framework']} {case['framework_version']} {case['py_version']} {case['instance_type']} " \
           f"x{case['instance_count']} {case['distribution'] or ''} {case['framework_options'] or ''}"


def test_there_are_enough_configurations_for_every_framework():
    cases = configurations()
    assert len(cases) >= 40
    assert {case["framework"] for case in cases} == set(frameworks.names())
    assert {case["region"] for case in cases} == set(REGIONS)


@pytest.mark.parametrize("framework", frameworks.names())
def test_requests_are_the_sdk_estimator_and_models(sagemaker_sdk, sdk_answers, framework):
    """Same HyperParameters, training image, metrics flag, model image and model Environment."""
    compared = [(case, sdk) for case, sdk in sdk_answers if case["framework"] == framework and "error" not in sdk]
    different = [(_label(case), {key: (value, sdk.get(key)) for key, value in _smflow(case).items()
                                 if value != sdk.get(key)})
                 for case, sdk in compared if _smflow(case) != sdk]
    assert compared
    assert not different, f"{len(different)} of {len(compared)} differ from SDK {sagemaker_sdk.version}: {different}"


@pytest.mark.parametrize("framework", frameworks.names())
def test_what_the_sdk_refuses_is_refused_before_any_upload(sagemaker_sdk, sdk_answers, framework):
    refused = [(case, sdk) for case, sdk in sdk_answers if case["framework"] == framework and "error" in sdk]
    accepted = [_label(case) for case, sdk in refused if "error" not in _smflow(case)]
    assert not accepted, f"the SDK refuses these, smflow accepts them: {accepted}"
    for case, _ in refused:
        assert any(name in _smflow(case)["error"] for name in (
            "framework_version", "py_version", "instance_type", "instance_count", "distribution", "framework_options"))
