"""The built-in algorithms through smflow's client against the local runtime: ``record_set`` ->
``train(algorithm=...)`` -> ``create_model`` -> ``deploy`` -> ``predict`` (the requests the
client sends to AWS, answered by the local emulations)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from smflow.client import SageMakerClient
from smflow.local.server import LocalRuntime

from tests.local.algorithms.conftest import csv_bytes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    server = LocalRuntime(tmp_path_factory.mktemp("state"), deployment_timeout=300)
    url = server.start()
    yield SageMakerClient(endpoint_url=url, region_name="us-east-1", log=lambda line: None)
    server.stop()


def _serve(client, job_name: str, data, content_type: str, accept: str):
    model = client.create_model(training_job_name=job_name)
    endpoint = client.deploy(model_name=model["ModelName"])
    try:
        return client.predict(endpoint["EndpointName"], data, content_type=content_type, accept=accept)
    finally:
        client.delete_endpoint(endpoint["EndpointName"])


def test_pca_through_the_client(client, digits):
    features, _ = digits
    records = client.record_set(features, algorithm="pca")
    job = client.train(algorithm="pca", hyperparameters={"num_components": 3, "mini_batch_size": 500},
                       inputs=records)
    assert job["TrainingJobStatus"] == "Completed"
    answer = _serve(client, job["TrainingJobName"], features[:20], "application/x-recordio-protobuf",
                    "application/json")
    projections = np.array([p["projection"] for p in answer["projections"]])
    expected = PCA(n_components=3).fit(features).transform(features[:20])[:, ::-1]
    np.testing.assert_allclose(np.abs(projections), np.abs(expected), rtol=1e-3, atol=1e-3)


def test_linear_learner_through_the_client(client, digits):
    features, labels = digits
    binary = (labels == 0).astype(np.float32)  # zero against the other digits
    records = client.record_set(features[:1500], binary[:1500], algorithm="linear-learner")
    job = client.train(algorithm="linear-learner", hyperparameters={"predictor_type": "binary_classifier",
                                                                    "mini_batch_size": 100}, inputs=records)
    assert job["TrainingJobStatus"] == "Completed"
    answers = _serve(client, job["TrainingJobName"], features[1500:], "application/x-recordio-protobuf",
                     "application/x-recordio-protobuf")
    predicted = np.array([answer["predicted_label"] for answer in answers])
    assert (predicted == binary[1500:]).mean() > 0.9


def test_xgboost_built_in_through_the_client(client):
    features, labels = load_iris(return_X_y=True)
    bucket = client.default_bucket()
    client.s3.put_object(Bucket=bucket, Key="xgb-client/train/iris.csv", Body=csv_bytes(np.column_stack([labels, features])))
    job = client.train(algorithm="xgboost", framework_version="1.7-1",
                       hyperparameters={"num_round": 20, "objective": "multi:softmax", "num_class": 3},
                       inputs={"train": {"s3_data": f"s3://{bucket}/xgb-client/train/", "content_type": "text/csv"}})
    assert job["TrainingJobStatus"] == "Completed"
    answer = _serve(client, job["TrainingJobName"], features[::10], "text/csv", "application/json")
    predicted = np.array([p["score"] for p in answer["predictions"]])
    assert (predicted == labels[::10]).mean() >= 0.9
