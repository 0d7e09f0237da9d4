"""smflow's requests against the SageMaker Python SDK v2's, field by field.

For each configuration (framework x version x region x instance type x instance count x
distribution x code layout x training options) the SDK (in its own interpreter, all
configurations in one subprocess) and smflow train, create the model, deploy it and run a batch
transform against :mod:`tests.sdk.fake_aws` (botocore event hooks answer every call: no
network). The CreateTrainingJob, CreateModel, CreateEndpointConfig and CreateTransformJob
requests of both are compared field by field, except names, timestamps and the code's S3 key.
Every difference left must be one of ``DIFFERENCES``, each with its reason (the README's table).
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import boto3
import pytest

from smflow import frameworks
from smflow.client import SageMakerClient
from smflow.waiting import Backoff
from tests.sdk.fake_aws import FakeAws

HERE = Path(__file__).resolve().parent
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
CPU, GPU = "ml.m5.xlarge", "ml.p3.2xlarge"
OPERATIONS = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateTransformJob")

# Options a user sets on real SageMaker, given to both (smflow's spelling; the SDK's differs only
# in tags, a list of Key/Value there, and per-channel input modes, TrainingInput objects there).
OPTIONS = {
    "input_mode": "FastFile", "use_spot_instances": True, "max_run": 3600, "max_wait": 7200,
    "max_retry_attempts": 2, "checkpoint_s3_uri": "s3://b/checkpoints", "checkpoint_local_path": "/opt/ml/checkpoints",
    "output_kms_key": "arn:aws:kms:us-east-1:123456789012:key/out", "volume_kms_key": "vol-key",
    "metric_definitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}], "environment": {"MODE": "parity"},
    "subnets": ["subnet-0a"], "security_group_ids": ["sg-0a"], "enable_network_isolation": True,
    "tags": {"team": "ml"},
}


def _config(framework, version, py_version, *, region="us-east-1", instance_type=CPU, count=1,
            distribution=None, source_dir=True, dependencies=False, options=None, channel_mode=None, extra=None):
    return {"framework": framework, "framework_version": version, "py_version": py_version, "region": region,
            "instance_type": instance_type, "instance_count": count, "distribution": distribution,
            "source_dir": source_dir, "dependencies": dependencies, "options": options or {},
            "channel_mode": channel_mode, "extra": extra or {}}


MPI = {"mpi": {"enabled": True, "processes_per_host": 2}}
PARAMETER_SERVER = {"parameter_server": {"enabled": True}}
CONFIGS = [
    # scikit-learn: CPU, one instance
    *[_config("sklearn", "1.2-1", "py3", region=region) for region in REGIONS],
    _config("sklearn", "1.2-1", "py3", source_dir=False),
    _config("sklearn", "1.2-1", "py3", dependencies=True, options=OPTIONS),
    _config("sklearn", "0.23-1", "py3", region="eu-west-1", channel_mode="Pipe"),
    # XGBoost (script mode): CPU and GPU, one and several instances
    *[_config("xgboost", "1.7-1", "py3", region=region) for region in REGIONS],
    _config("xgboost", "1.7-1", "py3", instance_type="ml.g4dn.xlarge", count=2),
    _config("xgboost", "1.5-1", "py3", count=3, source_dir=False, region="ap-southeast-2"),
    _config("xgboost", "1.7-1", "py3", dependencies=True, options=OPTIONS),
    # PyTorch: every distribution it takes
    *[_config("pytorch", "2.0.1", "py310", region=region) for region in REGIONS],
    _config("pytorch", "2.0.1", "py310", instance_type=GPU, count=2, distribution={"torch_distributed": {"enabled": True}}),
    _config("pytorch", "2.0.1", "py310", instance_type=GPU, count=2, distribution={"pytorchddp": {"enabled": True}}),
    _config("pytorch", "1.13.1", "py39", instance_type="ml.p3.16xlarge", count=2, region="eu-west-1",
            distribution={"smdistributed": {"dataparallel": {"enabled": True}}}),
    _config("pytorch", "1.13.1", "py39", instance_type=GPU, count=2, distribution=MPI, region="ap-southeast-2"),
    _config("pytorch", "2.0.1", "py310", instance_type="ml.p4d.24xlarge", count=2,
            distribution={"smdistributed": {"dataparallel": {"enabled": True}}}),
    _config("pytorch", "2.0.1", "py310", source_dir=False, dependencies=True),
    _config("pytorch", "2.0.1", "py310", instance_type=GPU, options=OPTIONS, channel_mode="Pipe"),
    _config("pytorch", "1.12.1", "py38", count=2),
    _config("pytorch", "2.3", "py311", instance_type="ml.g5.xlarge"),
    # TensorFlow: model_dir, parameter server, MPI, multi-worker mirrored, smdistributed
    *[_config("tensorflow", "2.13", "py310", region=region) for region in REGIONS],
    _config("tensorflow", "2.13", "py310", instance_type=GPU, count=2, distribution=PARAMETER_SERVER),
    _config("tensorflow", "2.11", "py39", instance_type=GPU, count=2, distribution=MPI, region="eu-west-1"),
    _config("tensorflow", "2.13", "py310", instance_type=GPU, count=2,
            distribution={"multi_worker_mirrored_strategy": {"enabled": True}}),
    _config("tensorflow", "2.11", "py39", instance_type="ml.p3.16xlarge", count=2, region="ap-southeast-2",
            distribution={"smdistributed": {"dataparallel": {"enabled": True}}}),
    _config("tensorflow", "2.13", "py310", source_dir=False, dependencies=True, options=OPTIONS),
    _config("tensorflow", "2.12", "py310", count=3),
    # MXNet
    *[_config("mxnet", "1.9.0", "py38", region=region) for region in REGIONS],
    _config("mxnet", "1.9.0", "py38", instance_type=GPU, count=2, distribution=PARAMETER_SERVER),
    _config("mxnet", "1.8.0", "py37", instance_type=GPU, count=2, distribution=MPI, region="eu-west-1"),
    _config("mxnet", "1.9.0", "py38", source_dir=False, dependencies=True),
    # Chainer: its MPI options
    *[_config("chainer", "5.0.0", "py3", region=region) for region in REGIONS],
    _config("chainer", "5.0.0", "py3", instance_type=GPU, count=2,
            extra={"use_mpi": True, "num_processes": 4, "process_slots_per_host": 2,
                   "additional_mpi_options": "-x NCCL_DEBUG=INFO"}),
    _config("chainer", "4.1.0", "py3", source_dir=False, dependencies=True, extra={"use_mpi": False}),
]
IDS = [f"{index:02d}-{c['framework']}-{c['framework_version']}-{c['region']}-{c['instance_type']}x{c['instance_count']}"
       f"{'-' + next(iter(c['distribution'])) if c['distribution'] else ''}" for index, c in enumerate(CONFIGS)]

# Field (glob over "<Operation>.<path>", "<framework>:" first for one framework only) -> why smflow
# sends something else. The README lists these.
DIFFERENCES = {
    "CreateTrainingJob.DebugHookConfig*": "SageMaker Debugger's hook, which the SDK adds by default; smflow does "
        "not configure Debugger",
    "CreateTrainingJob.ProfilerConfig*": "SageMaker Profiler settings the SDK adds by default; smflow does not "
        "configure the profiler",
    "mxnet:CreateTrainingJob.HyperParameters.sagemaker_mpi_custom_mpi_options": "pending in the MXNet "
        "conventions: the SDK sends an empty custom_mpi_options with mpi",
    **{f"{framework}:CreateModel.EnableNetworkIsolation": f"the SDK's {framework} estimator's create_model drops "
       "the estimator's network isolation (the scikit-learn and TensorFlow ones keep it); smflow keeps the "
       "training job's for every framework" for framework in ("xgboost", "pytorch")},
    "xgboost:CreateModel.PrimaryContainer.Environment.SAGEMAKER_SUBMIT_DIRECTORY": "follows from the isolation "
        "the SDK drops: smflow's isolated model carries its code in the model archive (/opt/ml/model/code)",
    "tensorflow:CreateTransformJob.Tags*": "the SDK's TensorFlow.transformer does not pass the estimator's tags "
        "on; smflow tags the transform job with the tags it is given",
    "CreateModel.PrimaryContainer.ModelDataUrl": "the model archive repacked with the inference code (as the SDK "
        "does) goes under model-<hash of model data and code>/ of the model's name (the SDK: the model's "
        "timestamped name), so that other code makes another archive",
    "CreateTransformJob.MaxPayloadInMB": "smflow sends SageMaker's default (6 MB) explicitly",
    "CreateTransformJob.TransformInput.CompressionType": "smflow sends SageMaker's default (None) explicitly",
    "CreateTransformJob.Environment": "the SDK sends an empty Environment",
    "CreateEndpointConfig.ProductionVariants.0.InitialVariantWeight": "1 (SDK, int) and 1.0 (smflow) are the "
        "same weight",
}

SDK_CAPTURE = r"""
import json, sys
payload = json.load(sys.stdin)
sys.path.insert(0, payload["helpers"])
import boto3, sagemaker
from fake_aws import FakeAws
from sagemaker.inputs import TrainingInput
from sagemaker.chainer import Chainer
from sagemaker.mxnet import MXNet
from sagemaker.pytorch import PyTorch
from sagemaker.sklearn import SKLearn
from sagemaker.tensorflow import TensorFlow
from sagemaker.xgboost import XGBoost
ESTIMATORS = {"sklearn": SKLearn, "xgboost": XGBoost, "pytorch": PyTorch, "tensorflow": TensorFlow,
              "mxnet": MXNet, "chainer": Chainer}
