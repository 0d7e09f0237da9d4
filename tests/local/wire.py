"""Helpers of the tests that speak the runtime's wire protocols directly (raw HTTP) or read the
errors botocore got back."""

from __future__ import annotations

import http.client
import urllib.parse

import pytest


def error_of(info: pytest.ExceptionInfo) -> tuple[str, str]:
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


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
