"""The console pages of resources: SageMaker's on AWS, the local runtime's with a custom endpoint,
and ``$SMFLOW_CONSOLE_URL`` when the browser reaches the runtime by another URL."""

from __future__ import annotations

import pytest

from smflow import consoles


def test_aws_pages_per_partition():
    assert consoles.resource_url("training-job", "iris-1", region="eu-west-1") == \
        "https://console.aws.amazon.com/sagemaker/home?region=eu-west-1#/jobs/iris-1"
    assert consoles.resource_url("endpoint", "e", region="cn-north-1").startswith("https://console.amazonaws.cn/")
    assert consoles.resource_url("model", "m", region="us-gov-west-1").startswith("https://console.amazonaws-us-gov.com/")
    assert consoles.resource_url("model", "", region="us-east-1") == ""


def test_local_pages_follow_the_endpoint_or_the_console_url(monkeypatch):
    monkeypatch.delenv(consoles.CONSOLE_URL_ENV, raising=False)
    assert consoles.resource_url("transform-job", "a b", region="us-east-1", endpoint_url="http://127.0.0.1:9510/") == \
        "http://127.0.0.1:9510/console/transform-jobs/a%20b"
    assert consoles.resource_url("model", "m", region="us-east-1", endpoint_url="javascript:alert(1)//") == ""
    assert consoles.s3_url("s3://bucket/out/x", region="us-east-1", endpoint_url="http://smflow:9510") == \
        "http://smflow:9510/console/s3/bucket?prefix=out%2Fx%2F"
    monkeypatch.setenv(consoles.CONSOLE_URL_ENV, "http://127.0.0.1:9600/")
    assert consoles.resource_url("endpoint", "e", region="us-east-1", endpoint_url="http://smflow:9510") == \
        "http://127.0.0.1:9600/console/endpoints/e"
    assert consoles.s3_url("s3://bucket", region="us-east-1", endpoint_url="http://smflow:9510") == \
        "http://127.0.0.1:9600/console/s3/bucket"


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of training-job"):
        consoles.resource_url("notebook", "n", region="us-east-1")
