"""Every client error is a 4xx with a named code and a bounded message, over raw HTTP: bodies
shorter than their Content-Length, huge Content-Lengths (refused before reading), bad chunk
headers, deep JSON, bad timestamps in List* filters, malformed X-Amz-Target, and ``file://`` code
locations."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from ..conftest import FAST_WAIT, create_config, create_fake_model
from ..wire import error_of, sagemaker_call


def _exchange(url: str, head: str, body: bytes = b"", *, close_write: bool = False, timeout: float = 10):
    """Send ``head`` (without Host) and ``body`` on a new connection; the status and the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as connection:
        lines = head.split("\r\n")
        lines.insert(1, f"Host: {parts.netloc}")
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        if close_write:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            received += chunk
            head_end = received.find(b"\r\n\r\n")
            if head_end >= 0:
                length = [int(line.split(b":")[1]) for line in received[:head_end].split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(received) >= head_end + 4 + length[0]:
                    break
    status = int(received.split(b" ", 2)[1])
    head_end = received.find(b"\r\n\r\n")
    headers = {line.split(b":", 1)[0].decode().lower(): line.split(b":", 1)[1].strip().decode()
               for line in received[:head_end].split(b"\r\n")[1:] if b":" in line}
    return status, headers, received[head_end + 4:]


JSON_HEAD = "POST / HTTP/1.1\r\nX-Amz-Target: SageMaker.ListModels\r\nContent-Type: application/x-amz-json-1.1"


@pytest.mark.parametrize("case, head, body, code", [
    ("body shorter than Content-Length", JSON_HEAD + "\r\nContent-Length: 100", b"{}", "IncompleteBody"),
    ("huge Content-Length", JSON_HEAD + "\r\nContent-Length: 50000000000", b"{}", "RequestEntityTooLarge"),
    ("bad Content-Length", JSON_HEAD + "\r\nContent-Length: 12x", b"{}", None),
    ("bad chunk header", JSON_HEAD + "\r\nTransfer-Encoding: chunked", b"zz\r\n{}\r\n0\r\n\r\n", "IncompleteBody"),
    ("JSON nested 50,000 deep", JSON_HEAD + "\r\nContent-Length: 100000", b"[" * 50000 + b"]" * 50000,
     "SerializationException"),
    ("NaN", JSON_HEAD + "\r\nContent-Length: 26", b'{"CreationTimeAfter": NaN}', "SerializationException"),
    ("missing X-Amz-Target", "POST / HTTP/1.1\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2",
     b"{}", "UnknownOperationException"),
    ("empty X-Amz-Target", "POST / HTTP/1.1\r\nX-Amz-Target: \r\nContent-Type: application/x-amz-json-1.1"
     "\r\nContent-Length: 2", b"{}", "UnknownOperationException"),
    ("lower-case X-Amz-Target", "POST / HTTP/1.1\r\nX-Amz-Target: sagemaker.ListModels\r\n"
     "Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2", b"{}", "UnknownOperationException"),
    ("invocation over 6 MB", "POST /endpoints/ep/invocations HTTP/1.1\r\nContent-Type: text/csv\r\n"
     "Content-Length: 16000000000", b"1", "ValidationError"),
    ("invocation body short", "POST /endpoints/ep/invocations HTTP/1.1\r\nContent-Type: text/csv\r\n"
     "Transfer-Encoding: chunked", b"5\r\n1\r\n", "IncompleteBody"),
])
def test_malformed_requests_are_4xx_with_a_named_code(fake_runtime, case, head, body, code):
    started = time.monotonic()
    status, headers, answer = _exchange(fake_runtime.url, head, body, close_write=True)
    assert 400 <= status < 500, (case, status, answer[:300])
    if code is not None:
        assert headers.get("x-amzn-errortype") == code, (case, headers, answer[:300])
    assert len(answer) < 10000
    assert time.monotonic() - started < 5  # refused without reading 16 GB


def test_list_filters_with_bad_timestamps(fake_runtime):
    for value in ("not-a-date", "2024-13-45T00:00:00", 1e300, -1e300, 10**30, "9" * 500):
        payload = json.dumps({"CreationTimeAfter": value}).encode()
        for operation in ("ListModels", "ListTrainingJobs", "ListEndpoints", "ListTransformJobs"):
            status, headers, body = sagemaker_call(fake_runtime.url, operation, payload)
            assert status == 400, (operation, value, body[:300])
            assert headers["x-amzn-errortype"] == "ValidationException"
            assert len(body) < 10000


def test_error_messages_are_capped(fake_runtime):
    payload = json.dumps({f"Unknown{i}": "x" * 10 for i in range(120000)}).encode()  # about 3.6 MB
    status, headers, body = sagemaker_call(fake_runtime.url, "ListModels", payload)
    assert status == 400 and headers["x-amzn-errortype"] == "ValidationException"
    assert len(body) < 6000
    status, headers, _ = sagemaker_call(fake_runtime.url, "ListModels", b" " * (13 * 1024 * 1024))
    assert status == 413 and headers["x-amzn-errortype"] == "RequestEntityTooLarge"


def test_file_code_locations_are_refused_at_the_api(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    role = "arn:aws:iam::123456789012:role/SageMakerRole"
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    for location in ('"file:///etc"', "file:///etc", '"/etc"'):
        with pytest.raises(ClientError) as refused:
            sm.create_training_job(
                TrainingJobName="job", RoleArn=role, HyperParameters={"sagemaker_submit_directory": location},
                AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
                OutputDataConfig={"S3OutputPath": "s3://b/out"}, StoppingCondition={"MaxRuntimeInSeconds": 60},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})
        code, message = error_of(refused)
        assert code == "ValidationException" and "sagemaker_submit_directory" in message
    with pytest.raises(ClientError) as refused:
        sm.create_model(ModelName="m", ExecutionRoleArn=role, PrimaryContainer={
            "Image": image, "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "file:///etc"}})
    assert error_of(refused)[0] == "ValidationException"
    with pytest.raises(ClientError) as refused:
        sm.create_model(ModelName="m", ExecutionRoleArn=role, PrimaryContainer={
            "Image": image, "ModelDataUrl": "file:///etc/passwd"})
    assert error_of(refused)[0] == "ValidationException"
    assert sm.list_models()["Models"] == [] and sm.list_training_jobs()["TrainingJobSummaries"] == []
    sm.create_model(ModelName="ok", ExecutionRoleArn=role, PrimaryContainer={
        "Image": image, "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}})


def test_fast_path_refuses_over_6_mb_unread_and_serves_the_next_connection(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    create_config(sm, "cfg", create_fake_model(sm, "m"))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST_WAIT)
    for _ in range(3):
        status, headers, body = _exchange(fake_runtime.url, "POST /endpoints/ep/invocations HTTP/1.1\r\n"
                                          "Content-Type: text/csv\r\nContent-Length: 16000000000", b"1")
        assert status == 400 and b"6291456" in body
    status, _, body = _exchange(fake_runtime.url, "POST /endpoints/ep/invocations HTTP/1.1\r\n"
                                "Content-Type: text/csv\r\nContent-Length: 300000", b"7" * 300000)
    assert status == 200 and json.loads(body)["body"] == "7" * 300000


def test_s3_bodies_over_5_gib_are_refused_unread(fake_runtime):
    fake_runtime.client("s3").create_bucket(Bucket="big")
    started = time.monotonic()
    status, headers, _ = _exchange(fake_runtime.url, "PUT /big/key HTTP/1.1\r\nContent-Length: 6000000000", b"x")
    assert status == 400 and headers["x-amzn-errortype"] == "EntityTooLarge"
    assert time.monotonic() - started < 5
