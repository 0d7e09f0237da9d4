"""SageMaker responses for botocore's Stubber, shaped as the SageMaker API reference."""

from __future__ import annotations

from datetime import datetime, timezone

ACCOUNT = "123456789012"
T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 21, 10, 0, 7, tzinfo=timezone.utc)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:{kind}/{name}"


def not_found(stub, method: str, message: str = "Requested resource not found.", **params) -> None:
    stub.add_client_error(method, service_error_code="ValidationException", service_message=message,
                          expected_params=params or None)


def training_job(name: str, status: str, reason: str | None = None, **fields) -> dict:
    """A DescribeTrainingJob payload; ``fields`` replace top-level entries (e.g. to match what a
    request asked for: smflow reuses an existing job only when it matches)."""
    description = {
        "TrainingJobName": name, "TrainingJobArn": arn("training-job", name),
        "TrainingJobStatus": status, "SecondaryStatus": "Training" if status == "InProgress" else status,
        "CreationTime": T0,
        "AlgorithmSpecification": {"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                                   "TrainingInputMode": "File"},
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bucket/{name}/output/model.tar.gz"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "HyperParameters": {"max_leaf_nodes": "30", "sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": f'"s3://bucket/{name}/source/sourcedir.tar.gz"'},
        "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": T0, "StatusMessage": "Preparing"}],
    }
    if status != "InProgress":
        description.update(TrainingStartTime=T0, TrainingEndTime=T1, TrainingTimeInSeconds=7, BillableTimeInSeconds=7)
    if reason:
        description["FailureReason"] = reason
    description.update(fields)
    return description


def model(name: str) -> dict:
    return {"ModelName": name, "ModelArn": arn("model", name), "CreationTime": T0,
            "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
            "PrimaryContainer": {"Image": "sklearn-image", "ModelDataUrl": f"s3://bucket/{name}/output/model.tar.gz"}}


def endpoint_config(name: str, model_name: str) -> dict:
    return {"EndpointConfigName": name, "EndpointConfigArn": arn("endpoint-config", name), "CreationTime": T0,
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model_name,
                                    "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]}


def endpoint(name: str, status: str, config_name: str, reason: str | None = None) -> dict:
    description = {"EndpointName": name, "EndpointArn": arn("endpoint", name), "EndpointConfigName": config_name,
                   "EndpointStatus": status, "CreationTime": T0, "LastModifiedTime": T1}
    if reason:
        description["FailureReason"] = reason
    return description


def transform_job(name: str, status: str, model_name: str = "iris-model", output: str = "s3://bucket/scores",
                  reason: str | None = None) -> dict:
    description = {
        "TransformJobName": name, "TransformJobArn": arn("transform-job", name), "TransformJobStatus": status,
        "ModelName": model_name, "CreationTime": T0,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in/"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": output},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6,  # batch_transform's defaults
    }
    description["TransformOutput"]["AssembleWith"] = "Line"
    if reason:
        description["FailureReason"] = reason
    return description


def deployment(stub, name: str, model_name: str, *statuses: str) -> None:
    """The calls of ``deploy`` creating endpoint ``name`` on config ``model_name`` that goes
    through ``statuses`` (e.g. "Creating", "InService")."""
    not_found(stub, "describe_endpoint_config", f'Could not find endpoint configuration "{model_name}".',
              EndpointConfigName=model_name)
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": arn("endpoint-config", model_name)})
    not_found(stub, "describe_endpoint", f'Could not find endpoint "{name}".', EndpointName=name)
    stub.add_response("create_endpoint", {"EndpointArn": arn("endpoint", name)},
                      {"EndpointName": name, "EndpointConfigName": model_name})
    for status in statuses:
        reason = "the model server did not start" if status == "Failed" else None
        stub.add_response("describe_endpoint", endpoint(name, status, model_name, reason), {"EndpointName": name})


def deletion(stub, name: str, config_name: str, model_name: str) -> None:
    """The calls of ``delete_endpoint`` on a live endpoint (config deleted, model kept)."""
    stub.add_response("describe_endpoint", endpoint(name, "InService", config_name), {"EndpointName": name})
    stub.add_response("describe_endpoint_config", endpoint_config(config_name, model_name),
                      {"EndpointConfigName": config_name})
    stub.add_response("delete_endpoint", {}, {"EndpointName": name})
    not_found(stub, "describe_endpoint", f'Could not find endpoint "{name}".', EndpointName=name)
    stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": config_name})
