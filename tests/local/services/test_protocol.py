"""What the two wire protocols share: the SigV4 signing service, botocore's model constraints
(with the model's Java patterns checked in Python)."""

from __future__ import annotations

import pytest

from smflow.local.services.protocol import _pattern, signing_service


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
    from smflow.local.services.protocol import check_constraints, service_model

    shape = service_model("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape
    assert (check_constraints(shape, params) == []) == valid or "NotAMember" in params
