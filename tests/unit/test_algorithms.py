"""Amazon's built-in algorithms in the client: hyperparameters checked before any request,
record sets on S3 (moto), scriptless train and create_model, predict's answers as Python data.
(tests/sdk/test_algorithms_parity.py compares the requests and record sets with the SDK's.)"""

import json

import boto3
import numpy as np
import pytest
from moto import mock_aws
from smflow import algorithms, recordio
from smflow.client import SageMakerClient
from smflow.errors import ConfigurationError
from smflow.resources.endpoints import decode_answer, prediction_rows
from smflow.waiting import Backoff


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = SageMakerClient(region_name="us-east-1", role="arn:aws:iam::123456789012:role/r",
                                 backoff=Backoff.fixed(0.0), log=lambda line: None)
        client.__dict__["sagemaker"] = boto3.client("sagemaker", region_name="us-east-1")
        yield client


def test_the_algorithms_and_their_images_for_a_region():
    assert algorithms.names() == ("kmeans", "linear-learner", "pca", "xgboost")
    assert algorithms.get("kmeans").image_uri("eu-west-1") == "438346466558.dkr.ecr.eu-west-1.amazonaws.com/kmeans:1"
    assert algorithms.get("xgboost").image_uri("us-east-1", "1.5-1").endswith("/sagemaker-xgboost:1.5-1")
    with pytest.raises(ConfigurationError, match="algorithm 'knn' is not supported: use one of kmeans, linear-learner"):
        algorithms.get("knn")
    with pytest.raises(ConfigurationError, match="region 'mars-1' is not available"):
        algorithms.get("pca").image_uri("mars-1")


@pytest.mark.parametrize("name, hyperparameters, message", [
    ("kmeans", {"feature_dim": 64}, "K-Means hyperparameter 'k' is required"),
    ("kmeans", {"k": 10}, "'feature_dim' is required: pass it in hyperparameters, or train on record_set"),
    ("kmeans", {"k": 10, "feature_dim": 64, "init_method": "kmeans+"}, "must be one of random, kmeans\\+\\+"),
    ("kmeans", {"k": 10, "feature_dim": 64, "local_lloyd_tol": 2}, "'local_lloyd_tol' must be at most 1"),
    ("kmeans", {"k": 10, "feature_dim": 64, "max_iterations": 5}, "'max_iterations' is not a hyperparameter"),
    ("pca", {"num_components": 3, "feature_dim": 64}, "'mini_batch_size' is required"),
    ("pca", {"num_components": 80, "feature_dim": 64, "mini_batch_size": 10}, "cannot exceed feature_dim"),
    ("linear-learner", {"feature_dim": 4}, "Linear Learner hyperparameter 'predictor_type' is required"),
    ("linear-learner", {"predictor_type": "multiclass_classifier"}, "'num_classes' is required when predictor_type"),
    ("linear-learner", {"predictor_type": "regressor", "use_bias": "maybe"}, "'use_bias' must be True or False"),
    ("xgboost", {"eta": 0.1}, "XGBoost hyperparameter 'num_round' is required"),
    ("xgboost", {"num_round": "ten"}, "'num_round' must be an integer, got 'ten'"),
])
def test_bad_hyperparameters_are_named_with_the_fix(name, hyperparameters, message):
    with pytest.raises(algorithms.HyperparameterError, match=message):
        algorithms.get(name).training_hyperparameters(hyperparameters)


def test_hyperparameters_are_written_as_the_sdks_estimators_write_them():
    assert algorithms.get("linear-learner").training_hyperparameters(
        {"predictor_type": "binary_classifier", "normalize_data": "false", "learning_rate": "auto", "epochs": 5.0},
        num_records=5000, feature_dim=8, instance_count=2,
    ) == {"predictor_type": "binary_classifier", "normalize_data": "False", "learning_rate": "auto", "epochs": "5",
          "feature_dim": "8", "mini_batch_size": "1000"}
    assert algorithms.get("kmeans").training_hyperparameters({"k": "3", "eval_metrics": "msd,ssd"}, feature_dim=2) == {
        "force_dense": "True", "k": "3", "eval_metrics": '["msd", "ssd"]', "feature_dim": "2"}
    assert algorithms.get("xgboost").training_hyperparameters({"num_round": 10, "eta": 1}) == {
        "num_round": "10", "eta": "1"}  # as given: the SDK's plain Estimator writes str(value)


