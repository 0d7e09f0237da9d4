"""Scheduled retraining: score a new model and the live one the same way, promote if not worse.

Both are scored by a batch transform of the same held-out features (so neither needs an extra
endpoint), and the new model replaces the live one through UpdateEndpoint only when its accuracy
is at least the live model's. Used by the Airflow DAG and the Prefect flow
``iris_scheduled_retraining`` alike.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from smflow.client import SageMakerClient
from smflow.examples import iris


def live_model_name(client: SageMakerClient, endpoint_name: str) -> str | None:
    """The model behind an endpoint's first production variant; None if there is no endpoint."""
    endpoint = client._describe_or_none(client.sagemaker.describe_endpoint, EndpointName=endpoint_name)
    if endpoint is None or endpoint.get("EndpointStatus") not in ("InService", "Updating"):
        return None
    config = client.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    return config["ProductionVariants"][0]["ModelName"]


def upload_holdout(client: SageMakerClient, key_prefix: str) -> tuple[str, list[float]]:
    """Upload the blog's 29 evaluation rows (features only) as CSV; return (S3 prefix, labels)."""
    features, labels = iris.blog_test_rows()
    with tempfile.TemporaryDirectory(prefix="smflow-holdout-") as scratch:
        path = iris.write_features_csv(Path(scratch) / "holdout.csv", features)
        uri = client.upload_data(path.parent, key_prefix=key_prefix)
    return uri, [float(label) for label in labels]


def score_model(
    client: SageMakerClient, model_name: str, features_uri: str, labels: list[float], *, idempotency_key: str | None = None
) -> float:
    """Accuracy of ``model_name`` on the held-out rows, by a batch transform (CSV in, CSV out)."""
    job = client.batch_transform(
        model_name=model_name, data=features_uri, content_type="text/csv", accept="text/csv",
        split_type="Line",
        base_job_name=f"score-{model_name}"[:40], idempotency_key=idempotency_key,
    )
    output = job["TransformOutput"]["S3OutputPath"].rstrip("/")
    bucket, _, key = f"{output}/holdout.csv.out"[5:].partition("/")
    body = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    predictions = np.array([float(line) for line in body.split()])
    return iris.accuracy(predictions, np.asarray(labels))


def should_promote(new_score: float, live_score: float | None) -> bool:
    """Promote when there is no live model, or the new one is at least as good."""
    return live_score is None or new_score >= live_score
