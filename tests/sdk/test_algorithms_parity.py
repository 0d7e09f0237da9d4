"""Amazon's built-in algorithms and scriptless images: smflow's requests and record sets against the
SageMaker Python SDK v2's.

The SDK's ``KMeans``, ``PCA``, ``LinearLearner`` (``record_set`` -> ``fit`` -> ``deploy``) and its
plain ``Estimator`` (XGBoost's built-in mode on ``image_uris.retrieve("xgboost", ...)``, and an
arbitrary image) run in the SDK's interpreter against :mod:`tests.sdk.fake_aws`; smflow does the
same with ``record_set`` -> ``train(algorithm=... | image_uri=...)`` -> ``create_model``. Compared:
the CreateTrainingJob and CreateModel requests field by field (names and the record set's folder
left out), the record sets' shard bytes, shard names and manifests.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
from pathlib import Path

import boto3
import numpy as np
import pytest
from smflow.client import SageMakerClient
from smflow.waiting import Backoff

from tests.sdk.fake_aws import FakeAws
from tests.sdk.test_request_parity import DIFFERENCES, _flatten, _normalized

HERE = Path(__file__).resolve().parent
OPERATIONS = ("CreateTrainingJob", "CreateModel")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algorithm:latest"

# algorithm, region, instance count/type, the SDK estimator's arguments (its attribute names), the
# same hyperparameters as AWS names them (smflow's), fit's mini_batch_size, labels
CONFIGS = [
    {"algorithm": "kmeans", "region": "us-east-1", "count": 1, "sdk": {"k": 10}, "hyperparameters": {"k": 10}},
    {"algorithm": "kmeans", "region": "eu-west-1", "count": 2, "mini_batch_size": 20,
     "sdk": {"k": 4, "init_method": "kmeans++", "max_iterations": 20, "tol": 0.001, "eval_metrics": ["msd", "ssd"]},
     "hyperparameters": {"k": 4, "init_method": "kmeans++", "local_lloyd_max_iter": 20, "local_lloyd_tol": 0.001,
                         "eval_metrics": ["msd", "ssd"]}},
    {"algorithm": "pca", "region": "us-east-1", "count": 1, "sdk": {"num_components": 3},
     "hyperparameters": {"num_components": 3}},
    {"algorithm": "pca", "region": "ap-southeast-2", "count": 3,
     "sdk": {"num_components": 2, "algorithm_mode": "randomized", "subtract_mean": True},
     "hyperparameters": {"num_components": 2, "algorithm_mode": "randomized", "subtract_mean": True}},
    {"algorithm": "linear-learner", "region": "us-east-1", "count": 1, "labels": True,
     "sdk": {"predictor_type": "binary_classifier"}, "hyperparameters": {"predictor_type": "binary_classifier"}},
    {"algorithm": "linear-learner", "region": "eu-west-1", "count": 2, "labels": True, "mini_batch_size": 10,
     "sdk": {"predictor_type": "multiclass_classifier", "num_classes": 3, "epochs": 5, "learning_rate": 0.05,
             "normalize_data": False},
     "hyperparameters": {"predictor_type": "multiclass_classifier", "num_classes": 3, "epochs": 5,
                         "learning_rate": 0.05, "normalize_data": False}},
    {"algorithm": "xgboost", "region": "us-east-1", "count": 1, "version": "1.7-1",
     "hyperparameters": {"num_round": 10, "objective": "multi:softmax", "num_class": 3, "eta": 0.3}},
    {"algorithm": "xgboost", "region": "eu-west-1", "count": 2, "version": "1.5-1",
     "hyperparameters": {"num_round": 5, "max_depth": 3}},
    {"image_uri": IMAGE, "region": "us-east-1", "count": 1, "hyperparameters": {"epochs": 3, "lr": 0.1}},
]
IDS = [f"{index}-{c.get('algorithm', 'image')}-{c['region']}x{c['count']}" for index, c in enumerate(CONFIGS)]
ROWS, FEATURES = 50, 8

SDK_CAPTURE = r"""
import base64, json, sys
payload = json.load(sys.stdin)
sys.path.insert(0, payload["helpers"])
import boto3, numpy as np, sagemaker
from fake_aws import FakeAws
from sagemaker import KMeans, PCA, LinearLearner, image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
CLASSES = {"kmeans": KMeans, "pca": PCA, "linear-learner": LinearLearner}
features = np.array(payload["features"], dtype=np.float32)
labels = np.array(payload["labels"], dtype=np.float32)
answers = []
for config in payload["configs"]:
    fake = FakeAws(config["region"])
    boto = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=config["region"])
    fake.attach(boto)
    session = sagemaker.Session(boto_session=boto)
    common = dict(role="SageMakerRole", instance_count=config["count"], instance_type="ml.c5.xlarge",
                  sagemaker_session=session)
    try:
        algorithm = config.get("algorithm")
        if algorithm in CLASSES:
            estimator = CLASSES[algorithm](**common, **config["sdk"])
            records = estimator.record_set(features, labels if config.get("labels") else None)
            estimator.fit(records, mini_batch_size=config.get("mini_batch_size"), wait=False, logs=False,
                          job_name="job-1")
        else:
            image = config.get("image_uri") or image_uris.retrieve("xgboost", config["region"], config["version"])
            estimator = Estimator(image_uri=image, hyperparameters=config["hyperparameters"], **common)
            estimator.fit({"train": TrainingInput("s3://b/train", content_type="text/csv")}, wait=False, logs=False,
                          job_name="job-1")
        estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name="ep-1", wait=False)
        objects = {key: base64.b64encode(body).decode() for (bucket, key), body in fake.objects.items()
                   if key.startswith("sagemaker-record-sets/")}
        answers.append({"requests": [[op, params] for service, op, params in fake.calls if op in payload["operations"]],
                        "objects": objects})
    except Exception as error:
        answers.append({"error": f"{type(error).__name__}: {error}"})
