"""XGBoost's built-in (algorithm) mode: the ``sagemaker-xgboost`` image without a script, on Iris
as CSV and libsvm; the booster is one xgboost reads back; the endpoint answers as the
container's algorithm mode."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_iris

from smflow.local.containers.environments import resolve_environment
from tests.local.algorithms.conftest import XGBOOST_IMAGE, csv_bytes

pytestmark = pytest.mark.integration
HYPERPARAMETERS = {"num_round": 20, "max_depth": 3, "eta": 0.3, "objective": "multi:softmax", "num_class": 3}


@pytest.fixture(scope="module")
def iris():
    features, labels = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(labels))
    return features[order].astype(np.float32), labels[order].astype(np.float32)


def _libsvm(features, labels) -> bytes:
    lines = [" ".join([f"{label:g}"] + [f"{index}:{value:g}" for index, value in enumerate(row)])
             for row, label in zip(features, labels)]
    return ("\n".join(lines) + "\n").encode()


def _load_in_the_environment(model: bytes, tmp_path) -> int:
    """xgboost.Booster().load_model in the image's environment; returns num_features()."""
    path = tmp_path / "xgboost-model"
    path.write_bytes(model)
    python = resolve_environment(XGBOOST_IMAGE).ensure()
    program = ("import sys, xgboost; b = xgboost.Booster(); b.load_model(sys.argv[1]); "
               "print(b.num_features())")
    return int(subprocess.run([python, "-c", program, str(path)], capture_output=True, text=True, check=True,
                              timeout=120).stdout)


def test_csv_training_gives_a_loadable_booster_and_an_endpoint_answering_csv_and_json(api, iris, tmp_path):
    features, labels = iris
    train = api.put("xgb/csv/train/iris.csv", csv_bytes(np.column_stack([labels[:120], features[:120]])))
    validation = api.put("xgb/csv/validation/iris.csv", csv_bytes(np.column_stack([labels[120:], features[120:]])))
    job = api.train("xgb-csv", XGBOOST_IMAGE, HYPERPARAMETERS, {
        "train": {"uri": train, "content_type": "text/csv"},
        "validation": {"uri": validation, "content_type": "text/csv"}})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    files = api.model_files(job)
    assert set(files) == {"xgboost-model"}
    assert _load_in_the_environment(files["xgboost-model"], tmp_path) == 4

    endpoint = api.deploy(api.create_model(job, XGBOOST_IMAGE))
    try:
        body, content_type = api.invoke(endpoint, csv_bytes(features[120:]), "text/csv")
        assert content_type == "text/csv"  # the algorithm's default Accept
        predicted = np.array([float(line) for line in body.decode().splitlines()])
        assert (predicted == labels[120:]).mean() >= 0.9
        body, _ = api.invoke(endpoint, csv_bytes(features[120:125]), "text/csv", "application/json")
        assert json.loads(body) == {"predictions": [{"score": value} for value in predicted[:5].tolist()]}
        with pytest.raises(api.runtime.exceptions.ModelError) as error:
            api.invoke(endpoint, json.dumps(features[:2].tolist()), "application/json")
        assert error.value.response["OriginalStatusCode"] == 415
    finally:
        api.delete_endpoint(endpoint)


def test_libsvm_training_and_prediction(api, iris):
    features, labels = iris
    train = api.put("xgb/libsvm/train/iris.libsvm", _libsvm(features[:120], labels[:120]))
    job = api.train("xgb-libsvm", XGBOOST_IMAGE, HYPERPARAMETERS, {"train": train})  # libsvm: the default type
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    endpoint = api.deploy(api.create_model(job, XGBOOST_IMAGE))
    try:
        body, _ = api.invoke(endpoint, _libsvm(features[120:], labels[120:]), "text/libsvm", "application/jsonlines")
        predicted = np.array([json.loads(line)["score"] for line in body.decode().splitlines()])
        assert (predicted == labels[120:]).mean() >= 0.9
    finally:
        api.delete_endpoint(endpoint)
