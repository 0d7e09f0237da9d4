"""SageMaker API responses for Stubber, shaped as the service model requires (Describe* payloads
as in the SageMaker API reference)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

ARN = "arn:aws:sagemaker:us-east-1:123456789012"
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 1, 1, 12, 5, 0, tzinfo=timezone.utc)
MODEL_DATA = "s3://test-bucket/{name}/output/model.tar.gz"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def training_job(name: str, status: str = "Completed", **extra) -> dict:
    secondary = {"Completed": "Completed", "InProgress": "Training", "Failed": "Failed",
                 "Stopped": "Stopped", "Stopping": "Stopping"}[status]
    description = {
        "TrainingJobName": name,
        "TrainingJobArn": f"{ARN}:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": MODEL_DATA.format(name=name)},
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": T0,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {
            "max_leaf_nodes": "30",
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://test-bucket/{name}/source/sourcedir.tar.gz"),
        },
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "OutputDataConfig": {"S3OutputPath": "s3://test-bucket/out"},
    }
    if status in ("Completed", "Failed", "Stopped"):
        description.update(TrainingStartTime=T0, TrainingEndTime=T1, TrainingTimeInSeconds=300,
                           BillableTimeInSeconds=300)
    description.update(extra)
    return description


def transform_job(name: str, status: str = "Completed", model: str = "iris-model", **extra) -> dict:
    description = {
        "TransformJobName": name,
        "TransformJobArn": f"{ARN}:transform-job/{name}",
        "TransformJobStatus": status,
        "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://test-bucket/in"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://test-bucket/{name}", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
        "CreationTime": T0,
    }
    if status in ("Completed", "Failed", "Stopped"):
        description.update(TransformStartTime=T0, TransformEndTime=T1)
    description.update(extra)
    return description


def endpoint(name: str, status: str = "InService", config: str = "iris-config", **extra) -> dict:
    description = {
        "EndpointName": name,
        "EndpointArn": f"{ARN}:endpoint/{name}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": T0,
        "LastModifiedTime": T1,
    }
    description.update(extra)
    return description


def endpoint_config(name: str, model: str, instance_count: int = 1) -> dict:
    return {
        "EndpointConfigName": name,
        "EndpointConfigArn": f"{ARN}:endpoint-config/{name}",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": instance_count,
                                "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}],
        "CreationTime": T0,
    }


def model(name: str, model_data: str | None = None) -> dict:
    return {
        "ModelName": name,
        "ModelArn": f"{ARN}:model/{name}",
        "CreationTime": T0,
        "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": model_data or MODEL_DATA.format(name=name)},
    }
