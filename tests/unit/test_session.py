"""Custom endpoints resolved as botocore resolves them (smflow.session), with no network."""

from __future__ import annotations

import os

import pytest

from smflow.client import SageMakerClient
from smflow.errors import ConfigurationError
from smflow.session import configured_endpoint_url, is_aws_endpoint, make_client, make_session

LOCAL = "http://127.0.0.1:59999"


@pytest.fixture
def clean_aws_env(monkeypatch, tmp_path):
    """No AWS_* variables, empty shared files, no instance metadata: nothing configured."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    credentials = tmp_path / "credentials"
    credentials.write_text("")
    config = tmp_path / "config"
    config.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return config


def test_endpoint_url_in_the_shared_config_file_gets_dummy_credentials_region_and_role(clean_aws_env):
    clean_aws_env.write_text(f"[default]\nendpoint_url = {LOCAL}\n")

    client = SageMakerClient()

    credentials = client.session.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("smflow", "smflow")
    assert client.region_name == "us-east-1"
    assert client.sagemaker.meta.endpoint_url == LOCAL
    assert client.s3.meta.endpoint_url == LOCAL
    assert client.s3.meta.config.s3 == {"addressing_style": "path"}
    client.__dict__["account_id"] = "123456789012"  # what STS would answer; no request is sent
    assert client.role_arn() == "arn:aws:iam::123456789012:role/smflow-local"


def test_services_section_of_the_shared_config_file_is_a_custom_endpoint(clean_aws_env):
    clean_aws_env.write_text(
        "[default]\nservices = local\n\n[services local]\nsagemaker =\n"
        f"  endpoint_url = {LOCAL}\n"
    )

    assert configured_endpoint_url() == LOCAL
    assert configured_endpoint_url(service_name="s3") is None
    session = make_session()
    assert session.get_credentials().access_key == "smflow"
    assert session.region_name == "us-east-1"


def test_service_specific_environment_variable_is_a_custom_endpoint(clean_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", LOCAL)

    assert configured_endpoint_url() == LOCAL
    assert make_session().get_credentials().secret_key == "smflow"


def test_ignore_configured_endpoint_urls_is_honoured(clean_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", LOCAL)
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")

    assert configured_endpoint_url() is None
    with pytest.raises(ConfigurationError, match="region"):
        make_session()


def test_real_credentials_and_region_are_kept_for_a_custom_endpoint(clean_aws_env, monkeypatch):
    clean_aws_env.write_text(f"[default]\nendpoint_url = {LOCAL}\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")

    session = make_session()

    assert session.get_credentials().access_key == "mine"
    assert session.region_name == "eu-west-1"


def test_without_any_endpoint_aws_itself_needs_a_region_and_a_role(clean_aws_env, monkeypatch):
    assert configured_endpoint_url() is None
    with pytest.raises(ConfigurationError, match="region_name="):
        make_session()

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    client = SageMakerClient()
    assert client.sagemaker.meta.endpoint_url == "https://api.sagemaker.us-west-2.amazonaws.com"
    assert (client.s3.meta.config.s3 or {}).get("addressing_style") != "path"
    with pytest.raises(ConfigurationError, match="role is required"):
        client.role_arn()


def test_endpoint_configured_to_aws_itself_is_not_custom(clean_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://api.sagemaker.us-iso-east-1.c2s.ic.gov")

    assert configured_endpoint_url() is None


def test_explicit_endpoint_wins(clean_aws_env):
    session = make_session(endpoint_url=LOCAL)

    assert configured_endpoint_url(LOCAL, session=session) == LOCAL
    assert make_client(session, "s3", LOCAL).meta.config.s3 == {"addressing_style": "path"}


@pytest.mark.parametrize(("url", "aws"), [
    ("https://api.sagemaker.us-east-1.amazonaws.com", True),
    ("https://s3.cn-north-1.amazonaws.com.cn", True),
    ("https://api.sagemaker.us-iso-east-1.c2s.ic.gov", True),
    ("https://s3.us-isob-east-1.sc2s.sgov.gov", True),
    ("https://sagemaker.us-east-1.api.aws", True),
    ("http://127.0.0.1:9510", False),
    ("http://localhost:9510", False),
    ("https://amazonaws.com.example.org", False),
    ("https://notamazonaws.com", False),
])
def test_aws_endpoints_are_recognised_by_partition_dns_suffix(url, aws):
    assert is_aws_endpoint(url) is aws