OPERATIONS = set(payload["operations"])
answers = []
for config in payload["configs"]:
    fake = FakeAws(config["region"])
    boto = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=config["region"])
    fake.attach(boto)
    try:
        options = dict(config["options"])
        if "tags" in options:
            options["tags"] = [{"Key": k, "Value": v} for k, v in options["tags"].items()]
        code = payload["code"][("dir" if config["source_dir"] else "file")]
        kwargs = dict(code, role="SageMakerRole", instance_type=config["instance_type"],
                      instance_count=config["instance_count"], framework_version=config["framework_version"],
                      py_version=config["py_version"], hyperparameters={"epochs": 3, "lr": 0.1},
                      sagemaker_session=sagemaker.Session(boto_session=boto), **options, **config["extra"])
        if config["distribution"]:
            kwargs["distribution"] = config["distribution"]
        if config["dependencies"]:
            kwargs["dependencies"] = [payload["dependency"]]
        estimator = ESTIMATORS[config["framework"]](**kwargs)
        data = TrainingInput("s3://b/data", input_mode=config["channel_mode"]) if config["channel_mode"] else "s3://b/data"
        estimator.fit({"training": data}, wait=False, logs=False, job_name="job-1")
        estimator.create_model().deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="ep-1",
                                        wait=False)
        transformer = estimator.transformer(instance_count=1, instance_type="ml.m5.large", strategy="MultiRecord",
                                            assemble_with="Line", output_path="s3://b/out")
        transformer.transform("s3://b/batch", content_type="text/csv", split_type="Line", job_name="tj-1",
                              wait=False, logs=False)
        answers.append({"requests": [[op, params] for service, op, params in fake.calls if op in OPERATIONS]})
    except Exception as error:
        answers.append({"error": f"{type(error).__name__}: {error}"})
