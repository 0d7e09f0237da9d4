"""Which existing job or model a call reuses: retries and reruns never launch a duplicate, never
silently reuse one made for other arguments, and never overwrite stored code. Against moto's
SageMaker and S3 (training jobs are Completed at once there) and, for the states moto does not
have (Stopping), stubbed responses."""

import io
import os
import tarfile

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from smflow.client import SageMakerClient
from smflow.errors import ConfigurationError, WaitTimeoutError
from smflow.waiting import Backoff

BUCKET = "sagemaker-us-east-1-123456789012"
ROLE = "arn:aws:iam::123456789012:role/r"


@pytest.fixture
def lines():
    return []


@pytest.fixture
def client(monkeypatch, lines):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = SageMakerClient(region_name="us-east-1", role=ROLE, backoff=Backoff.fixed(0.0), log=lines.append)
        client.__dict__["sagemaker"] = boto3.client("sagemaker", region_name="us-east-1")
        yield client


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("print('training')\n")
    return str(path)


def keys(client, prefix=""):
    listed = client.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def sdk_train(client, script, **overrides):
    arguments = {"entry_point": script, "job_name": "iris", "hyperparameters": {"max_leaf_nodes": 30},
                 "inputs": "s3://data/iris", "wait": False}
    return client.train(**{**arguments, **overrides})


# ---------------------------------------------------------------------- training jobs
def test_same_arguments_reuse_the_job_without_uploading_code(client, script, lines):
    first = sdk_train(client, script)
    code_before = keys(client)
    again = sdk_train(client, script, hyperparameters={"max_leaf_nodes": "30"})  # templated: same value
    assert again["TrainingJobArn"] == first["TrainingJobArn"]
    assert keys(client) == code_before == ["iris/source/sourcedir.tar.gz"]
    assert any("iris already exists (Completed); attaching" in line for line in lines)


@pytest.mark.parametrize("hyperparameters", [
    {"lr": "1e-3"}, {"lr": "0.0010"}, {"layers": "[64,32]"}, {"options": '{"a":1}'}, {"name": '"q"'},
    {"padded": " 30"}, {"lr": 0.001, "layers": [64, 32], "deep": True, "note": "plain text"},
])
def test_a_retry_with_the_same_hyperparameters_reuses_the_job(client, script, hyperparameters):
    """Strings that look like JSON (a templated "1e-3", "[64,32]") are sent JSON-encoded, as the SDK
    does; the retry must compare them the same way, or every retry would start another paid job."""
    first = sdk_train(client, script, hyperparameters=hyperparameters)
    again = sdk_train(client, script, hyperparameters=hyperparameters)
    assert again["TrainingJobName"] == first["TrainingJobName"] == "iris"


def test_a_hyperparameter_json_cannot_encode_is_named(client, script):
    class Opaque:
        pass

    with pytest.raises(ConfigurationError, match=r"hyperparameters\['depth'\].*pass a str, int"):
        sdk_train(client, script, hyperparameters={"depth": Opaque()})
    buckets = [bucket["Name"] for bucket in client.s3.list_buckets()["Buckets"]]
    assert all(client.s3.list_objects_v2(Bucket=b)["KeyCount"] == 0 for b in buckets)  # nothing uploaded


def test_other_hyperparameters_start_the_next_suffix_and_say_why(client, script, lines):
    sdk_train(client, script)
    changed = sdk_train(client, script, hyperparameters={"max_leaf_nodes": 5})
    assert changed["TrainingJobName"] == "iris-2"
    assert changed["HyperParameters"]["max_leaf_nodes"] == "5"
    (why,) = [line for line in lines if "not reusing it" in line]
    assert "TrainingJob iris exists (Completed)" in why and "HyperParameters.max_leaf_nodes" in why
    # the rerun of the changed call finds iris-2, not iris, and uploads nothing more
    code_before = keys(client)
    assert sdk_train(client, script, hyperparameters={"max_leaf_nodes": 5})["TrainingJobName"] == "iris-2"
    assert keys(client) == code_before