def test_a_bad_hyperparameter_sends_nothing(client):
    with pytest.raises(algorithms.HyperparameterError, match="'k' is required"):
        client.train(algorithm="kmeans", hyperparameters={"feature_dim": 4}, inputs="s3://b/data", wait=False)
    assert client.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def test_record_set_writes_shards_and_the_manifest(client):
    features = np.arange(70, dtype=np.float64).reshape(10, 7)
    labels = np.arange(10) % 2
    records = client.record_set(features, labels, instance_count=3, algorithm="linear-learner")
    assert records["s3_data_type"] == "ManifestFile" and records["distribution"] == "ShardedByS3Key"
    assert (records["channel"], records["num_records"], records["feature_dim"]) == ("train", 10, 7)
    bucket, _, key = records["s3_data"][5:].partition("/")
    assert key.startswith("sagemaker-record-sets/LinearLearner-") and key.endswith("/.amazon.manifest")
    manifest = json.loads(client.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    prefix = manifest[0]["prefix"]
    assert prefix == records["s3_data"].rsplit("/", 1)[0] + "/"
    assert manifest[1:] == ["matrix_0.pbr", "matrix_1.pbr", "matrix_2.pbr"]  # 3 rows, 3 rows, the last 4
    rows, read_labels = [], []
    for name in manifest[1:]:
        body = client.s3.get_object(Bucket=bucket, Key=f"{key.rsplit('/', 1)[0]}/{name}")["Body"].read()
        shard_features, shard_labels = recordio.records_to_numpy(recordio.read_records(body))
        assert shard_features.dtype == np.float32  # what the algorithms read
        rows.append(shard_features)
        read_labels.append(shard_labels)
    assert [len(shard) for shard in rows] == [3, 3, 4]
    assert np.array_equal(np.concatenate(rows), features) and np.array_equal(np.concatenate(read_labels), labels)
    # the same data again: the same folder (a retried task writes the same objects)
    assert client.record_set(features, labels, instance_count=3, algorithm="linear-learner") == records
    with pytest.raises(ConfigurationError, match="instance_count \\(11\\) must be between 1 and the number of rows"):
        client.record_set(features, instance_count=11)
    with pytest.raises(ConfigurationError, match="labels must be a 1-D array of 10 values"):
        client.record_set(features, labels[:4])


def test_train_on_a_record_set_takes_feature_dim_and_mini_batch_size_from_it(client):
    records = client.record_set(np.ones((40, 5)), algorithm="pca")
    job = client.train(algorithm="pca", hyperparameters={"num_components": 2}, inputs=records, wait=False)
    request = client.sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
    assert request["HyperParameters"] == {"num_components": "2", "feature_dim": "5", "mini_batch_size": "40"}
    assert request["AlgorithmSpecification"]["TrainingImage"] == "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
    (channel,) = request["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"] == {"S3DataType": "ManifestFile", "S3Uri": records["s3_data"],
                                                     "S3DataDistributionType": "ShardedByS3Key"}
    assert job["TrainingJobName"].startswith("pca-")


def test_scriptless_train_and_create_model_for_any_image(client):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algorithm:1"
    job = client.train(image_uri=image, hyperparameters={"epochs": 3, "layers": [2, 3]}, inputs="s3://b/data",
                       job_name="byo-1", wait=False)
    request = client.sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
    assert request["HyperParameters"] == {"epochs": "3", "layers": "[2, 3]"}
    assert request["AlgorithmSpecification"]["TrainingImage"] == image
    with pytest.raises(ConfigurationError, match="entry_point is required with model_data .* or image_uri"):
        client.create_model(model_data="s3://b/model.tar.gz")
    model = client.create_model(model_data="s3://b/model.tar.gz", image_uri=image, model_name="byo-model",
                                environment={"MODE": "fast"})
    described = client.sagemaker.describe_model(ModelName=model["ModelName"])
    assert described["PrimaryContainer"]["Image"] == image
    assert described["PrimaryContainer"]["Environment"] == {"MODE": "fast"}
    algorithm_model = client.create_model(model_data="s3://b/model.tar.gz", algorithm="kmeans")
    assert algorithm_model["Image"].endswith("/kmeans:1") and algorithm_model["ModelName"].startswith("kmeans-")
    with pytest.raises(ConfigurationError, match="algorithm trains without a script"):
        client.train(algorithm="kmeans", entry_point="train.py")


def test_answers_come_back_as_python_data():
    kmeans_json = b'{"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 2.5}]}'
    answer = decode_answer(kmeans_json, "application/json")
    assert answer == {"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 2.5}]}
    assert prediction_rows(answer) == [{"closest_cluster": 1.0, "distance_to_cluster": 2.5}]
    assert decode_answer(b'{"projection": [1.5]}\n{"projection": [2.5]}\n', "application/jsonlines") == [
        {"projection": [1.5]}, {"projection": [2.5]}]
    body = recordio.encode_record(label={"score": 0.75, "predicted_label": 1.0})
    assert decode_answer(body, "application/x-recordio-protobuf") == [{"score": 0.75, "predicted_label": 1.0}]
    assert decode_answer(b"[1, 2]", "application/json").tolist() == [1, 2]  # a list stays an array