print(json.dumps(answers, default=str))
"""


@pytest.fixture(scope="module")
def code(tmp_path_factory):
    root = tmp_path_factory.mktemp("code")
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text("print('training')\n")
    (root / "src" / "requirements.txt").write_text("\n")
    (root / "deps" / "common").mkdir(parents=True)
    (root / "deps" / "common" / "__init__.py").write_text("X = 1\n")
    (root / "single").mkdir()
    (root / "single" / "train.py").write_text("print('training')\n")
    return {"dir": {"entry_point": "train.py", "source_dir": str(root / "src")},
            "file": {"entry_point": str(root / "single" / "train.py")},
            "dependency": str(root / "deps" / "common")}


@pytest.fixture(scope="module")
def sdk_requests(sagemaker_sdk, code):
    answers = sagemaker_sdk.run(SDK_CAPTURE, {
        "helpers": str(HERE), "operations": OPERATIONS, "configs": CONFIGS,
        "code": {"dir": code["dir"], "file": code["file"]}, "dependency": code["dependency"],
    }, timeout=900)
    return dict(zip(IDS, answers))


def smflow_requests(config: dict, code: dict) -> list[list]:
    """What smflow sends for ``config``: train, create_model, deploy, batch_transform."""
    fake = FakeAws(config["region"])
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=config["region"])
    fake.attach(session)
    client = SageMakerClient(session, role="SageMakerRole", backoff=Backoff.fixed(0.0), log=lambda line: None)
    options = dict(config["options"])
    data = {"s3_data": "s3://b/data", "input_mode": config["channel_mode"]} if config["channel_mode"] else "s3://b/data"
    client.train(**code["dir" if config["source_dir"] else "file"], framework=config["framework"],
                 framework_version=config["framework_version"], py_version=config["py_version"],
                 instance_type=config["instance_type"], instance_count=config["instance_count"],
                 distribution=config["distribution"], hyperparameters={"epochs": 3, "lr": 0.1},
                 dependencies=[code["dependency"]] if config["dependencies"] else None,
                 inputs={"training": data}, job_name="job-1", wait=False, **options, **config["extra"])
    client.create_model(training_job_name="job-1", model_name="model-1", instance_type="ml.m5.large")
    client.deploy(model_name="model-1", endpoint_name="ep-1", instance_type="ml.m5.large", wait=False)
    client.batch_transform(model_name="model-1", data="s3://b/batch", output_path="s3://b/out",
                           content_type="text/csv", split_type="Line", batch_strategy="MultiRecord",
                           assemble_with="Line", instance_type="ml.m5.large", job_name="tj-1", wait=False,
                           tags=options.get("tags"))  # the SDK's transformer takes the estimator's tags
    return [[op, params] for service, op, params in fake.calls if op in OPERATIONS]


NAMES = {"TrainingJobName", "ModelName", "EndpointConfigName", "TransformJobName"}


def _normalized(value, path=""):
    """Names, and the code's S3 key, replaced by markers."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in NAMES:
                item = "<name>"
            elif key in ("sagemaker_submit_directory", "SAGEMAKER_SUBMIT_DIRECTORY") and "s3://" in str(item):
                item = "<code>"
            elif key == "sagemaker_job_name":
                item = "<name>"
            out[key] = _normalized(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [_normalized(item, path) for item in value]
    return value


def _flatten(value, path: str, into: dict) -> dict:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}", into)
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for index, item in enumerate(value):
            _flatten(item, f"{path}.{index}", into)
    else:
        into[path] = value
    return into


