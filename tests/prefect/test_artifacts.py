"""What the artifacts say: training job markdown, predictions table, S3 links."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

pytest.importorskip("prefect")

from smflow_prefect.artifacts import (  # noqa: E402
    console_link,
    predictions_table,
    s3_browser_link,
    training_job_markdown,
)


def at(second: int) -> datetime:
    return datetime(2026, 11, 21, 10, 0, second, tzinfo=timezone.utc)


def test_training_job_markdown_shows_status_durations_hyperparameters_and_model():
    description = {
        "TrainingJobName": "iris-0123456789", "TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/iris",
        "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
        "TrainingStartTime": at(1), "TrainingEndTime": at(9), "TrainingTimeInSeconds": 8, "BillableTimeInSeconds": 8,
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/iris-0123456789/output/model.tar.gz"},
        "AlgorithmSpecification": {"TrainingImage": "sklearn:1.2-1"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "HyperParameters": {"max_leaf_nodes": "30", "sagemaker_program": '"train.py"'},
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": at(0), "EndTime": at(1), "StatusMessage": "Preparing"},
            {"Status": "Training", "StartTime": at(1), "EndTime": at(8), "StatusMessage": "Training | in progress"},
            {"Status": "Completed", "StartTime": at(9), "StatusMessage": "done"},
        ],
        "FinalMetricDataList": [{"MetricName": "accuracy", "Value": 0.97}],
    }
    markdown = training_job_markdown(description)
    assert markdown.startswith("# Training job `iris-0123456789`")
    assert "| Status | Completed (Completed) |" in markdown
    assert "| Training time | 8 s |" in markdown
    assert "| Model artifacts | `s3://b/iris-0123456789/output/model.tar.gz` |" in markdown
    assert "| max_leaf_nodes | 30 |" in markdown and "sagemaker_program" not in markdown
    assert "| Training | 2026-11-21T10:00:01+00:00 | 7.0 s | Training \\| in progress |" in markdown
    assert "| accuracy | 0.97 |" in markdown
    assert "FailureReason" not in markdown


def test_training_job_markdown_leads_with_the_failure_reason():
    markdown = training_job_markdown({"TrainingJobName": "t", "TrainingJobStatus": "Failed",
                                      "SecondaryStatus": "Failed", "FailureReason": "AlgorithmError: no label"})
    assert "**FailureReason:** AlgorithmError: no label" in markdown.split("| |")[0]


def test_predictions_table_names_features_and_caps_rows():
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    table = predictions_table(rows, [0.0, 2.0, 1.0], ["sl", "sw", "pl", "pw"], max_rows=2)
    assert table == [{"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2, "prediction": 0.0},
                     {"sl": 6.7, "sw": 3.0, "pl": 5.2, "pw": 2.3, "prediction": 2.0}]
    assert predictions_table([1.5, 2.5], [[0.1, 0.9], [0.8, 0.2]]) == [
        {"x0": 1.5, "prediction": [0.1, 0.9]}, {"x0": 2.5, "prediction": [0.8, 0.2]}]


def test_s3_links_point_at_the_console_on_aws_and_at_the_runtime_locally():
    assert s3_browser_link("s3://bucket/out/job", endpoint_url=None, region="eu-west-1") == (
        "https://s3.console.aws.amazon.com/s3/buckets/bucket?region=eu-west-1&prefix=out/job/")
    assert s3_browser_link("s3://bucket/out/job/", endpoint_url="http://127.0.0.1:9510/", region="us-east-1") == (
        "http://127.0.0.1:9510/console/s3/bucket?prefix=out%2Fjob%2F")
    assert s3_browser_link("s3://bucket", endpoint_url="http://127.0.0.1:9510", region="us-east-1") == (
        "http://127.0.0.1:9510/console/s3/bucket")


@pytest.mark.parametrize("kind, route, page", [
    ("training-job", "jobs", "training-jobs"), ("transform-job", "transform-jobs", "transform-jobs"),
    ("model", "models", "models"), ("endpoint", "endpoints", "endpoints"),
])
def test_console_links_point_at_sagemaker_on_aws_and_at_the_local_console_locally(kind, route, page):
    assert console_link(kind, "iris-1", endpoint_url=None, region="eu-west-1") == (
        f"https://console.aws.amazon.com/sagemaker/home?region=eu-west-1#/{route}/iris-1")
    assert console_link(kind, "iris-1", endpoint_url="http://127.0.0.1:9510/", region="us-east-1") == (
        f"http://127.0.0.1:9510/console/{page}/iris-1")
    assert console_link(kind, "iris-1", endpoint_url=None, region="cn-north-1").startswith(
        "https://console.amazonaws.cn/sagemaker/home?region=cn-north-1#")


def test_console_link_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        console_link("notebook", "n", endpoint_url=None, region="us-east-1")


def test_training_job_markdown_links_the_console_page():
    markdown = training_job_markdown({"TrainingJobName": "t", "TrainingJobStatus": "Completed",
                                      "SecondaryStatus": "Completed"},
                                     console_url="http://127.0.0.1:9510/console/training-jobs/t")
    assert "[Open in the console](http://127.0.0.1:9510/console/training-jobs/t)" in markdown
