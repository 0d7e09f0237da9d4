"""Client construction: an AwsCredentials block (endpoint, credentials, region, botocore config,
CA bundle) or boto3's default chain."""

from __future__ import annotations

import pytest

pytest.importorskip("prefect_aws")

from prefect_aws import AwsCredentials  # noqa: E402
from prefect_aws.client_parameters import AwsClientParameters  # noqa: E402

from smflow.errors import ConfigurationError  # noqa: E402
from smflow_prefect.clients import sagemaker_client  # noqa: E402


def test_block_endpoint_points_every_service_at_the_local_runtime(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    block = AwsCredentials(aws_client_parameters=AwsClientParameters(endpoint_url="http://127.0.0.1:9510"))
    client = sagemaker_client(block)
    for service in (client.sagemaker, client.runtime, client.s3, client.logs):
        assert service.meta.endpoint_url == "http://127.0.0.1:9510"
    assert client.region_name == "us-east-1"  # no region anywhere: the local default
    frozen = client.session.get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == ("smflow", "smflow")  # dummy, none configured


def test_block_credentials_region_and_botocore_config_are_used(aws_env):
    block = AwsCredentials(
        aws_access_key_id="AKIDBLOCK", aws_secret_access_key="block-secret", region_name="eu-west-1",
        aws_client_parameters=AwsClientParameters(config={"read_timeout": 7, "connect_timeout": 3}),
    )
    client = sagemaker_client(block, role="arn:aws:iam::111122223333:role/r")
    frozen = client.session.get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == ("AKIDBLOCK", "block-secret")
    assert client.region_name == "eu-west-1"
    assert client.sagemaker.meta.endpoint_url == "https://api.sagemaker.eu-west-1.amazonaws.com"
    config = client.sagemaker.meta.config
    assert (config.read_timeout, config.connect_timeout) == (7, 3)  # the block's botocore config
    assert config.retries["mode"] == "standard"  # smflow's own config kept on top


def test_block_ca_bundle_is_used(aws_env, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not really a certificate\n")
    block = AwsCredentials(region_name="us-east-1",
                           aws_client_parameters=AwsClientParameters(verify_cert_path=bundle))
    client = sagemaker_client(block)
    assert client.session._session.get_config_variable("ca_bundle") == str(bundle)


@pytest.mark.parametrize("params, field", [
    ({"verify": False}, "verify=False"),
    ({"api_version": "2017-07-24"}, "api_version"),
    ({"use_ssl": False}, "use_ssl=False"),
])
def test_client_parameters_smflow_cannot_honour_are_named(aws_env, params, field):
    block = AwsCredentials(region_name="us-east-1", aws_client_parameters=AwsClientParameters(**params))
    with pytest.raises(ConfigurationError, match=f"aws_client_parameters.{field}"):
        sagemaker_client(block)


def test_missing_region_against_aws_is_named(aws_env):
    with pytest.raises(ConfigurationError, match="region_name"):
        sagemaker_client(AwsCredentials())


def test_no_block_uses_boto3s_chain_including_aws_endpoint_url(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    client = sagemaker_client()
    assert client.sagemaker.meta.endpoint_url == "http://127.0.0.1:9999"
    assert client.region_name == "us-west-2"
    frozen = client.session.get_credentials().get_frozen_credentials()
    assert frozen.access_key == "testing"  # from the environment
