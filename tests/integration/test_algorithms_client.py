"""Amazon's built-in algorithms through smflow's client against a real local runtime (issue 14,
"Shown by"): PCA and LinearLearner on scikit-learn's digits from ``record_set``, XGBoost's
built-in mode on Iris CSV and libsvm, each trained with ``train(algorithm=...)``, served with
``create_model`` (no code) and asked with ``predict``, whose answers come back as Python data."""

from __future__ import annotations

import io

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from smflow.resources.endpoints import decode_answer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(runtime):
    return runtime.client(log=lambda line: None)


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data.astype(np.float32), data.target


def _serve(client, job: dict, name: str) -> str:
    model = client.create_model(training_job_name=job["TrainingJobName"])
    client.deploy(model_name=model["ModelName"], endpoint_name=name, instance_type="ml.m5.large")
    return name


def test_pca_from_a_record_set_projects_digits(client, digits):
    features, _ = digits
    records = client.record_set(features[:1500], algorithm="pca")
    job = client.train(algorithm="pca", hyperparameters={"num_components": 5}, inputs=records,
                       instance_type="ml.c5.xlarge", logs=False)
    assert job["HyperParameters"]["feature_dim"] == "64" and job["HyperParameters"]["mini_batch_size"] == "500"
    endpoint = _serve(client, job, "client-pca")
    try:
        answer = client.predict(endpoint, features[1500:1510], content_type="application/x-recordio-protobuf",
                                accept="application/json")
        projections = answer["projections"]
        assert len(projections) == 10 and all(len(item["projection"]) == 5 for item in projections)
        records = client.predict(endpoint, features[1500:1503], content_type="application/x-recordio-protobuf",
                                 accept="application/x-recordio-protobuf")
        assert [len(record["projection"]) for record in records] == [5, 5, 5]
        np.testing.assert_allclose([record["projection"] for record in records],
                                   [item["projection"] for item in projections[:3]], rtol=1e-5)
    finally:
        client.delete_endpoint(endpoint)


def test_linear_learner_binary_classifier_on_a_digits_subset(client, digits):
    features, labels = digits
    mask = (labels == 3) | (labels == 8)
    x, y = features[mask], (labels[mask] == 8).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:250], order[250:]
    records = client.record_set(x[train], y[train], algorithm="linear-learner")
    job = client.train(algorithm="linear-learner", hyperparameters={"predictor_type": "binary_classifier",
                                                                    "epochs": 10}, inputs=records, logs=False)
    assert job["HyperParameters"]["mini_batch_size"] == "250"  # min(1000, records per instance), as the SDK
    endpoint = _serve(client, job, "client-linear-learner")
    try:
        answer = client.predict(endpoint, x[test], content_type="application/x-recordio-protobuf",
                                accept="application/json")
        predicted = [item["predicted_label"] for item in answer["predictions"]]
        accuracy = float(np.mean(np.asarray(predicted) == y[test]))
        assert accuracy > 0.9, accuracy
    finally:
        client.delete_endpoint(endpoint)


def _csv(rows: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", fmt="%g")
    return buffer.getvalue().encode()


def _libsvm(features: np.ndarray, labels: np.ndarray) -> bytes:
    return "".join(f"{int(label)} " + " ".join(f"{i + 1}:{value:g}" for i, value in enumerate(row)) + "\n"
                   for row, label in zip(features, labels)).encode()


@pytest.mark.parametrize("form", ["csv", "libsvm"])
def test_xgboost_built_in_mode_on_iris(client, form, tmp_path):
    data = load_iris()
    order = np.random.default_rng(1).permutation(150)
    features, labels = data.data[order], data.target[order]
    bucket = client.default_bucket()
    if form == "csv":  # the label first, no header, as the algorithm reads CSV
        body, content_type = _csv(np.column_stack([labels[:120], features[:120]])), "text/csv"
    else:
        body, content_type = _libsvm(features[:120], labels[:120]), "text/libsvm"
    key = f"client-xgboost/{form}/train/iris.{form}"
    client.s3.put_object(Bucket=bucket, Key=key, Body=body)
    job = client.train(algorithm="xgboost", hyperparameters={"num_round": 20, "max_depth": 3, "eta": 0.3,
                                                             "objective": "multi:softmax", "num_class": 3},
                       inputs={"train": {"s3_data": f"s3://{bucket}/{key.rsplit('/', 1)[0]}",
                                         "content_type": content_type}}, logs=False)
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-xgboost:1.7-1")
    endpoint = _serve(client, job, f"client-xgboost-{form}")
    try:
        if form == "csv":
            answer = client.predict(endpoint, features[120:], content_type="text/csv", accept="application/json")
        else:  # libsvm's 1-based indices make a model of 5 features: it is asked in libsvm too
            body, answer_type = client.invoke(endpoint, _libsvm(features[120:], labels[120:]),
                                              content_type="text/libsvm", accept="application/json")
            answer = decode_answer(body, answer_type)
        predicted = [item["score"] for item in answer["predictions"]]
        assert float(np.mean(np.asarray(predicted) == labels[120:])) >= 0.9
    finally:
        client.delete_endpoint(endpoint)


def test_a_missing_hyperparameter_is_refused_before_any_job(client, runtime):
    before = runtime.boto3_client("sagemaker").list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    with pytest.raises(Exception, match="K-Means hyperparameter 'k' is required"):
        client.train(algorithm="kmeans", hyperparameters={"feature_dim": 64}, inputs="s3://nowhere/data")
    after = runtime.boto3_client("sagemaker").list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    assert len(after) == len(before)
