"""SageMakerClientHook: the smflow client from Airflow's standard ``aws`` connection."""

from __future__ import annotations

import json

import pytest

from smflow.errors import ConfigurationError
from smflow_airflow.hooks.sagemaker import SageMakerClientHook

from .conftest import connection_uri

URL = "http://127.0.0.1:9999"  # never contacted: building clients makes no calls


@pytest.fixture
def no_ambient_aws(monkeypatch, tmp_path):
    """No credentials, region or endpoint from the machine running the tests."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_connection_with_endpoint_url_points_every_service_at_it(monkeypatch, no_ambient_aws):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_LOCAL", connection_uri(URL))
    client = SageMakerClientHook(aws_conn_id="smflow_local").get_client()
    assert client.endpoint_url == URL
    assert client.region_name == "us-east-1"
    assert client.session.get_credentials().access_key == "smflow-local-key"  # the connection's login
    for service in (client.sagemaker, client.runtime, client.s3, client.logs):
        assert service.meta.endpoint_url == URL
    assert client.role_arn("arn:aws:iam::1:role/x") == "arn:aws:iam::1:role/x"


def test_custom_endpoint_without_credentials_uses_smflows_dummy_ones(monkeypatch, no_ambient_aws):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_LOCAL", json.dumps({"conn_type": "aws", "extra": {"endpoint_url": URL}}))
    client = SageMakerClientHook(aws_conn_id="smflow_local").get_client()
    assert client.session.get_credentials().access_key == "smflow"
    assert client.region_name == "us-east-1"
    assert client.sagemaker.meta.endpoint_url == URL


def test_custom_endpoint_without_a_region_keeps_the_connections_credentials(monkeypatch, no_ambient_aws):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_LOCAL", json.dumps(
        {"conn_type": "aws", "login": "AKIAREAL", "password": "real-secret", "extra": {"endpoint_url": URL}}))
    client = SageMakerClientHook(aws_conn_id="smflow_local").get_client()
    credentials = client.session.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("AKIAREAL", "real-secret")  # not smflow's dummies
    assert client.region_name == "us-east-1"  # only the region is defaulted
    assert client.sagemaker.meta.region_name == "us-east-1"
    assert client.sagemaker.meta.endpoint_url == URL


def test_custom_endpoint_without_credentials_keeps_the_connections_region(monkeypatch, no_ambient_aws):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_LOCAL", json.dumps(
        {"conn_type": "aws", "extra": {"endpoint_url": URL, "region_name": "eu-west-1"}}))
    client = SageMakerClientHook(aws_conn_id="smflow_local").get_client()
    assert client.session.get_credentials().access_key == "smflow"
    assert client.region_name == "eu-west-1"


def test_region_and_role_and_bucket_from_the_hook(monkeypatch, no_ambient_aws):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_LOCAL", connection_uri(URL))
    hook = SageMakerClientHook(aws_conn_id="smflow_local", region_name="eu-west-1",
                               role="arn:aws:iam::1:role/sm", default_bucket="my-bucket")
    client = hook.get_client()
    assert client.region_name == "eu-west-1"
    assert client.role_arn() == "arn:aws:iam::1:role/sm"
    assert client._bucket == "my-bucket"


def test_aws_without_a_region_is_a_configuration_error(monkeypatch, no_ambient_aws):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_AWS", json.dumps({"conn_type": "aws", "login": "AKIA", "password": "s"}))
    with pytest.raises(ConfigurationError, match="no AWS region for connection 'smflow_aws'"):
        SageMakerClientHook(aws_conn_id="smflow_aws").get_client()


def test_aws_connection_without_endpoint_talks_to_aws(monkeypatch, no_ambient_aws):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_AWS", json.dumps(
        {"conn_type": "aws", "login": "AKIA", "password": "s", "extra": {"region_name": "eu-central-1"}}))
    client = SageMakerClientHook(aws_conn_id="smflow_aws").get_client()
    assert client.endpoint_url is None
    assert client.sagemaker.meta.endpoint_url == "https://api.sagemaker.eu-central-1.amazonaws.com"
    with pytest.raises(ConfigurationError, match="role is required"):
        client.role_arn()  # AWS needs a real execution role


def test_the_connections_verify_and_config_kwargs_reach_every_client(monkeypatch, no_ambient_aws, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")  # botocore only checks the path when it opens a connection
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_LOCAL", json.dumps({"conn_type": "aws", "extra": {
        "endpoint_url": URL, "verify": str(bundle),
        "config_kwargs": {"read_timeout": 900, "retries": {"max_attempts": 9, "mode": "adaptive"}}}}))
    client = SageMakerClientHook(aws_conn_id="smflow_local").get_client()
    for service in (client.sagemaker, client.runtime, client.s3, client.logs):
        assert service.meta.config.read_timeout == 900
        assert service.meta.config.retries == {"total_max_attempts": 10, "mode": "adaptive"}  # botocore's form
        assert service._endpoint.http_session._verify == str(bundle)
    assert client.s3.meta.config.s3 == {"addressing_style": "path"}  # smflow's default for a custom endpoint kept


def test_without_config_kwargs_the_clients_keep_smflows_retry_defaults(monkeypatch, no_ambient_aws):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_LOCAL", connection_uri(URL))
    client = SageMakerClientHook(aws_conn_id="smflow_local", verify=False).get_client()
    assert client.sagemaker.meta.config.retries == {"total_max_attempts": 6, "mode": "standard"}
    assert client.sagemaker._endpoint.http_session._verify is False
