"""The training and model operators without code (``smflow.resources.specs``: ``algorithm``,
``image_uri``) over a real SageMakerClient whose boto3 calls are stubbed: Amazon's KMeans on a
record set (the XCom of an upstream ``record_set`` task), a bring-your-own image, and the model
of such an image; a bad hyperparameter fails the task before any request."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException
from smflow_airflow.operators.sagemaker import SageMakerCreateModelOperator, SageMakerTrainOperator

from ..conftest import ROLE, make_context
from ..responses import ARN, training_job
from .common import FAST, PARAMS, stable

RECORD_SET = {"s3_data": "s3://test-bucket/sagemaker-record-sets/KMeans-0123456789abcdef/.amazon.manifest",
              "s3_data_type": "ManifestFile", "distribution": "ShardedByS3Key", "channel": "train",
              "num_records": 1797, "feature_dim": 64}
BYO_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algorithm:latest"


def test_train_kmeans_on_a_record_set_sends_the_algorithm_request(stubbed):
    operator = SageMakerTrainOperator(task_id="train", algorithm="kmeans", hyperparameters={"k": "{{ params.k }}"},
                                      inputs=RECORD_SET, role=ROLE, wait_for_completion=False, **FAST)
    context = make_context("train", params={**PARAMS, "k": 10})
    operator.render_template_fields(context)
    name = stable("train", "train")
    stubbed.not_found("describe_training_job", TrainingJobName=name)
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": f"{ARN}:training-job/{name}"}, {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1",
                                   "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {"force_dense": "True", "k": "10", "feature_dim": "64"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "ManifestFile", "S3Uri": RECORD_SET["s3_data"], "S3DataDistributionType": "ShardedByS3Key"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://test-bucket/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    })
    stubbed.s3.add_response("head_bucket", {}, {"Bucket": "test-bucket"})  # output path
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"), {"TrainingJobName": name})
    result = operator.execute(context)
    assert result["TrainingJobStatus"] == "InProgress"


def test_a_missing_required_hyperparameter_fails_the_task_before_any_request(stubbed):
    operator = SageMakerTrainOperator(task_id="train", algorithm="pca",
                                      hyperparameters={"feature_dim": 64, "mini_batch_size": 100},
                                      inputs="s3://test-bucket/data", role=ROLE, **FAST)
    with pytest.raises(AirflowFailException, match="PCA hyperparameter 'num_components' is required"):
        operator.execute(make_context("train", params=PARAMS))
    stubbed.assert_done()  # nothing was called


def test_a_model_of_a_bring_your_own_image_has_no_code(stubbed):
    operator = SageMakerCreateModelOperator(task_id="model", model_data="s3://test-bucket/model.tar.gz",
                                            image_uri=BYO_IMAGE, model_name="byo", role=ROLE)
    stubbed.not_found("describe_model", ModelName="byo")
    stubbed.sagemaker.add_response("create_model", {"ModelArn": f"{ARN}:model/byo"}, {
        "ModelName": "byo", "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": BYO_IMAGE, "Environment": {}, "ModelDataUrl": "s3://test-bucket/model.tar.gz"},
    })
    stubbed.sagemaker.add_response("describe_model", {
        "ModelName": "byo", "ModelArn": f"{ARN}:model/byo", "CreationTime": 0,
        "PrimaryContainer": {"Image": BYO_IMAGE, "ModelDataUrl": "s3://test-bucket/model.tar.gz"}})
    result = operator.execute(make_context("model", params=PARAMS))
    stubbed.assert_done()
    assert result["Image"] == BYO_IMAGE and result["ModelName"] == "byo"
