"""Local only, by default: DNS rebinding (a foreign Host), cross-site browser requests (a foreign
Origin, CORS preflights) are refused before they reach any service; ``--allow-host`` and
``--check-signatures`` (SigV4 recomputed with botocore's signer) for shared deployments."""

from __future__ import annotations

import http.client
import json
import logging
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from smflow.local.server import LocalRuntime, exposure_warning
from smflow.local.services.access import AccessPolicy, read_keys

from ..conftest import FAST_WAIT, create_config, create_fake_model


def _send(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": parts.netloc, "Content-Length": str(len(body)), **(headers or {})}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _multipart_form(bucket_key: str) -> tuple[bytes, str]:
    boundary = "----smflowtest"
    fields = [("key", bucket_key), ("file", "stored by a web page")]
    body = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                   for name, value in fields) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"


def test_dns_rebinding_host_is_refused_and_nothing_runs(fake_runtime):
    port = urlsplit(fake_runtime.url).port
    payload = json.dumps({"ModelName": "m", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/R",
                          "PrimaryContainer": {"Image": "x"}}).encode()
    for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1:{port + 1}", ""):
        status, headers, body = _send(fake_runtime.url, "POST", "/", payload, {
            "Host": host, "X-Amz-Target": "SageMaker.CreateModel", "Content-Type": "application/x-amz-json-1.1"})
        assert status == 403, host
        assert headers["x-amzn-errortype"] == "HostNotAllowed"
        assert "--allow-host" in json.loads(body)["message"]
        status, _, _ = _send(fake_runtime.url, "PUT", "/bucket", headers={"Host": host})
        assert status == 403
    sm = fake_runtime.client("sagemaker")
    assert sm.list_models()["Models"] == []
    assert fake_runtime.client("s3").list_buckets()["Buckets"] == []
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST:{port}", f"127.0.0.2:{port}"):
        status, _, _ = _send(fake_runtime.url, "PUT", f"/b{len(host)}", headers={"Host": host})
        assert status == 200, host


def test_cross_site_multipart_post_is_refused(fake_runtime):
    s3 = fake_runtime.client("s3")
    s3.create_bucket(Bucket="data")
    body, content_type = _multipart_form("pwned.txt")
    status, headers, answer = _send(fake_runtime.url, "POST", "/data", body,
                                    {"Content-Type": content_type, "Origin": "http://evil.example"})
    assert status == 403 and headers["x-amzn-errortype"] == "CrossOriginRequestRefused"
    assert b"CrossOriginRequestRefused" in answer
    for header in ({"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        status, _, _ = _send(fake_runtime.url, "POST", "/data", body, {"Content-Type": content_type, **header})
        assert status == 403
    assert "Contents" not in s3.list_objects_v2(Bucket="data")
    # the runtime's own origin (a console served from it) is answered
    status, _, _ = _send(fake_runtime.url, "POST", "/data", body,
                         {"Content-Type": content_type, "Origin": fake_runtime.url, "Sec-Fetch-Site": "same-origin"})
    assert status in (200, 201, 204)
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="data")["Contents"]] == ["pwned.txt"]


def test_cors_preflight_is_refused_without_cors_headers(fake_runtime):
    for path in ("/", "/data/key", "/endpoints/ep/invocations"):
        status, headers, _ = _send(fake_runtime.url, "OPTIONS", path, headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type"})
        assert status == 403, path
        assert not [name for name in headers if name.startswith("access-control-")]


def test_invocations_from_another_origin_or_host_are_refused_on_the_fast_path(fake_runtime):
    sm = fake_runtime.client("sagemaker")
    create_config(sm, "cfg", create_fake_model(sm, "m"))
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST_WAIT)
    path = "/endpoints/ep/invocations"
    status, _, _ = _send(fake_runtime.url, "POST", path, b"1", {"Content-Type": "text/csv"})
    assert status == 200
    status, headers, _ = _send(fake_runtime.url, "POST", path, b"1",
                               {"Content-Type": "text/csv", "Origin": "http://evil.example"})
    assert status == 403 and headers["x-amzn-errortype"] == "CrossOriginRequestRefused"
    status, headers, _ = _send(fake_runtime.url, "POST", path, b"1",
                               {"Content-Type": "text/csv", "Host": "attacker.example:80"})
    assert status == 403 and headers["x-amzn-errortype"] == "HostNotAllowed"


def test_policy_names():
    policy = AccessPolicy(9510, "0.0.0.0", ["smflow", "proxy.internal:443"])
    assert policy.host_allowed("smflow:9510") and policy.host_allowed("proxy.internal:443")
    assert policy.host_allowed("[::1]:9510") and policy.host_allowed("app.localhost:9510")
    assert not policy.host_allowed("smflow:80") and not policy.host_allowed("0.0.0.0:9510")
    assert not policy.host_allowed("127.0.0.1.attacker.example:9510")
    assert not policy.host_allowed("localhost:9510:1") and not policy.host_allowed(None)
    assert policy.origin_allowed("http://localhost:9510") and policy.origin_allowed("http://smflow:9510")
    assert not policy.origin_allowed("https://localhost:9510") and not policy.origin_allowed("http://localhost:9511")
    assert AccessPolicy(9510, allowed_hosts=["*"]).host_allowed("anything.example:1")
    assert AccessPolicy(9510, "10.0.0.5").host_allowed("10.0.0.5:9510")


def test_warning_beyond_loopback():
    assert exposure_warning("127.0.0.1", False) is None and exposure_warning("localhost", False) is None
    assert "NOT authenticated" in exposure_warning("0.0.0.0", False)
    assert "--check-signatures" in exposure_warning("0.0.0.0", True)


def test_check_signatures(tmp_path, caplog):
    keys_file = tmp_path / "keys"
    keys_file.write_text("[team]\naws_access_key_id = AKIDTEAM\naws_secret_access_key = team-secret\n")
    keys = read_keys(keys_file)
    caplog.set_level(logging.WARNING, logger="smflow.local.server")
    runtime = LocalRuntime(tmp_path / "state", host="0.0.0.0", signature_keys=keys)
    url = runtime.start().replace("0.0.0.0", "127.0.0.1")
    try:
        assert any("--check-signatures" in record.getMessage() for record in caplog.records)

        def s3(key: str, secret: str):
            return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                                aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))

        good = s3("AKIDTEAM", "team-secret")
        good.create_bucket(Bucket="shared")
        good.put_object(Bucket="shared", Key="a b/ü.txt", Body=b"x" * 1000)
        assert good.get_object(Bucket="shared", Key="a b/ü.txt")["Body"].read() == b"x" * 1000
        sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDTEAM",
                          aws_secret_access_key="team-secret")
        assert sm.list_models(MaxResults=5)["Models"] == []
        with pytest.raises(ClientError) as refused:
            s3("AKIDTEAM", "wrong-secret").list_objects_v2(Bucket="shared")
        assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        with pytest.raises(ClientError) as unknown:
            s3("AKIDOTHER", "team-secret").list_buckets()
        assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        status, _, _ = _send(url, "PUT", "/unsigned")
        assert status == 403
        # the runtime's own clients (executors, jobs, model servers) sign with a key made for the run
        own = runtime.backend.aws.client("s3")
        assert [b["Name"] for b in own.list_buckets()["Buckets"]] == ["shared"]
        assert runtime.backend.aws.credentials["aws_access_key_id"] not in keys
    finally:
        runtime.stop()
