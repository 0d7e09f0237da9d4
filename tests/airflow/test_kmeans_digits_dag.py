"""The ``kmeans_digits`` example DAG (the SDK README's KMeans example on scikit-learn's digits)
run with ``airflow dags test`` against a real smflow local runtime: record set -> train Amazon's
KMeans -> model -> endpoint -> predict (RecordIO-protobuf in, JSON out) -> batch transform
(SplitType RecordIO) -> delete the endpoint. States and XComs are read back from the metadata
database (see test_dags.py)."""

from __future__ import annotations

import pytest

from .test_dags import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def airflow_runtime(airflow_db, aws_connection, runtime):
    return runtime


def test_kmeans_digits(airflow_runtime):
    result = run_cli("kmeans_digits", airflow_runtime)

    assert result.exit_code == 0 and result.state == "success", result.output[-5000:]
    assert set(result.states.values()) == {"success"}, result.states
    records = result.value("record_set")["train"]
    assert records["s3_data"].endswith("/.amazon.manifest") and records["s3_data_type"] == "ManifestFile"
    assert (records["num_records"], records["feature_dim"]) == (1697, 64)
    train = result.value("train")
    assert train["TrainingJobStatus"] == "Completed"
    hyperparameters = {key: str(value) for key, value in train["HyperParameters"].items()}  # the summary decodes
    assert (hyperparameters["k"], hyperparameters["feature_dim"], hyperparameters["force_dense"]) == ("10", "64", "True")
    assert result.value("deploy")["EndpointStatus"] == "InService"
    prediction = result.value("predict")
    assert prediction["Count"] == 100
    answers = prediction["Predictions"]["predictions"]
    assert all(0 <= answer["closest_cluster"] < 10 and answer["distance_to_cluster"] >= 0 for answer in answers)
    clusters = result.value("clusters")
    assert len(set(clusters["clusters"])) >= 5  # the digits spread over the clusters
    assert clusters["purity"] > 0.5  # KMeans on digits: most clusters hold one digit mostly
    output = result.value("transform_output")
    assert output["count"] == 100 and output["clusters"] == clusters["clusters"]  # same model, same rows
    assert result.value("delete_endpoint")["Deleted"][0].startswith("Endpoint/")
