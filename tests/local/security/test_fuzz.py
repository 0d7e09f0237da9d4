"""Fuzzing the wire protocols: every operation the runtime implements, driven with botocore's
parameter validation off (so that wrong types, out-of-range numbers and odd strings reach the
server) and with raw HTTP (odd bodies and headers). Bounded in count (a fixed seed, about 900
requests) and time; no answer may be a 5xx."""

from __future__ import annotations

import json
import random
import string
import time

import pytest
from botocore.exceptions import ClientError, HTTPClientError, ParamValidationError

from smflow.local.services.protocol import service_model
from smflow.local.services.sagemaker.responses import SUPPORTED_OPERATIONS

from ..wire import raw_post

CASES_PER_OPERATION = 25
TIME_BUDGET = 120.0  # seconds for the whole test, far above the few seconds it takes


def _junk(rng: random.Random, depth: int = 0):
    choice = rng.randrange(12)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([0, -1, 1, 2**31, -2**63, 2**64, 10**30])
    if choice == 2:
        return rng.choice([0.5, -1e308, 1e308, 1e-320])
    if choice == 3:
        return rng.choice([True, False])
    if choice == 4:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(0, 40)))
    if choice == 5:
        return rng.choice(["", " ", "\x00", "é" * 3000, "s3://", "file:///etc", "a" * 70000, "1970-01-01",
                           "9999-99-99T99:99:99Z", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x"])
    if choice == 6 and depth < 3:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if choice == 7 and depth < 3:
        return {rng.choice(["a", "Key", "Value", "Name", ""]): _junk(rng, depth + 1) for _ in range(rng.randrange(0, 4))}
    return "x" * rng.randrange(0, 300)


def _value(shape, rng: random.Random, depth: int = 0):
    """A value that fits ``shape`` half of the time, junk otherwise."""
    if rng.random() < 0.3 or depth > 6:
        return _junk(rng)
    kind = shape.type_name
    if kind == "structure":
        return {name: _value(member, rng, depth + 1) for name, member in shape.members.items()
                if name in shape.required_members or rng.random() < 0.4}
    if kind == "list":
        return [_value(shape.member, rng, depth + 1) for _ in range(rng.randrange(0, 3))]
    if kind == "map":
        return {f"k{i}": _value(shape.value, rng, depth + 1) for i in range(rng.randrange(0, 3))}
    if kind == "string":
        enum = shape.metadata.get("enum")
        if enum and rng.random() < 0.7:
            return rng.choice(enum)
        return rng.choice(["fuzz-name", "s3://bucket/key", "x" * rng.randrange(0, 2000), "ml.m5.large"])
    if kind in ("integer", "long"):
        return rng.choice([0, 1, -1, 100, 10**12])
    if kind in ("float", "double"):
        return rng.choice([0.0, 0.5, -1.5, 1e200])
    if kind == "boolean":
        return rng.choice([True, False])
    if kind == "timestamp":
        return rng.choice([0, 1.7e9, -1e12, 1e15, "2024-01-01T00:00:00Z"])
    if kind == "blob":
        return rng.choice([b"", b"1,2,3", b"\xff" * 100])
    return _junk(rng)


@pytest.mark.parametrize("seed", [10])
def test_every_operation_with_validation_off_answers_no_5xx(fake_runtime, seed):
    rng = random.Random(seed)
    started = time.monotonic()
    sm = fake_runtime.client("sagemaker", parameter_validation=False)
    runtime = fake_runtime.client("sagemaker-runtime", parameter_validation=False)
    model = service_model("sagemaker")
    statuses: dict[int, int] = {}
    server_errors = []
    calls = [(sm, name, model.operation_model(name).input_shape) for name in SUPPORTED_OPERATIONS]
    calls.append((runtime, "InvokeEndpoint",
                  service_model("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape))
    for client, name, shape in calls:
        method = getattr(client, "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_"))
        for _ in range(CASES_PER_OPERATION):
            params = _value(shape, rng)
            if not isinstance(params, dict):
                params = {}
            try:
                method(**params)
                status = 200
            except ClientError as error:
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                if status >= 500:
                    server_errors.append((name, json.dumps(params, default=str)[:300], error.response["Error"]))
            except (ParamValidationError, TypeError, ValueError, AttributeError, OverflowError, KeyError, RuntimeError,
                    HTTPClientError):  # e.g. a header value http.client refuses to send
                continue  # botocore could not even serialise it: nothing was sent
            statuses[status] = statuses.get(status, 0) + 1
            assert time.monotonic() - started < TIME_BUDGET
    assert not server_errors, server_errors[:5]
    assert sum(statuses.values()) > len(calls) * CASES_PER_OPERATION // 2, statuses  # most were sent
    assert set(statuses) - {200} <= set(range(400, 500))


def test_raw_http_bodies_and_headers_answer_no_5xx(fake_runtime):
    rng = random.Random(11)
    started = time.monotonic()
    bodies = [b"", b"{", b"[]", b"null", b"\"x\"", b"{\"a\":" * 2000, b"\xff\xfe", b"{}" * 10,
              b'{"NameContains": {"$gt": 1}}', b'{"MaxResults": "1"}', b'{"MaxResults": 1e999}',
              b'{"CreationTimeBefore": "x"}', b'{"NextToken": "' + b"A" * 10000 + b'"}', b"{\"\\ud800\": 1}"]
    targets = ["SageMaker." + name for name in SUPPORTED_OPERATIONS] + [
        "SageMaker.", "SageMaker", "SageMaker.CreateDomain", "sagemaker.ListModels", "", " ", "SageMaker.\x7f"]
    failures = []
    for _ in range(400):
        target = rng.choice(targets)
        body = rng.choice(bodies)
        headers = {"X-Amz-Target": target,
                   "Content-Type": rng.choice(["application/x-amz-json-1.1", "text/plain", "application/json"])}
        status, _, answer = raw_post(fake_runtime.url, "/", body, headers)
        if status >= 500:
            failures.append((target, body[:80], status, answer[:200]))
        assert time.monotonic() - started < TIME_BUDGET
    for _ in range(100):
        headers = {rng.choice(["Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes",
                               "X-Amzn-SageMaker-Target-Variant"]): rng.choice(["", "x" * 2000, "\t", "ü".encode().decode("latin-1")])}
        path = rng.choice(["/endpoints/ep/invocations", "/endpoints/" + "x" * 100 + "/invocations",
                           "/endpoints/%2e%2e/invocations", "/endpoints//invocations"])
        status, _, answer = raw_post(fake_runtime.url, path, rng.choice(bodies), headers)
        if status >= 500:
            failures.append((path, headers, status, answer[:200]))
    assert not failures, failures[:5]
