"""The wire protocols: SageMaker JSON 1.1 (validation against botocore's model, AWS-shaped errors,
timestamps as epoch numbers) and SageMaker Runtime InvokeEndpoint (rest-json)."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from smflow.local.protocol import _pattern, signing_service

from .conftest import ROLE


def raw_post(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parsed = urllib.parse.urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def sagemaker_call(url: str, operation: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
    return raw_post(url, "/", payload, {"X-Amz-Target": f"SageMaker.{operation}",
                                        "Content-Type": "application/x-amz-json-1.1"})


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


def test_invoke_endpoint_errors_use_the_runtime_codes(fake_runtime):
    smr = fake_runtime.client("sagemaker-runtime")
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="nowhere", Body=b"1", ContentType="text/csv")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert info.value.response["Error"] == {"Code": "ValidationError",
                                            "Message": "Endpoint nowhere of account 123456789012 not found."}
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="nowhere", Body=b"1", TargetModel="model.tar.gz")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "multi-model" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="nowhere", Body=b"x" * (6 * 1024 * 1024 + 1))
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "less than or equal to 6291456" in info.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint_async(EndpointName="nowhere", InputLocation="s3://bucket/input.csv")
    assert info.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "only InvokeEndpoint" in info.value.response["Error"]["Message"]


def test_signing_service_reads_the_credential_scope():
    auth = ("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sagemaker/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=abc")
    assert signing_service({"HTTP_AUTHORIZATION": auth}) == "sagemaker"
    assert signing_service({"HTTP_AUTHORIZATION": auth.replace("sagemaker", "s3")}) == "s3"
    assert signing_service({}) is None


def test_java_patterns_of_the_model_are_checked_in_python():
    ascii_only = _pattern(r"\p{ASCII}*")
    assert ascii_only.fullmatch("text/csv") and not ascii_only.fullmatch("tëxt")
    printable = _pattern(r"\A\S[\p{Print}]*\z")
    assert printable.fullmatch("model-1.tar.gz") and not printable.fullmatch(" leading-space")
    name = _pattern(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
    assert name.fullmatch("iris-2024") and not name.fullmatch("iris_2024")


def test_motos_admin_api_is_refused_so_saved_state_cannot_be_reset(fake_runtime):
    status, _, body = raw_post(fake_runtime.url, "/moto-api/reset", b"", {})
    assert status == 404 and b"not available" in body


@pytest.mark.parametrize("params, valid", [
    ({"EndpointName": "iris-endpoint", "Body": b"1", "ContentType": "text/csv"}, True),
    ({"EndpointName": "iris-endpoint", "Body": b"x" * 6291456, "Accept": "application/json"}, True),
    ({"EndpointName": "iris-endpoint", "Body": b"x" * 6291457}, False),
    ({"EndpointName": "bad_name!", "Body": b"1"}, False),  # pattern
    ({"EndpointName": "e" * 64, "Body": b"1"}, False),  # length
    ({"EndpointName": "ep", "Body": b"1", "CustomAttributes": "a" * 1025}, False),
    ({"EndpointName": "ep", "Body": b"1", "ContentType": "t" * 1025}, False),
    ({"EndpointName": "ep", "Body": b"1", "TargetVariant": "bad variant"}, False),
    ({"EndpointName": "ep", "Body": b"1", "NotAMember": "x"}, False),
])
def test_invoke_endpoint_values_are_checked_against_the_botocore_model(params, valid):
    """Every InvokeEndpoint request is checked against the service model's lengths, enums and
    patterns (an unknown member is left to the operation's own handling)."""
    from smflow.local.protocol import check_constraints, service_model

    shape = service_model("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape
    assert (check_constraints(shape, params) == []) == valid or "NotAMember" in params
