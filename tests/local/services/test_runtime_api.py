"""SageMaker Runtime InvokeEndpoint on the local runtime: its error codes (ValidationError,
ModelError 424) and the request handler's fast path on kept-alive connections."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from ..conftest import FAST_WAIT, create_config, create_fake_model
from ..wire import error_of


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


def test_model_errors_come_back_as_model_error_424(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    smr = fake_runtime.client("sagemaker-runtime")
    create_config(sm, "cfg", create_fake_model(sm, "m"), variant="primary-variant")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST_WAIT)
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="ep", Body=b"1", ContentType="application/x-unsupported")
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 415
    assert response["OriginalMessage"] == "unsupported content type: application/x-unsupported"
    assert response["LogStreamArn"] == \
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep"
    assert response["Error"]["Message"].startswith(
        'Received client error (415) from primary with message "unsupported content type')
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="ep", Body=b"1", ContentType="text/csv", TargetVariant="other")
    assert error_of(info)[0] == "ValidationError" and "other" in error_of(info)[1]
    answer = smr.invoke_endpoint(EndpointName="ep", Body=b"1", ContentType="text/csv",
                                 TargetVariant="primary-variant")
    assert answer["InvokedProductionVariant"] == "primary-variant"


def _read_response(stream) -> tuple[int, dict[str, str], bytes]:
    status = int(stream.readline().split()[1])
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, stream.read(int(headers["content-length"]))


def test_invocations_share_a_kept_alive_connection_even_after_a_refused_one(fake_runtime):
    """InvokeEndpoint answers on a kept-alive connection; a refused request's body is consumed,
    so the next request on the same connection is read from its own first byte."""
    import socket
    from urllib.parse import urlsplit

    sm = fake_runtime.client("sagemaker")
    create_config(sm, "cfg", create_fake_model(sm, "m", FAKE_TAG="kept"))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST_WAIT)

    url = urlsplit(fake_runtime.url)

    def request(endpoint: str, body: bytes, **headers: str) -> bytes:
        lines = [f"POST /endpoints/{endpoint}/invocations HTTP/1.1", f"Host: {url.netloc}", "Content-Type: text/csv",
                 f"Content-Length: {len(body)}", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        stream = connection.makefile("rb")
        connection.sendall(request("no-such-endpoint", b"POST /endpoints/ep/invocations HTTP/1.1\r\n\r\n")
                           + request("ep", b"5.1,3.5", X_Amzn_SageMaker_Custom_Attributes="n=2")
                           + request("ep", b"x" * 70000))
        status, headers, body = _read_response(stream)
        assert status == 400 and headers["x-amzn-errortype"] == "ValidationError"
        assert json.loads(body)["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."
        status, headers, body = _read_response(stream)
        assert status == 200 and headers["x-amzn-invoked-production-variant"] == "AllTraffic"
        assert json.loads(body) == {"tag": "kept", "body": "5.1,3.5", "accept": None, "custom_attributes": "n=2"}
        status, _, body = _read_response(stream)
        assert status == 200 and json.loads(body)["body"] == "x" * 70000
        connection.sendall(request("ep", b"1", Connection="close"))
        status, headers, _ = _read_response(stream)
        assert status == 200 and headers.get("connection") == "close"
        assert stream.read() == b""  # the runtime closed the connection as asked