@pytest.mark.parametrize("overrides, field", [
    ({"inputs": {"train": "s3://data/other"}}, "InputDataConfig.train"),
    ({"inputs": {"training": "s3://data/iris"}}, "InputDataConfig.training"),
    ({"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1"}, "TrainingImage"),
    ({"framework_version": "0.23-1"}, "TrainingImage"),
    ({"output_path": "s3://elsewhere/out"}, "S3OutputPath"),
    ({"instance_type": "ml.c5.xlarge"}, "InstanceType"),
])
def test_each_compared_field_makes_a_job_different(client, script, lines, overrides, field):
    sdk_train(client, script)
    assert sdk_train(client, script, **overrides)["TrainingJobName"] == "iris-2"
    (why,) = [line for line in lines if "not reusing it" in line]
    assert field in why


def test_arguments_left_unset_are_not_compared(client, script):
    first = sdk_train(client, script)
    again = client.train(entry_point=script, job_name="iris", wait=False)  # no hyperparameters, no inputs
    assert again["TrainingJobArn"] == first["TrainingJobArn"]


def test_raw_config_is_compared_too(client, lines):
    config = {
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "HyperParameters": {"max_leaf_nodes": "30"},
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": "1", "VolumeSizeInGB": "30"},
        "StoppingCondition": {"MaxRuntimeInSeconds": "60"},
    }
    first = client.train(config=config, job_name="raw", wait=False)
    assert client.train(config=config, job_name="raw", wait=False)["TrainingJobArn"] == first["TrainingJobArn"]
    changed = {**config, "HyperParameters": {"max_leaf_nodes": "5"}}
    assert client.train(config=changed, job_name="raw", wait=False)["TrainingJobName"] == "raw-2"
    assert any("HyperParameters.max_leaf_nodes" in line for line in lines)
    without = {key: value for key, value in config.items() if key != "HyperParameters"}  # not set: not compared
    assert client.train(config=without, job_name="raw", wait=False)["TrainingJobArn"] == first["TrainingJobArn"]


def stopping_job(name, status):
    return {
        "TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "TrainingJobStatus": status, "SecondaryStatus": status, "CreationTime": 0,
        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/out/{name}/output/model.tar.gz"},
    }


RAW = {
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
}


def test_a_stopping_job_is_waited_for_then_followed_by_the_next_suffix(client, lines):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", stopping_job("t", "Stopping"), {"TrainingJobName": "t"})
        stub.add_response("describe_training_job", stopping_job("t", "Stopping"), {"TrainingJobName": "t"})
        stub.add_response("describe_training_job", stopping_job("t", "Stopped"), {"TrainingJobName": "t"})
        stub.add_client_error("describe_training_job", service_error_code="ValidationException",
                              service_message="Requested resource not found.",
                              expected_params={"TrainingJobName": "t-2"})
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:x"},
                          {**RAW, "TrainingJobName": "t-2", "RoleArn": ROLE})
        stub.add_response("describe_training_job", stopping_job("t-2", "InProgress"), {"TrainingJobName": "t-2"})
        result = client.train(config=RAW, job_name="t", wait=False)
        stub.assert_no_pending_responses()
    assert result["TrainingJobName"] == "t-2"
    assert any("t is Stopping; waiting" in line for line in lines)


