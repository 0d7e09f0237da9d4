
import pytest

from smflow import builders, frameworks
from smflow.errors import ConfigurationError
from smflow.frameworks import script_mode
from smflow.image_uris import parse_image_uri

sklearn_image_uri = frameworks.get("sklearn").image_uri


def test_script_mode_hyperparameters_are_json_encoded_like_the_sdk():
    encoded = script_mode.script_mode_hyperparameters(
        {"max_leaf_nodes": 30, "criterion": "gini", "lr": 0.1},
        program="scikit_learn_iris.py",
        submit_directory="s3://b/job/source/sourcedir.tar.gz",
        region="us-east-1",
        job_name="job",
    )
    assert encoded == {
        "max_leaf_nodes": "30",
        "criterion": '"gini"',
        "lr": "0.1",
        "sagemaker_program": '"scikit_learn_iris.py"',
        "sagemaker_submit_directory": '"s3://b/job/source/sourcedir.tar.gz"',
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": '"job"',
        "sagemaker_region": '"us-east-1"',
    }
    assert all(isinstance(value, str) for value in encoded.values())


def test_single_uri_is_the_default_train_channel():
    (channel,) = builders.input_data_config("s3://bucket/data")
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"] == {
        "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/data", "S3DataDistributionType": "FullyReplicated"}