print(json.dumps(answers, default=str))
"""


def _data():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    labels = (rng.integers(0, 3, ROWS)).astype(np.float32)
    return features, labels


@pytest.fixture(scope="module")
def sdk_answers(sagemaker_sdk):
    features, labels = _data()
    answers = sagemaker_sdk.run(SDK_CAPTURE, {
        "helpers": str(HERE), "operations": OPERATIONS, "configs": CONFIGS,
        "features": features.tolist(), "labels": labels.tolist(),
    }, timeout=600)
    return dict(zip(IDS, answers))


def smflow_answers(config: dict) -> dict:
    fake = FakeAws(config["region"])
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=config["region"])
    fake.attach(session)
    client = SageMakerClient(session, role="SageMakerRole", backoff=Backoff.fixed(0.0), log=lambda line: None)
    features, labels = _data()
    algorithm = config.get("algorithm")
    common = {"instance_count": config["count"], "instance_type": "ml.c5.xlarge", "job_name": "job-1", "wait": False}
    hyperparameters = dict(config["hyperparameters"])
    if config.get("mini_batch_size"):
        hyperparameters["mini_batch_size"] = config["mini_batch_size"]
    if algorithm in ("kmeans", "pca", "linear-learner"):
        records = client.record_set(features, labels if config.get("labels") else None,
                                    instance_count=config["count"], algorithm=algorithm)
        client.train(algorithm=algorithm, hyperparameters=hyperparameters, inputs=records, **common)
    else:
        inputs = {"train": {"s3_data": "s3://b/train", "content_type": "text/csv"}}
        if algorithm:
            client.train(algorithm=algorithm, framework_version=config["version"], hyperparameters=hyperparameters,
                         inputs=inputs, **common)
        else:
            client.train(image_uri=config["image_uri"], hyperparameters=hyperparameters, inputs=inputs, **common)
    client.create_model(training_job_name="job-1", model_name="model-1")
    objects = {key: base64.b64encode(body).decode() for (bucket, key), body in fake.objects.items()
               if key.startswith("sagemaker-record-sets/")}
    return {"requests": [[op, params] for service, op, params in fake.calls if op in OPERATIONS], "objects": objects}


# The differences left, each with its reason (the same as for the frameworks' estimators).
EXPLAINED = {pattern: DIFFERENCES[pattern] for pattern in ("CreateTrainingJob.DebugHookConfig*",
                                                           "CreateTrainingJob.ProfilerConfig*")}
_RECORD_SET_FOLDER = re.compile(r"sagemaker-record-sets/[A-Za-z]+-[^/]+/")


def _without_folder(value):
    """The record set's folder (the SDK: ``<Class>-<timestamp>``, smflow: ``<Class>-<digest>``) as a marker."""
    if isinstance(value, str):
        return _RECORD_SET_FOLDER.sub("sagemaker-record-sets/<Class>-<folder>/", value)
    if isinstance(value, dict):
        return {key: _without_folder(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_folder(item) for item in value]
    return value


def _fields(requests: list[list], operation: str) -> dict:
    params = next(params for op, params in requests if op == operation)
    return _flatten(_without_folder(_normalized(params)), operation, {})


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=IDS)
def test_smflow_sends_what_the_sdk_sends(index, sdk_answers):
    config = CONFIGS[index]
    sdk = sdk_answers[IDS[index]]
    assert "error" not in sdk, f"the SDK refused the configuration: {sdk.get('error')}"
    ours = smflow_answers(config)
    for operation in OPERATIONS:
        left, right = _fields(sdk["requests"], operation), _fields(ours["requests"], operation)
        differing = {key: (left.get(key, "<absent>"), right.get(key, "<absent>"))
                     for key in sorted(set(left) | set(right)) if left.get(key) != right.get(key)
                     and not any(fnmatch.fnmatchcase(key, pattern) for pattern in EXPLAINED)}
        assert not differing, f"{operation} differs from the SDK's:\n" + "\n".join(
            f"  {key}: SDK {a!r} / smflow {b!r}" for key, (a, b) in differing.items())