def test_a_stopping_job_that_completed_after_all_is_reused(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", stopping_job("t", "Stopping"), {"TrainingJobName": "t"})
        stub.add_response("describe_training_job", stopping_job("t", "Completed"), {"TrainingJobName": "t"})
        stub.add_response("describe_training_job", stopping_job("t", "Completed"), {"TrainingJobName": "t"})
        assert client.train(config=RAW, job_name="t", wait=False)["TrainingJobName"] == "t"
        stub.assert_no_pending_responses()  # no create_training_job


def test_the_wait_for_a_stopping_job_is_bounded_by_the_timeout(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", stopping_job("t", "Stopping"), {"TrainingJobName": "t"})
        stub.add_response("describe_training_job", stopping_job("t", "Stopping"), {"TrainingJobName": "t"})
        with pytest.raises(WaitTimeoutError, match="'t' still Stopping after 0 s"):
            client.train(config=RAW, job_name="t", timeout=0)


# ---------------------------------------------------------------------- transform jobs
def transform_job(name, data="s3://b/in", status="Completed", split="Line"):
    transform_input = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data}},
                       "ContentType": "text/csv", "CompressionType": "None", "SplitType": split}
    return {
        "TransformJobName": name, "TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
        "TransformJobStatus": status, "ModelName": "m", "CreationTime": 0, "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6, "TransformInput": transform_input,
        "TransformOutput": {"S3OutputPath": "s3://b/out", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }


def not_found(stub, method, **params):
    stub.add_client_error(method, service_error_code="ValidationException",
                          service_message="Could not find it.", expected_params=params)


def test_a_transform_job_over_other_data_is_not_reused(client, lines):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_transform_job", transform_job("s"), {"TransformJobName": "s"})
        not_found(stub, "describe_transform_job", TransformJobName="s-2")
        stub.add_response("describe_model", {"ModelName": "m", "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
                                             "CreationTime": 0}, {"ModelName": "m"})
        stub.add_response("create_transform_job", {"TransformJobArn": "arn:x"})
        stub.add_response("describe_transform_job", transform_job("s-2", "s3://b/new", "InProgress"),
                          {"TransformJobName": "s-2"})
        result = client.batch_transform(model_name="m", data="s3://b/new", output_path="s3://b/out",
                                        job_name="s", wait=False)
    assert result["TransformJobName"] == "s-2"
    assert any("differs from this request in S3Uri" in line for line in lines)


def test_a_matching_transform_job_is_reused_and_unset_fields_are_not_compared(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_transform_job", transform_job("s"), {"TransformJobName": "s"})
        stub.add_response("describe_transform_job", transform_job("s"), {"TransformJobName": "s"})
        result = client.batch_transform(model_name="m", data="s3://b/in", split_type=None, batch_strategy=None,
                                        job_name="s", wait=False)  # default output path: not compared
        stub.assert_no_pending_responses()
    assert result["TransformJobName"] == "s"


def test_batch_transform_with_an_unknown_model_names_it(client):
    with Stubber(client.sagemaker) as stub:
        not_found(stub, "describe_transform_job", TransformJobName="s")
        not_found(stub, "describe_model", ModelName="nope")
        with pytest.raises(ConfigurationError, match="Model 'nope' not found; check model_name"):
            client.batch_transform(model_name="nope", data="s3://b/in", job_name="s")
        stub.assert_no_pending_responses()  # no create_transform_job


def test_split_type_none_leaves_split_type_out_of_the_request(client):
    with Stubber(client.sagemaker) as stub:
        not_found(stub, "describe_transform_job", TransformJobName="s")
        stub.add_response("describe_model", {"ModelName": "m", "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
                                             "CreationTime": 0})
        stub.add_response("create_transform_job", {"TransformJobArn": "arn:x"}, {
            "TransformJobName": "s", "ModelName": "m",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
                               "CompressionType": "None", "ContentType": "text/csv"},
            "TransformOutput": {"S3OutputPath": "s3://b/out", "AssembleWith": "Line"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6,
        })
        stub.add_response("describe_transform_job", transform_job("s", status="InProgress", split="None"))
        client.batch_transform(model_name="m", data="s3://b/in", output_path="s3://b/out", split_type=None,
                               job_name="s", wait=False)
        stub.assert_no_pending_responses()


# ---------------------------------------------------------------------- models
def model_code(client, model_name):
    env = client.sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]["Environment"]
    return env["SAGEMAKER_PROGRAM"], env["SAGEMAKER_SUBMIT_DIRECTORY"]


def test_model_code_goes_under_a_content_key_and_recreating_is_idempotent(client, tmp_path):
    inference = tmp_path / "serve.py"
    inference.write_text("def model_fn(model_dir):\n    return None\n")
    first = client.create_model(model_name="m", model_data="s3://b/model.tar.gz", entry_point=str(inference))
    program, submit = model_code(client, "m")
    assert program == "serve.py"
    assert submit.startswith(f"s3://{BUCKET}/m/model-code-") and submit.endswith("/sourcedir.tar.gz")
    os.utime(inference, (1_000_000, 1_000_000))  # a fresh checkout: same content, other mtime
    again = client.create_model(model_name="m", model_data="s3://b/model.tar.gz", entry_point=str(inference))
    assert again["ModelArn"] == first["ModelArn"] and model_code(client, "m") == (program, submit)
    assert keys(client, "m/") == [submit[len(f"s3://{BUCKET}/"):]]


def test_another_entry_point_for_an_existing_model_is_refused_and_its_code_kept(client, tmp_path):
    serve = tmp_path / "serve.py"
    serve.write_text("def model_fn(model_dir):\n    return 1\n")
    other = tmp_path / "other.py"
    other.write_text("def model_fn(model_dir):\n    return 2\n")
    client.create_model(model_name="m", model_data="s3://b/model.tar.gz", entry_point=str(serve))
    stored = keys(client)
    with pytest.raises(ConfigurationError, match=r"model_name 'm' already exists with another container .*"
                                                 r"Environment.SAGEMAKER_PROGRAM.*pass a new model_name"):
        client.create_model(model_name="m", model_data="s3://b/model.tar.gz", entry_point=str(other))
    serve.write_text("def model_fn(model_dir):\n    return 3\n")  # same name, edited code
    with pytest.raises(ConfigurationError, match="SAGEMAKER_SUBMIT_DIRECTORY"):
        client.create_model(model_name="m", model_data="s3://b/model.tar.gz", entry_point=str(serve))
    assert keys(client) == stored  # nothing uploaded for the refused calls
    assert model_code(client, "m")[0] == "serve.py"
    with pytest.raises(ConfigurationError, match="different ModelDataUrl"):
        client.create_model(model_name="m", model_data="s3://b/other.tar.gz", entry_point=str(other))


def test_model_code_never_overwrites_the_training_code(client, script):
    job = sdk_train(client, script)  # its code: iris/source/sourcedir.tar.gz
    training_code = client.s3.get_object(Bucket=BUCKET, Key="iris/source/sourcedir.tar.gz")["Body"].read()
    source = os.path.dirname(script)
    with open(os.path.join(source, "serve.py"), "w") as handle:
        handle.write("def model_fn(model_dir):\n    return None\n")
    client.create_model(training_job_name=job["TrainingJobName"], entry_point="serve.py", source_dir=source)
    assert client.s3.get_object(Bucket=BUCKET, Key="iris/source/sourcedir.tar.gz")["Body"].read() == training_code
    program, submit = model_code(client, "iris")
    assert program == "serve.py" and "/iris/model-code-" in submit
    body = client.s3.get_object(Bucket=BUCKET, Key=submit[len(f"s3://{BUCKET}/"):])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert sorted(tar.getnames()) == ["serve.py", "train.py"]


def test_a_model_from_the_training_code_is_reused_with_the_same_container(client, script):
    job = sdk_train(client, script)
    first = client.create_model(training_job_name=job["TrainingJobName"])
    assert model_code(client, "iris") == ("train.py", f"s3://{BUCKET}/iris/source/sourcedir.tar.gz")
    assert client.create_model(training_job_name=job["TrainingJobName"])["ModelArn"] == first["ModelArn"]


def test_create_model_from_an_unknown_training_job_names_it(client):
    with pytest.raises(ConfigurationError, match="TrainingJob 'nope' not found; check training_job_name"):
        client.create_model(training_job_name="nope")


def test_create_model_from_a_running_training_job_is_refused(client):
    with Stubber(client.sagemaker) as stub:
        stub.add_response("describe_training_job", stopping_job("t", "InProgress"))
        with pytest.raises(ConfigurationError, match="'t' is InProgress, it has no model data yet"):
            client.create_model(training_job_name="t")



def test_a_multi_container_model_is_compared_container_by_container(client):
    config = {"ModelName": "mc", "Containers": [{"Image": "a", "Environment": {"X": "1"}}]}
    first = client.create_model(config=config)
    assert client.create_model(config=config)["ModelArn"] == first["ModelArn"]
    with pytest.raises(ConfigurationError, match=r"different Containers\)"):
        client.create_model(config={**config, "Containers": [{"Image": "a", "Environment": {"X": "2"}}]})


# ---------------------------------------------------------------------- endpoint configs
def test_a_config_name_taken_by_other_variants_gets_a_stable_name_that_a_retry_reuses(client):
    from smflow import builders

    def request(count):
        return builders.endpoint_config_request(config_name="iris", model_name="iris",
                                                instance_type="ml.m5.large", initial_instance_count=count)

    client.sagemaker.create_model(ModelName="iris", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "image"})
    assert client._create_or_reuse_endpoint_config(request(1)) == "iris"
    other = client._create_or_reuse_endpoint_config(request(2))
    assert other.startswith("iris-") and other != "iris"
    assert client._create_or_reuse_endpoint_config(request(2)) == other  # the retry: no third config
    assert client._create_or_reuse_endpoint_config(request(1)) == "iris"
    names = {c["EndpointConfigName"] for c in client.sagemaker.list_endpoint_configs()["EndpointConfigs"]}
    assert names == {"iris", other}