def test_channel_dict_and_raw_channels():
    channels = builders.input_data_config(
        {"train": "s3://b/train", "test": {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/t", "S3DataType": "S3Prefix"}}}})
    assert [c["ChannelName"] for c in channels] == ["train", "test"]
    assert channels[1]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://b/t"


def test_local_path_input_is_refused_with_the_fix():
    with pytest.raises(ConfigurationError, match=r"inputs\['train'\] must be an s3:// URI"):
        builders.input_data_config({"train": "./data"})


def test_training_request_shape():
    request = builders.training_job_request(
        job_name="j", image_uri="img", role="arn:aws:iam::123456789012:role/r", hyperparameters={"a": "1"},
        inputs="s3://b/d", output_path="s3://b/out", instance_type="ml.c4.xlarge", max_run=600)
    assert request["ResourceConfig"] == {"InstanceType": "ml.c4.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert request["AlgorithmSpecification"] == {"TrainingImage": "img", "TrainingInputMode": "File"}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://b/out"}


def test_transform_request_shape():
    request = builders.transform_job_request(
        job_name="t", model_name="m", data="s3://b/in", output_path="s3://b/out", instance_count=2)
    assert request["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
        "CompressionType": "None", "SplitType": "Line", "ContentType": "text/csv"}
    assert request["BatchStrategy"] == "MultiRecord" and request["MaxPayloadInMB"] == 6
    assert request["TransformOutput"] == {"S3OutputPath": "s3://b/out", "AssembleWith": "Line"}
    assert request["TransformResources"]["InstanceCount"] == 2
    with pytest.raises(ConfigurationError, match="data must be an s3:// URI"):
        builders.transform_job_request(job_name="t", model_name="m", data="/tmp/x", output_path="s3://b/o")


def test_coerce_to_shape_converts_templated_numbers():
    request = {
        "TrainingJobName": "j",
        "ResourceConfig": {"InstanceCount": "1", "InstanceType": "ml.m5.large", "VolumeSizeInGB": " 30 "},
        "StoppingCondition": {"MaxRuntimeInSeconds": "3600"},
        "HyperParameters": {"max_leaf_nodes": "30"},
        "EnableNetworkIsolation": "true",
    }
    coerced = builders.coerce_to_shape(request, "CreateTrainingJob")
    assert coerced["ResourceConfig"] == {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
    assert coerced["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert coerced["HyperParameters"] == {"max_leaf_nodes": "30"}  # strings in the API: untouched
    assert coerced["EnableNetworkIsolation"] is True
    assert builders.coerce_to_shape({"ResourceConfig": {"InstanceCount": "one"}}, "CreateTrainingJob")[
        "ResourceConfig"]["InstanceCount"] == "one"  # left for botocore to report by field


def test_sklearn_image_uris():
    assert sklearn_image_uri("us-east-1", "1.2-1") == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert sklearn_image_uri("cn-north-1", "0.23-1").startswith(
        "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:0.23-1")
    ref = parse_image_uri(sklearn_image_uri("eu-west-1"))
    assert frameworks.for_image(sklearn_image_uri("eu-west-1")) == (frameworks.get("sklearn"), "1.2-1")
    assert ref.region == "eu-west-1" and ref.framework_version == "1.2-1"
    with pytest.raises(ConfigurationError, match="framework_version '9.9'"):
        sklearn_image_uri("us-east-1", "9.9")
    with pytest.raises(ConfigurationError, match="region 'mars-1'"):
        sklearn_image_uri("mars-1")
    assert parse_image_uri("python:3.11") is None


def test_transform_request_without_split_type_leaves_it_to_sagemaker():
    request = builders.transform_job_request(
        job_name="t", model_name="m", data="s3://b/in", output_path="s3://b/out", split_type=None,
        batch_strategy=None, max_payload_mb=None, assemble_with=None)
    assert "SplitType" not in request["TransformInput"]
    assert "BatchStrategy" not in request and "MaxPayloadInMB" not in request
    assert "AssembleWith" not in request["TransformOutput"]
    import botocore.session
    from botocore.validate import validate_parameters

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "CreateTransformJob").input_shape
    validate_parameters(request, shape)  # what botocore would send: no ParamValidationError


@pytest.mark.parametrize("value, expected", [(2, 2), ("2", 2), (" 30 ", 30), (3.0, 3), ("+4", 4)])
def test_integer_arguments_accept_templated_digits(value, expected):
    assert builders.as_int(value, "instance_count") == expected


@pytest.mark.parametrize("value", ["two", "2.5", 2.5, True, None, "", [2]])
def test_integer_arguments_name_the_field_and_the_type(value):
    with pytest.raises(ConfigurationError, match=r"instance_count must be an integer \(e\.g\. 2\), got"):
        builders.as_int(value, "instance_count")


@pytest.mark.parametrize("build, field", [
    (lambda: builders.endpoint_config_request(config_name="c", model_name="m", initial_instance_count="two"),
     "initial_instance_count"),
    (lambda: builders.training_job_request(job_name="j", image_uri="i", role="r", hyperparameters={}, inputs=None,
                                           output_path="s3://b/", volume_size="big"), "volume_size"),
    (lambda: builders.training_job_request(job_name="j", image_uri="i", role="r", hyperparameters={}, inputs=None,
                                           output_path="s3://b/", max_run="1h"), "max_run"),
    (lambda: builders.transform_job_request(job_name="t", model_name="m", data="s3://b/i", output_path="s3://b/o",
                                            max_payload_mb="six"), "max_payload_mb"),
    (lambda: builders.transform_job_request(job_name="t", model_name="m", data="s3://b/i", output_path="s3://b/o",
                                            max_concurrent_transforms="x"), "max_concurrent_transforms"),
    (lambda: builders.transform_job_request(job_name="t", model_name="m", data="s3://b/i", output_path="s3://b/o",
                                            instance_count="x"), "instance_count"),
])
def test_request_builders_report_bad_integers_by_field(build, field):
    with pytest.raises(ConfigurationError, match=f"^{field} must be an integer"):
        build()


def test_request_builders_accept_rendered_integers():
    config = builders.endpoint_config_request(config_name="c", model_name="m", initial_instance_count="2")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    request = builders.transform_job_request(job_name="t", model_name="m", data="s3://b/i", output_path="s3://b/o",
                                             max_payload_mb="6", max_concurrent_transforms="4", instance_count="2")
    assert (request["MaxPayloadInMB"], request["MaxConcurrentTransforms"],
            request["TransformResources"]["InstanceCount"]) == (6, 4, 2)
