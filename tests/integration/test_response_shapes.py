"""Describe*/List* answers of the runtime have the shape of real SageMaker answers, member by
member: every member of the reference responses below (real answers for the same requests,
written down from SageMaker's API reference response syntax and from what its clients read with
``[...]``: the SageMaker Python SDK's ``Estimator.attach``/``Transformer.attach``, Airflow's Amazon
provider, the AWS CLI's waiters) is there, with the same type, and the defaults SageMaker fills in
for what a request left out have SageMaker's values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smflow import codecs
from smflow.examples import iris

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
ANY_STR = "..."

# A Completed training job of the SageMaker Python SDK's SKLearn estimator (no KMS key, no VPC).
TRAINING_JOB = {
    "TrainingJobName": ANY_STR, "TrainingJobArn": ANY_STR,
    "ModelArtifacts": {"S3ModelArtifacts": ANY_STR},
    "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed",
    "HyperParameters": {"max_leaf_nodes": "30"},
    "AlgorithmSpecification": {"TrainingImage": ANY_STR, "TrainingInputMode": "File",
                               "EnableSageMakerMetricsTimeSeries": False},
    "RoleArn": ANY_STR,
    "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": ANY_STR, "S3DataDistributionType": "FullyReplicated"}},
        "CompressionType": "None", "RecordWrapperType": "None"}],
    "OutputDataConfig": {"KmsKeyId": "", "S3OutputPath": ANY_STR, "CompressionType": "GZIP"},
    "ResourceConfig": {"InstanceType": ANY_STR, "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    "CreationTime": NOW, "TrainingStartTime": NOW, "TrainingEndTime": NOW, "LastModifiedTime": NOW,
    "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": NOW, "EndTime": NOW,
                                    "StatusMessage": "Preparing the instances for training"}],
    "EnableNetworkIsolation": False, "EnableInterContainerTrafficEncryption": False,
    "EnableManagedSpotTraining": False,
    "TrainingTimeInSeconds": 1, "BillableTimeInSeconds": 1,
}
MODEL = {
    "ModelName": ANY_STR, "ModelArn": ANY_STR, "ExecutionRoleArn": ANY_STR, "CreationTime": NOW,
    "PrimaryContainer": {"Image": ANY_STR, "Mode": "SingleModel", "ModelDataUrl": ANY_STR,
                         "Environment": {"SAGEMAKER_PROGRAM": ANY_STR}},
    "EnableNetworkIsolation": False,
}
ENDPOINT_CONFIG = {
    "EndpointConfigName": ANY_STR, "EndpointConfigArn": ANY_STR, "CreationTime": NOW,
    "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": ANY_STR, "InitialInstanceCount": 1,
                            "InstanceType": ANY_STR, "InitialVariantWeight": 1.0}],
}
ENDPOINT = {
    "EndpointName": ANY_STR, "EndpointArn": ANY_STR, "EndpointConfigName": ANY_STR,
    "ProductionVariants": [{"VariantName": "AllTraffic",
                            "DeployedImages": [{"SpecifiedImage": ANY_STR, "ResolvedImage": ANY_STR,
                                                "ResolutionTime": NOW}],
                            "CurrentWeight": 1.0, "DesiredWeight": 1.0,
                            "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}],
    "EndpointStatus": "InService", "CreationTime": NOW, "LastModifiedTime": NOW,
}
TRANSFORM_JOB = {
    "TransformJobName": ANY_STR, "TransformJobArn": ANY_STR, "TransformJobStatus": "Completed",
    "ModelName": ANY_STR, "BatchStrategy": "MultiRecord", "Environment": {},
    "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": ANY_STR}},
                       "ContentType": "text/csv", "CompressionType": "None", "SplitType": "Line"},
    "TransformOutput": {"S3OutputPath": ANY_STR, "Accept": "text/csv", "AssembleWith": "Line", "KmsKeyId": ""},
    "TransformResources": {"InstanceType": ANY_STR, "InstanceCount": 1},
    "CreationTime": NOW, "TransformStartTime": NOW, "TransformEndTime": NOW,
    "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"},
}
SUMMARIES = {
    "TrainingJobSummaries": {"TrainingJobName": ANY_STR, "TrainingJobArn": ANY_STR, "CreationTime": NOW,
                             "TrainingEndTime": NOW, "LastModifiedTime": NOW, "TrainingJobStatus": "Completed",
                             "SecondaryStatus": "Completed"},
    "TransformJobSummaries": {"TransformJobName": ANY_STR, "TransformJobArn": ANY_STR, "CreationTime": NOW,
                              "TransformEndTime": NOW, "LastModifiedTime": NOW, "TransformJobStatus": "Completed"},
    "Models": {"ModelName": ANY_STR, "ModelArn": ANY_STR, "CreationTime": NOW},
    "EndpointConfigs": {"EndpointConfigName": ANY_STR, "EndpointConfigArn": ANY_STR, "CreationTime": NOW},
    "Endpoints": {"EndpointName": ANY_STR, "EndpointArn": ANY_STR, "CreationTime": NOW,
                  "LastModifiedTime": NOW, "EndpointStatus": "InService"},
}
# Members whose reference value is SageMaker's default (compared by value, not only by type).
DEFAULTS = {"KmsKeyId", "CompressionType", "RecordWrapperType", "S3DataDistributionType", "SplitType",
            "AssembleWith", "InputFilter", "OutputFilter", "JoinSource", "Mode", "EnableNetworkIsolation",
            "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining",
            "EnableSageMakerMetricsTimeSeries", "TrainingInputMode", "InitialVariantWeight", "CurrentWeight",
            "DesiredWeight", "CurrentInstanceCount", "DesiredInstanceCount"}


def differences(reference: Any, answer: Any, path: str = "") -> list[str]:
    """Where ``answer`` lacks a member of ``reference`` or has another type (or, for
    :data:`DEFAULTS` and statuses, another value)."""
    if isinstance(reference, dict):
        if not isinstance(answer, dict):
            return [f"{path or '<top>'}: {type(answer).__name__} instead of an object"]
        found = []
        for key, value in reference.items():
            where = f"{path}.{key}" if path else key
            if key not in answer:
                found.append(f"{where}: missing")
            else:
                found += differences(value, answer[key], where)
                if (key in DEFAULTS or key.endswith("Status")) and not isinstance(value, (dict, list)) \
                        and answer[key] != value:
                    found.append(f"{where}: {answer[key]!r} instead of {value!r}")
        return found
    if isinstance(reference, list):
        if not isinstance(answer, list) or not answer:
            return [f"{path}: {answer!r} instead of a non-empty list"]
        return differences(reference[0], answer[0], f"{path}[0]")
    if isinstance(reference, float) and isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return []
    if type(answer) is not type(reference):
        return [f"{path}: {type(answer).__name__} instead of {type(reference).__name__}"]
    return []


def test_describe_and_list_answers_have_sagemakers_members_and_defaults(runtime, iris_job):
    sagemaker = runtime.boto3_client("sagemaker")
    s3 = runtime.boto3_client("s3")
    name = "shapes"
    job = sagemaker.describe_training_job(TrainingJobName=iris_job["TrainingJobName"])
    assert differences(TRAINING_JOB, job) == []
    transitions = job["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t["StartTime"] <= t["EndTime"] for t in transitions)
    assert job["TrainingTimeInSeconds"] == job["BillableTimeInSeconds"] >= 0

    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": job["AlgorithmSpecification"]["TrainingImage"],
        "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        "Environment": {"SAGEMAKER_PROGRAM": "scikit_learn_iris.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": job["HyperParameters"]["sagemaker_submit_directory"].strip('"')}})
    assert differences(MODEL, sagemaker.describe_model(ModelName=name)) == []
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    assert differences(ENDPOINT_CONFIG, sagemaker.describe_endpoint_config(EndpointConfigName=name)) == []

    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    # a local endpoint starts within CreateEndpoint's wait: InService at the first look
    endpoint = sagemaker.describe_endpoint(EndpointName=name)
    assert differences(ENDPOINT, endpoint) == []

    features, _ = iris.blog_test_rows()
    s3.create_bucket(Bucket="shapes")
    s3.put_object(Bucket="shapes", Key="in/a.csv", Body=codecs.encode(features, "text/csv"))
    sagemaker.create_transform_job(
        TransformJobName=name, ModelName=name, BatchStrategy="MultiRecord",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://shapes/in/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://shapes/out", "AssembleWith": "Line", "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sagemaker.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    assert differences(TRANSFORM_JOB, sagemaker.describe_transform_job(TransformJobName=name)) == []

    for key, operation in (("TrainingJobSummaries", sagemaker.list_training_jobs),
                           ("TransformJobSummaries", sagemaker.list_transform_jobs),
                           ("Models", sagemaker.list_models), ("EndpointConfigs", sagemaker.list_endpoint_configs),
                           ("Endpoints", sagemaker.list_endpoints)):
        summaries = operation(StatusEquals="Completed") if key.endswith("JobSummaries") else operation()
        assert summaries[key], key
        assert differences(SUMMARIES[key], summaries[key][0], key) == []

    sagemaker.delete_endpoint(EndpointName=name)
    with pytest.raises(sagemaker.exceptions.ClientError) as info:  # gone once DeleteEndpoint answered
        sagemaker.describe_endpoint(EndpointName=name)
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_reference_comparison_reports_missing_members_and_other_defaults():
    answer = {**TRAINING_JOB, "OutputDataConfig": {"S3OutputPath": "s3://b/o"}, "EnableNetworkIsolation": True}
    del answer["TrainingTimeInSeconds"]
    assert sorted(differences(TRAINING_JOB, answer)) == [
        "EnableNetworkIsolation: True instead of False", "OutputDataConfig.CompressionType: missing",
        "OutputDataConfig.KmsKeyId: missing", "TrainingTimeInSeconds: missing"]