def differences(sdk: list[list], ours: list[list]) -> dict[str, tuple]:
    """``{"<Operation>.<field path>": (SDK value, smflow value)}`` over the first request of each
    operation (the SDK creates a second model for its transformer; smflow reuses its one)."""
    found: dict[str, tuple] = {}
    for operation in OPERATIONS:
        left = next((params for op, params in sdk if op == operation), None)
        right = next((params for op, params in ours if op == operation), None)
        if left is None or right is None:
            found[operation] = (left is not None, right is not None)
            continue
        a = _flatten(_normalized(left), operation, {})
        b = _flatten(_normalized(right), operation, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                found[key] = (a.get(key, "<absent>"), b.get(key, "<absent>"))
    return found


def unexplained(found: dict[str, tuple], framework: str) -> dict[str, tuple]:
    def explained(key: str) -> bool:
        for pattern in DIFFERENCES:
            only, _, field = pattern.rpartition(":")
            if only in ("", framework) and fnmatch.fnmatchcase(key, field):
                return True
        return False

    return {key: value for key, value in found.items() if not explained(key)}


def test_the_configurations_cover_what_the_issue_asks():
    assert len(CONFIGS) >= 40
    assert {c["framework"] for c in CONFIGS} == {"sklearn", "xgboost", "pytorch", "tensorflow", "mxnet", "chainer"}
    assert {c["region"] for c in CONFIGS} == set(REGIONS)
    assert {c["instance_count"] > 1 for c in CONFIGS} == {True, False}
    assert {c["instance_type"] for c in CONFIGS} >= {CPU, GPU}
    assert {next(iter(c["distribution"])) for c in CONFIGS if c["distribution"]} == {
        "torch_distributed", "pytorchddp", "smdistributed", "mpi", "parameter_server", "multi_worker_mirrored_strategy"}
    assert {(c["source_dir"], c["dependencies"]) for c in CONFIGS} == {(True, False), (True, True), (False, False),
                                                                       (False, True)}


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=IDS)
def test_smflow_sends_what_the_sdk_sends(index, sdk_requests, code):
    config = CONFIGS[index]
    if config["framework"] not in frameworks.names():
        pytest.skip(f"no registry data for {config['framework']} on this branch")
    sdk = sdk_requests[IDS[index]]
    assert "error" not in sdk, f"the SDK refused the configuration: {sdk.get('error')}"
    found = differences(sdk["requests"], smflow_requests(config, code))
    left_over = unexplained(found, config["framework"])
    assert not left_over, "differences from the SDK without a reason in DIFFERENCES:\n" + "\n".join(
        f"  {key}: SDK {left!r} / smflow {right!r}" for key, (left, right) in left_over.items())