@pytest.mark.parametrize("index", [i for i, c in enumerate(CONFIGS) if c.get("algorithm") in ("kmeans", "pca",
                                                                                              "linear-learner")],
                         ids=lambda i: IDS[i])
def test_record_sets_hold_the_sdks_bytes_names_and_manifest(index, sdk_answers):
    config = CONFIGS[index]
    sdk, ours = sdk_answers[IDS[index]]["objects"], smflow_answers(config)["objects"]
    sdk_folder = {_RECORD_SET_FOLDER.match(key).group(0) for key in sdk}
    our_folder = {_RECORD_SET_FOLDER.match(key).group(0) for key in ours}
    assert len(sdk_folder) == len(our_folder) == 1
    sdk_class = sdk_folder.pop().split("/")[1].rsplit("-", 1)[0]
    assert our_folder.pop().split("/")[1].split("-")[0] == sdk_class.split("-")[0]  # KMeans-..., PCA-..., ...
    relative = lambda objects: {_RECORD_SET_FOLDER.sub("", key): body for key, body in objects.items()}
    sdk_files, our_files = relative(sdk), relative(ours)
    assert sorted(sdk_files) == sorted(our_files)
    assert len(sdk_files) == config["count"] + 1  # one shard per instance, and the manifest
    for name in sdk_files:
        if name == ".amazon.manifest":
            manifests = [json.loads(base64.b64decode(files[name])) for files in (sdk_files, our_files)]
            assert [_without_folder(item) for item in manifests[0]] == [_without_folder(item) for item in manifests[1]]
        else:
            assert sdk_files[name] == our_files[name], f"shard {name} differs from the SDK's bytes"


def test_the_codec_writes_the_sdks_bytes(sagemaker_sdk):
    """write_records against the SDK's own write_numpy_to_dense_tensor / write_spmatrix_to_sparse_tensor
    (sparse: when scipy is in the SDK's environment, which the SDK needs for it)."""
    from smflow import recordio

    features, labels = _data()
    code = r"""
import base64, io, json, sys
import numpy as np
from sagemaker.amazon.common import write_numpy_to_dense_tensor, write_spmatrix_to_sparse_tensor
payload = json.load(sys.stdin)
features = np.array(payload["features"], dtype=np.float32)
labels = np.array(payload["labels"], dtype=np.float32)
out = {}
for name, args in (("dense", (features,)), ("dense_labels", (features, labels)),
                   ("dense64", (features.astype(np.float64),)), ("int", (np.arange(12).reshape(3, 4),))):
    buffer = io.BytesIO(); write_numpy_to_dense_tensor(buffer, *args); out[name] = base64.b64encode(buffer.getvalue()).decode()
try:
    import scipy.sparse
except ImportError:
    scipy = None
if scipy is not None:
    sparse = scipy.sparse.csr_matrix(np.where(features > 0.8, features, 0))
    for name, args in (("sparse", (sparse,)), ("sparse_labels", (sparse, labels))):
        buffer = io.BytesIO(); write_spmatrix_to_sparse_tensor(buffer, *args); out[name] = base64.b64encode(buffer.getvalue()).decode()
print(json.dumps(out))
"""
    sdk = {name: base64.b64decode(body) for name, body in sagemaker_sdk.run(
        code, {"features": features.tolist(), "labels": labels.tolist()}).items()}
    assert recordio.write_records(features) == sdk["dense"]
    assert recordio.write_records(features, labels) == sdk["dense_labels"]
    assert recordio.write_records(features.astype(np.float64)) == sdk["dense64"]
    assert recordio.write_records(np.arange(12).reshape(3, 4)) == sdk["int"]
    read_features, read_labels = recordio.records_to_numpy(recordio.read_records(sdk["dense_labels"]))
    assert np.array_equal(read_features, features) and np.array_equal(read_labels, labels)
    if "sparse" not in sdk:
        pytest.skip("scipy is not installed in the SDK's environment: sparse bytes not compared")
    scipy_sparse = pytest.importorskip("scipy.sparse")
    sparse = scipy_sparse.csr_matrix(np.where(features > 0.8, features, 0))
    assert recordio.write_records(sparse) == sdk["sparse"]
    assert recordio.write_records(sparse, labels) == sdk["sparse_labels"]
    assert np.array_equal(recordio.records_to_numpy(recordio.read_records(sdk["sparse"]))[0], sparse.toarray())
