"""The training options users set on real SageMaker (``SageMakerClient.train`` /
``prepare_training_job``): where each lands in CreateTrainingJob, that bad values fail before any
upload naming the argument, ``dependencies`` packed beside the code, and role names expanded
through IAM (moto's S3 and IAM)."""

import io
import json
import tarfile

import boto3
import pytest
from moto import mock_aws

from smflow import builders
from smflow.client import SageMakerClient
from smflow.errors import ConfigurationError
from smflow.waiting import Backoff

BUCKET = "sagemaker-us-east-1-123456789012"


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield SageMakerClient(region_name="us-east-1", role="arn:aws:iam::123456789012:role/r",
                              backoff=Backoff.fixed(0.0), log=lambda line: None)


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("print('hi')\n")
    return path


def uploaded(client):
    return [item["Key"] for item in client.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_every_option_lands_where_the_sdk_puts_it(client, script):
    request = client.prepare_training_job(
        job_name="j", entry_point=str(script), inputs={"train": "s3://b/train",
                                                       "test": {"s3_data": "s3://b/test", "input_mode": "Pipe",
                                                                "distribution": "ShardedByS3Key"}},
        input_mode="FastFile", max_run=600, use_spot_instances=True, max_wait=900, max_retry_attempts=3,
        checkpoint_s3_uri="s3://b/ckpt", checkpoint_local_path="/opt/ml/checkpoints",
        output_kms_key="out-key", volume_kms_key="vol-key",
        metric_definitions=[{"Name": "acc", "Regex": "acc=([0-9.]+)"}],
        subnets=["subnet-1"], security_group_ids=["sg-1"], enable_network_isolation=True,
        environment={"A": 1}, tags={"team": "ml"},
    )
    assert request["AlgorithmSpecification"]["TrainingInputMode"] == "FastFile"
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == [{"Name": "acc", "Regex": "acc=([0-9.]+)"}]
    train, test, code = request["InputDataConfig"]  # network isolation: the code comes as a channel
    assert code["ChannelName"] == "code"
    assert code["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/j/source/sourcedir.tar.gz"
    assert json.loads(request["HyperParameters"]["sagemaker_submit_directory"]) == \
        "/opt/ml/input/data/code/sourcedir.tar.gz"
    assert "InputMode" not in train
    assert test["InputMode"] == "Pipe"
    assert test["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 900}
    assert request["EnableManagedSpotTraining"] is True
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 3}
    assert request["CheckpointConfig"] == {"S3Uri": "s3://b/ckpt", "LocalPath": "/opt/ml/checkpoints"}
    assert request["OutputDataConfig"]["KmsKeyId"] == "out-key"
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == "vol-key"
    assert request["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert request["EnableNetworkIsolation"] is True
    assert request["Environment"] == {"A": "1"}
    assert request["Tags"] == [{"Key": "team", "Value": "ml"}]


def test_options_left_out_leave_the_request_minimal(client, script):
    request = client.prepare_training_job(job_name="j", entry_point=str(script))
    for field in ("EnableManagedSpotTraining", "RetryStrategy", "CheckpointConfig", "VpcConfig",
                  "EnableNetworkIsolation", "Environment", "Tags", "InputDataConfig"):
        assert field not in request
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert "MetricDefinitions" not in request["AlgorithmSpecification"]


@pytest.mark.parametrize(("arguments", "message"), [
    ({"input_mode": "Stream"}, "input_mode must be one of File, Pipe, FastFile"),
    ({"inputs": {"train": {"s3_data": "s3://b/x", "input_mode": "pipe"}}},
     r"inputs\['train'\].input_mode must be one of File, Pipe, FastFile"),
    ({"inputs": {"train": {"s3_data": "s3://b/x", "mode": "Pipe"}}}, r"inputs\['train'\] has unknown keys"),
    ({"use_spot_instances": True}, "max_wait is required with use_spot_instances=True"),
    ({"use_spot_instances": True, "max_wait": 10, "max_run": 60}, "max_wait must be at least max_run"),
    ({"max_wait": 100}, "max_wait applies to spot training only"),
    ({"use_spot_instances": "yes"}, "use_spot_instances must be True or False"),
    ({"checkpoint_local_path": "/opt/ml/c"}, "checkpoint_local_path needs checkpoint_s3_uri"),
    ({"checkpoint_s3_uri": "/tmp/c"}, "checkpoint_s3_uri must be an s3:// URI"),
    ({"max_retry_attempts": 31}, "max_retry_attempts must be between 1 and 30"),
    ({"subnets": ["subnet-1"]}, "subnets and security_group_ids go together"),
    ({"subnets": "subnet-1", "security_group_ids": ["sg"]}, "subnets must be a list of IDs"),
    ({"metric_definitions": [{"Name": "acc"}]}, "metric_definitions must be a list of"),
    ({"enable_network_isolation": "maybe"}, "enable_network_isolation must be True or False"),
    ({"distribution": "mpi"}, "distribution must be a dict"),
    ({"dependencies": "lib"}, "dependencies must be a list of local folders"),
    ({"dependencies": ["/no/such/dir"]}, "dependencies: '/no/such/dir' is not a local folder"),
])
def test_bad_options_fail_before_any_upload_naming_the_argument(client, script, arguments, message):
    with pytest.raises(ConfigurationError, match=message):
        client.prepare_training_job(job_name="j", entry_point=str(script), **arguments)
    client.s3.create_bucket(Bucket=BUCKET)
    assert uploaded(client) == []


def test_train_checks_options_before_looking_up_or_uploading(client, script):
    calls = []
    client.__dict__["sagemaker"] = boto3.client("sagemaker", region_name="us-east-1")
    client.sagemaker.meta.events.register("before-call.sagemaker.*", lambda model, **kw: calls.append(model.name))
    with pytest.raises(ConfigurationError, match="input_mode must be one of"):
        client.train(entry_point=str(script), input_mode="Streaming", wait=False)
    assert calls == []


def test_dependencies_are_packed_beside_the_code(client, tmp_path, script):
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("import common\n")
    common = tmp_path / "libs" / "common"
    common.mkdir(parents=True)
    (common / "__init__.py").write_text("X = 1\n")
    (common / "__pycache__").mkdir()
    (common / "__pycache__" / "x.pyc").write_bytes(b"x")
    helper = tmp_path / "helper.py"
    helper.write_text("Y = 2\n")
    for job, arguments in (("a", {"source_dir": str(source), "entry_point": "train.py"}),
                           ("b", {"entry_point": str(script)})):
        request = client.prepare_training_job(job_name=job, dependencies=[str(common), str(helper)], **arguments)
        key = json.loads(request["HyperParameters"]["sagemaker_submit_directory"]).split(f"{BUCKET}/")[1]
        body = client.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            assert sorted(tar.getnames()) == ["common", "common/__init__.py", "helper.py", "train.py"]
    with pytest.raises(ConfigurationError, match="dependencies need a local source_dir"):
        client.prepare_training_job(job_name="c", entry_point="train.py", source_dir="s3://b/code.tar.gz",
                                    dependencies=[str(common)])


def test_a_role_name_becomes_its_arn_through_iam(monkeypatch, script):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        arn = iam.create_role(RoleName="SageMakerRole", AssumeRolePolicyDocument="{}",
                              Path="/service-role/")["Role"]["Arn"]
        client = SageMakerClient(region_name="us-east-1", role="SageMakerRole", log=lambda line: None)
        assert client.role_arn() == arn == "arn:aws:iam::123456789012:role/service-role/SageMakerRole"
        assert client.role_arn("arn:aws:iam::1:role/x") == "arn:aws:iam::1:role/x"
        request = client.prepare_training_job(job_name="j", entry_point=str(script))
        assert request["RoleArn"] == arn
        with pytest.raises(ConfigurationError, match="role 'Missing': IAM has no role of that name"):
            client.role_arn("Missing")


def test_against_a_custom_endpoint_a_role_name_expands_without_iam(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = SageMakerClient(region_name="us-east-1", endpoint_url="http://127.0.0.1:9", log=lambda line: None)
    client.__dict__["account_id"] = "123456789012"
    client._client = lambda service: pytest.fail(f"{service} called")  # no IAM, no STS
    assert client.role_arn("SageMakerRole") == "arn:aws:iam::123456789012:role/SageMakerRole"


def test_request_builder_takes_per_channel_training_input_arguments():
    (channel,) = builders.input_data_config({"train": {"s3_data": "s3://b/m.manifest", "s3_data_type": "ManifestFile",
                                                       "content_type": "text/csv", "compression": "Gzip",
                                                       "record_wrapping": "RecordIO"}})
    assert channel == {
        "ChannelName": "train",
        "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://b/m.manifest",
                                        "S3DataDistributionType": "FullyReplicated"}},
        "CompressionType": "Gzip", "ContentType": "text/csv", "RecordWrapperType": "RecordIO",
    }
