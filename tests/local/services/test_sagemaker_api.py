"""The SageMaker API of the local runtime answers unmodified boto3 clients: resource CRUD and
errors, List* filters and pagination, job and endpoint lifecycles (with the executor test doubles),
and its JSON 1.1 wire protocol (validation against botocore's model, AWS-shaped errors,
timestamps as epoch numbers)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from ..conftest import FAST_WAIT, ROLE, create_config, create_fake_model
from ..wire import error_of, sagemaker_call


# ------------------------------------------------------------------------------ models --
def test_model_crud_and_errors(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    arn = sm.create_model(ModelName="Iris-Model", ExecutionRoleArn=ROLE,
                          PrimaryContainer={"Image": "img:1", "ModelDataUrl": "s3://b/model.tar.gz",
                                            "Environment": {"SAGEMAKER_PROGRAM": "train.py"}})["ModelArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:model/iris-model"

    described = sm.describe_model(ModelName="Iris-Model")
    assert described["ModelName"] == "Iris-Model" and described["ModelArn"] == arn
    assert described["PrimaryContainer"]["Environment"] == {"SAGEMAKER_PROGRAM": "train.py"}
    assert described["ExecutionRoleArn"] == ROLE
    assert isinstance(described["CreationTime"], dt.datetime)
    assert abs(described["CreationTime"].timestamp() - time.time()) < 60
    assert sm.describe_model(ModelName="iris-model")["ModelName"] == "Iris-Model"  # case-insensitive

    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="iris-MODEL", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"})
    assert error_of(info) == ("ValidationException", f'Cannot create already existing model "{arn}".')

    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="no-role", PrimaryContainer={"Image": "img:1"})
    code, message = error_of(info)
    assert code == "ValidationException" and "ExecutionRoleArn" in message

    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="no-container", ExecutionRoleArn=ROLE)
    assert "PrimaryContainer" in error_of(info)[1]

    sm.delete_model(ModelName="Iris-Model")
    for call in (sm.describe_model, sm.delete_model):
        with pytest.raises(ClientError) as info:
            call(ModelName="Iris-Model")
        assert error_of(info) == ("ValidationException", f'Could not find model "{arn}".')


def test_endpoint_config_crud_and_errors(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    create_fake_model(sm, "m1")
    arn = sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "m1", "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])["EndpointConfigArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/cfg"
    described = sm.describe_endpoint_config(EndpointConfigName="cfg")
    variant = described["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InitialVariantWeight"]) == ("m1", 1.0)

    with pytest.raises(ClientError) as info:
        create_config(sm, "cfg", "m1")
    assert error_of(info) == ("ValidationException",
                              f'Cannot create already existing endpoint configuration "{arn}".')
    with pytest.raises(ClientError) as info:
        create_config(sm, "cfg2", "missing-model")
    assert error_of(info) == (
        "ValidationException",
        'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/missing-model".')
    with pytest.raises(ClientError) as info:
        sm.create_endpoint_config(EndpointConfigName="capture", ProductionVariants=[{
            "VariantName": "v", "ModelName": "m1", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
            DataCaptureConfig={"InitialSamplingPercentage": 10, "DestinationS3Uri": "s3://b/c",
                               "CaptureOptions": [{"CaptureMode": "Input"}]})
    code, message = error_of(info)
    assert code == "ValidationException" and "DataCaptureConfig" in message

    sm.delete_endpoint_config(EndpointConfigName="cfg")
    with pytest.raises(ClientError) as info:
        sm.describe_endpoint_config(EndpointConfigName="cfg")
    assert error_of(info) == ("ValidationException", f'Could not find endpoint configuration "{arn}".')


# ------------------------------------------------------------------- lists and paging --
def test_list_models_filters_sorts_and_paginates(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    names = ["alpha-1", "beta-1", "alpha-2", "gamma-1", "alpha-3"]
    for name in names:
        create_fake_model(sm, name)
        time.sleep(0.01)  # distinct CreationTime

    default = [m["ModelName"] for m in sm.list_models()["Models"]]
    assert default == list(reversed(names))  # CreationTime, Descending
    ascending = sm.list_models(SortBy="Name", SortOrder="Ascending")["Models"]
    assert [m["ModelName"] for m in ascending] == sorted(names)
    assert set(ascending[0]) == {"ModelName", "ModelArn", "CreationTime"}  # ModelSummary

    assert [m["ModelName"] for m in sm.list_models(NameContains="ALPHA", SortBy="Name",
                                                    SortOrder="Ascending")["Models"]] == \
        ["alpha-1", "alpha-2", "alpha-3"]
    # botocore sends timestamps in whole seconds: filter around an hour ago and an hour ahead
    hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    assert len(sm.list_models(CreationTimeAfter=hour_ago)["Models"]) == 5
    assert sm.list_models(CreationTimeBefore=hour_ago)["Models"] == []
    assert sm.list_models(CreationTimeAfter=hour_ago + dt.timedelta(hours=2))["Models"] == []

    seen, token, pages = [], None, 0
    while True:
        page = sm.list_models(MaxResults=2, SortBy="Name", **({"NextToken": token} if token else {}))
        seen += [m["ModelName"] for m in page["Models"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and seen == sorted(names, reverse=True)

    paginated = sm.get_paginator("list_models").paginate(PaginationConfig={"PageSize": 2})
    assert sorted(m["ModelName"] for page in paginated for m in page["Models"]) == sorted(names)

    with pytest.raises(ClientError) as info:
        sm.list_models(NextToken="not-a-token")
    code, message = error_of(info)
    assert code == "ValidationException" and "NextToken" in message


def test_list_training_jobs_by_status(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    for name in ("job-a", "job-b", "job-c"):
        create_training_job(sm, name)
    fake_runtime.executors.runs["job-b"].finish("Completed", SecondaryStatus="Completed")
    in_progress = sm.list_training_jobs(StatusEquals="InProgress")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in in_progress] == ["job-a", "job-c"]  # default Ascending
    completed = sm.list_training_jobs(StatusEquals="Completed", NameContains="b")["TrainingJobSummaries"]
    assert [(j["TrainingJobName"], j["TrainingJobStatus"]) for j in completed] == [("job-b", "Completed")]
    by_status = sm.list_training_jobs(SortBy="Status", SortOrder="Ascending")["TrainingJobSummaries"]
    assert [j["TrainingJobStatus"] for j in by_status] == ["Completed", "InProgress", "InProgress"]


# -------------------------------------------------------------------------- jobs (doubles) --
def create_training_job(sm, name: str) -> str:
    return sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                                                 "sagemaker-scikit-learn:1.2-1-cpu-py3",
                                "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )["TrainingJobArn"]


def test_training_job_lifecycle_and_errors(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    arn = create_training_job(sm, "train-1")
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:training-job/train-1"
    run = fake_runtime.executors.runs["train-1"]
    assert run.started.is_set() and run.description["TrainingJobArn"] == arn
    described = sm.describe_training_job(TrainingJobName="train-1")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("InProgress", "Starting")

    with pytest.raises(ClientError) as info:
        create_training_job(sm, "train-1")
    code, message = error_of(info)
    assert code == "ResourceInUse" and arn in message

    sm.stop_training_job(TrainingJobName="train-1")
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName="train-1", WaiterConfig=FAST_WAIT)
    assert run.stopped.is_set()
    assert sm.describe_training_job(TrainingJobName="train-1")["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as info:
        sm.stop_training_job(TrainingJobName="train-1")
    assert error_of(info)[0] == "ValidationException" and "Stopped" in error_of(info)[1]

    for call in (sm.describe_training_job, sm.stop_training_job):
        with pytest.raises(ClientError) as info:
            call(TrainingJobName="missing")
        assert error_of(info) == ("ValidationException", "Requested resource not found.")

    # a late progress update after the terminal status changes nothing
    run.finish("Completed")
    assert sm.describe_training_job(TrainingJobName="train-1")["TrainingJobStatus"] == "Stopped"


def test_transform_job_needs_an_existing_model(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    request = dict(TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
                                   "ContentType": "text/csv"},
                   TransformOutput={"S3OutputPath": "s3://b/out"},
                   TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    with pytest.raises(ClientError) as info:
        sm.create_transform_job(TransformJobName="t1", ModelName="nope", **request)
    assert error_of(info)[1] == 'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/nope".'
    create_fake_model(sm, "m")
    sm.create_transform_job(TransformJobName="t1", ModelName="m", **request)
    with pytest.raises(ClientError) as info:
        sm.create_transform_job(TransformJobName="t1", ModelName="m", **request)
    assert error_of(info)[0] == "ResourceInUse"
    fake_runtime.executors.runs["t1"].finish("Completed", TransformEndTime=time.time())
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="t1", WaiterConfig=FAST_WAIT)
    summaries = sm.list_transform_jobs(StatusEquals="Completed")["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in summaries] == ["t1"] and "LastModifiedTime" in summaries[0]


# ------------------------------------------------------------------- endpoints (doubles) --
def test_endpoint_create_invoke_update_delete(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    smr = fake_runtime.client("sagemaker-runtime")
    create_config(sm, "cfg-v1", create_fake_model(sm, "model-v1", FAKE_HOLD="1", FAKE_TAG="v1"))
    create_config(sm, "cfg-v2", create_fake_model(sm, "model-v2", FAKE_HOLD="1", FAKE_TAG="v2"))
    gates = fake_runtime.executors.gates
    arn = sm.create_endpoint(EndpointName="Iris-Endpoint", EndpointConfigName="cfg-v1")["EndpointArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/iris-endpoint"
    assert sm.describe_endpoint(EndpointName="Iris-Endpoint")["EndpointStatus"] == "Creating"
    with pytest.raises(ClientError) as info:  # not yet InService: like AWS, "not found"
        smr.invoke_endpoint(EndpointName="Iris-Endpoint", Body=b"1", ContentType="text/csv")
    assert error_of(info) == ("ValidationError", "Endpoint Iris-Endpoint of account 123456789012 not found.")

    gates["v1"].set()
    sm.get_waiter("endpoint_in_service").wait(EndpointName="Iris-Endpoint", WaiterConfig=FAST_WAIT)
    described = sm.describe_endpoint(EndpointName="Iris-Endpoint")
    assert described["EndpointConfigName"] == "cfg-v1"
    assert described["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1

    answer = smr.invoke_endpoint(EndpointName="Iris-Endpoint", Body=b"5.1,3.5", ContentType="text/csv",
                                 Accept="application/json", CustomAttributes="trace=1")
    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert json.loads(answer["Body"].read()) == {"tag": "v1", "body": "5.1,3.5", "accept": "application/json",
                                                 "custom_attributes": "trace=1"}
    with pytest.raises(ClientError) as info:  # the name's case must match in InvokeEndpoint
        smr.invoke_endpoint(EndpointName="iris-endpoint", Body=b"1", ContentType="text/csv")
    assert error_of(info)[0] == "ValidationError"

    # UpdateEndpoint: the old deployment serves until the switch, no request fails
    tags, failures, done = [], [], threading.Event()

    def keep_invoking():
        client = fake_runtime.client("sagemaker-runtime")
        while not done.is_set():
            try:
                body = client.invoke_endpoint(EndpointName="Iris-Endpoint", Body=b"x", ContentType="text/csv")["Body"]
                tags.append(json.loads(body.read())["tag"])
            except ClientError as error:  # pragma: no cover - the assertion below reports it
                failures.append(error)

    caller = threading.Thread(target=keep_invoking)
    caller.start()
    try:
        sm.update_endpoint(EndpointName="Iris-Endpoint", EndpointConfigName="cfg-v2")
        updating = sm.describe_endpoint(EndpointName="Iris-Endpoint")
        assert updating["EndpointStatus"] == "Updating"
        assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "cfg-v2"
        with pytest.raises(ClientError) as info:
            sm.update_endpoint(EndpointName="Iris-Endpoint", EndpointConfigName="cfg-v2")
        assert error_of(info) == ("ValidationException", f'Cannot update in-progress endpoint "{arn}".')
        time.sleep(0.2)  # the caller keeps being served by v1 while v2 starts
        gates["v2"].set()
        sm.get_waiter("endpoint_in_service").wait(EndpointName="Iris-Endpoint", WaiterConfig=FAST_WAIT)
        time.sleep(0.1)
    finally:
        done.set()
        caller.join()
    assert failures == []
    assert "v1" in tags and tags[-1] == "v2" and tags == sorted(tags)  # v1 ... then v2 only
    described = sm.describe_endpoint(EndpointName="Iris-Endpoint")
    assert described["EndpointConfigName"] == "cfg-v2" and "PendingDeploymentSummary" not in described
    old, new = fake_runtime.executors.deployments
    assert old.stopped and not new.stopped

    sm.delete_endpoint(EndpointName="Iris-Endpoint")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="Iris-Endpoint", WaiterConfig=FAST_WAIT)
    assert new.stopped
    with pytest.raises(ClientError) as info:
        sm.describe_endpoint(EndpointName="Iris-Endpoint")
    assert error_of(info) == ("ValidationException", f'Could not find endpoint "{arn}".')
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="Iris-Endpoint", Body=b"1", ContentType="text/csv")
    assert error_of(info)[0] == "ValidationError"
    assert not (fake_runtime.state_dir / "work" / "endpoints" / "Iris-Endpoint").exists()


def test_failed_update_rolls_back_and_failed_create_reports_the_reason(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    smr = fake_runtime.client("sagemaker-runtime")
    create_config(sm, "good", create_fake_model(sm, "good-model", FAKE_TAG="good"))
    create_config(sm, "bad", create_fake_model(sm, "bad-model", FAKE_FAIL="model_fn raised ValueError: boom"))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="good")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST_WAIT)

    sm.update_endpoint(EndpointName="ep", EndpointConfigName="bad")
    deadline = time.time() + 10
    while sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] != "InService" and time.time() < deadline:
        time.sleep(0.02)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "good"
    assert "bad" in described["FailureReason"] and "model_fn raised ValueError: boom" in described["FailureReason"]
    body = smr.invoke_endpoint(EndpointName="ep", Body=b"1", ContentType="text/csv")["Body"].read()
    assert json.loads(body)["tag"] == "good"

    sm.create_endpoint(EndpointName="broken", EndpointConfigName="bad")
    with pytest.raises(Exception) as info:  # botocore's WaiterError: endpoint_in_service saw Failed
        sm.get_waiter("endpoint_in_service").wait(EndpointName="broken", WaiterConfig=FAST_WAIT)
    assert "Failed" in str(info.value)
    failed = sm.describe_endpoint(EndpointName="broken")
    assert failed["FailureReason"] == "model_fn raised ValueError: boom"
    assert [e["EndpointName"] for e in sm.list_endpoints(StatusEquals="Failed")["Endpoints"]] == ["broken"]
    sm.delete_endpoint(EndpointName="broken")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="broken", WaiterConfig=FAST_WAIT)


# ----------------------------------------------------------------- JSON 1.1 wire protocol --
def test_errors_have_the_aws_json_shape(fake_runtime):
    status, headers, body = sagemaker_call(fake_runtime.url, "DescribeModel", b'{"ModelName": "absent"}')
    assert status == 400
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(body) == {
        "__type": "ValidationException",
        "message": 'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/absent".',
    }


def test_timestamps_are_epoch_second_numbers_and_unknown_fields_are_not_sent(fake_runtime):
    payload = json.dumps({"ModelName": "m", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "i"}})
    assert sagemaker_call(fake_runtime.url, "CreateModel", payload.encode())[0] == 200
    status, _, body = sagemaker_call(fake_runtime.url, "DescribeModel", b'{"ModelName": "m"}')
    described = json.loads(body)
    assert status == 200 and isinstance(described["CreationTime"], float)
    assert set(described) == {"ModelName", "ModelArn", "CreationTime", "ExecutionRoleArn",
                              "PrimaryContainer", "EnableNetworkIsolation"}


@pytest.mark.parametrize(
    "operation, payload, code, fragment",
    [
        ("CreateModel", b'{"ExecutionRoleArn": "r"}', "ValidationException",
         'Missing required parameter in input: "ModelName"'),
        ("ListModels", b'{"MaxResults": "ten"}', "ValidationException", "Invalid type for parameter MaxResults"),
        ("ListModels", b'{"MaxResults": 1000}', "ValidationException",
         "Value 1000 at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"),
        ("ListModels", b'{"SortBy": "Size"}', "ValidationException",
         "Value 'Size' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: "
         "[Name, CreationTime]"),
        ("DescribeModel", b'{"ModelName": "m", "Extra": 1}', "ValidationException", 'Unknown parameter in input: "Extra"'),
        ("DescribeModel", b"{not json", "SerializationException", "not valid JSON"),
        ("ListNotebookInstances", b"{}", "UnknownOperationException",
         "SageMaker.ListNotebookInstances is not supported by the smflow local runtime"),
        ("NoSuchOperation", b"{}", "UnknownOperationException",
         "SageMaker.NoSuchOperation does not exist"),
    ],
)
def test_invalid_requests_are_rejected_with_a_clear_error(fake_runtime, operation, payload, code, fragment):
    status, headers, body = sagemaker_call(fake_runtime.url, operation, payload)
    error = json.loads(body)
    assert (status, headers["x-amzn-errortype"], error["__type"]) == (400, code, code)
    assert fragment in error["message"]


def test_constraint_errors_name_the_nested_field(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    with pytest.raises(ClientError) as info:
        sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[{
            "VariantName": "bad variant!", "ModelName": "m", "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1}])
    error = info.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: Value 'bad variant!' at "
                                       "'productionVariants.1.member.variantName' failed to satisfy constraint")

    with pytest.raises(ClientError) as info:
        sm.create_model(ModelName="bad_name", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    assert "at 'modelName' failed to satisfy constraint: Member must satisfy regular expression pattern" \
        in info.value.response["Error"]["Message"]


def test_client_side_validation_off_still_gets_server_validation(fake_runtime):
    sm = fake_runtime.client("sagemaker", parameter_validation=False)
    with pytest.raises(ClientError) as info:
        sm.create_model(ExecutionRoleArn=ROLE)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "ModelName" in info.value.response["Error"]["Message"]


# -------------------------------------------------------------------------------- tags --
def test_tags_of_a_resource_are_added_listed_and_deleted(fake_runtime):
    """AddTags/ListTags/DeleteTags (the SageMaker Python SDK's Estimator.attach lists the job's
    tags); Create* Tags are the first tags."""
    sm = fake_runtime.client("sagemaker")
    arn = sm.create_model(ModelName="tagged", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:1"},
                          Tags=[{"Key": "team", "Value": "ml"}])["ModelArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "data"}, {"Key": "stage", "Value": "dev"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "data"}, {"Key": "stage", "Value": "dev"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i:02}", "Value": str(i)} for i in range(50)])
    first = sm.list_tags(ResourceArn=arn, MaxResults=50)  # the smallest page ListTags allows
    assert len(first["Tags"]) == 50 and first["Tags"][:2] == [{"Key": "team", "Value": "data"},
                                                               {"Key": "stage", "Value": "dev"}]
    assert sm.list_tags(ResourceArn=arn, NextToken=first["NextToken"])["Tags"] == [{"Key": "k48", "Value": "48"},
                                                                                   {"Key": "k49", "Value": "49"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=[f"k{i:02}" for i in range(50)])
    sm.delete_tags(ResourceArn=arn, TagKeys=["team", "absent"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    assert "Tags" not in sm.describe_model(ModelName="tagged")
    missing = arn.replace("model/tagged", "model/missing")
    with pytest.raises(ClientError) as info:
        sm.list_tags(ResourceArn=missing)
    code, message = error_of(info)
    assert code == "ValidationException" and missing in message and "ARN of an existing" in message
