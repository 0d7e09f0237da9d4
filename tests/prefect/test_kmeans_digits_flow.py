"""The ``kmeans-digits`` example flow (the SDK README's KMeans example on scikit-learn's digits)
run against a real smflow local runtime: record set -> train Amazon's KMeans -> model -> endpoint
-> predict (RecordIO-protobuf in, JSON out) -> batch transform (SplitType RecordIO) -> delete
the endpoint."""

from __future__ import annotations

import pytest

pytest.importorskip("prefect")

from .test_flows import endpoint_names, load_flow_module

pytestmark = pytest.mark.integration


def test_kmeans_digits_flow(runtime):
    module = load_flow_module("kmeans_digits")
    state = module.kmeans_digits(aws_credentials=runtime.credentials(), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()

    records = result["record_set"]
    assert records["s3_data"].endswith("/.amazon.manifest") and (records["num_records"], records["feature_dim"]) == (
        1697, 64)
    hyperparameters = {key: str(value) for key, value in result["hyperparameters"].items()}  # the summary decodes
    assert (hyperparameters["k"], hyperparameters["feature_dim"], hyperparameters["force_dense"]) == ("10", "64", "True")
    sagemaker = runtime.boto3_client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=result["training_job"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/kmeans:1")
    channel = job["InputDataConfig"][0]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3DataType"] == "ManifestFile"
    assert len(result["clusters"]) == 100 and len(set(result["clusters"])) >= 5
    assert result["purity"] > 0.5  # KMeans on digits: most clusters hold one digit mostly
    assert result["transform_clusters"] == result["clusters"]  # the same model on the same rows
    assert result["endpoint"] not in endpoint_names(runtime)  # deleted at the end
