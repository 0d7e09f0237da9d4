"""Small, JSON-serializable summaries of Describe* payloads.

What an Airflow operator pushes to XCom and a Prefect task returns: names, ARNs, S3 URIs,
status, key metrics, datetimes as ISO 8601 strings. Never a whole describe payload.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _decode_hyperparameters(hyperparameters: dict[str, str] | None) -> dict[str, Any]:
    decoded = {}
    for key, value in (hyperparameters or {}).items():
        if key.startswith("sagemaker_"):
            continue
        try:
            decoded[key] = json.loads(value)
        except (TypeError, ValueError):
            decoded[key] = value
    return decoded


def training_job_summary(description: dict) -> dict:
    """``{"TrainingJobName", "TrainingJobArn", "TrainingJobStatus", "SecondaryStatus",
    "ModelDataUrl", "HyperParameters", "TrainingStartTime", "TrainingEndTime",
    "TrainingTimeInSeconds", "BillableTimeInSeconds", "FinalMetrics", "FailureReason"}``"""
    metrics = {
        metric["MetricName"]: metric["Value"]
        for metric in description.get("FinalMetricDataList", []) or []
    }
    return {
        "TrainingJobName": description.get("TrainingJobName"),
        "TrainingJobArn": description.get("TrainingJobArn"),
        "TrainingJobStatus": description.get("TrainingJobStatus"),
        "SecondaryStatus": description.get("SecondaryStatus"),
        "ModelDataUrl": (description.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
        "HyperParameters": _decode_hyperparameters(description.get("HyperParameters")),
        "TrainingStartTime": _iso(description.get("TrainingStartTime")),
        "TrainingEndTime": _iso(description.get("TrainingEndTime")),
        "TrainingTimeInSeconds": description.get("TrainingTimeInSeconds"),
        "BillableTimeInSeconds": description.get("BillableTimeInSeconds"),
        "FinalMetrics": metrics,
        "FailureReason": description.get("FailureReason"),
    }


def model_summary(description: dict) -> dict:
    container = description.get("PrimaryContainer") or {}
    return {
        "ModelName": description.get("ModelName"),
        "ModelArn": description.get("ModelArn"),
        "Image": container.get("Image"),
        "ModelDataUrl": container.get("ModelDataUrl"),
    }


def endpoint_summary(description: dict) -> dict:
    return {
        "EndpointName": description.get("EndpointName"),
        "EndpointArn": description.get("EndpointArn"),
        "EndpointStatus": description.get("EndpointStatus"),
        "EndpointConfigName": description.get("EndpointConfigName"),
        "CreationTime": _iso(description.get("CreationTime")),
        "LastModifiedTime": _iso(description.get("LastModifiedTime")),
        "FailureReason": description.get("FailureReason"),
    }


def transform_job_summary(description: dict) -> dict:
    return {
        "TransformJobName": description.get("TransformJobName"),
        "TransformJobArn": description.get("TransformJobArn"),
        "TransformJobStatus": description.get("TransformJobStatus"),
        "ModelName": description.get("ModelName"),
        "OutputPath": (description.get("TransformOutput") or {}).get("S3OutputPath"),
        "TransformStartTime": _iso(description.get("TransformStartTime")),
        "TransformEndTime": _iso(description.get("TransformEndTime")),
        "FailureReason": description.get("FailureReason"),
    }
