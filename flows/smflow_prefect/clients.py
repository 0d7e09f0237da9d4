"""The smflow client a task talks through: from a prefect-aws ``AwsCredentials`` block, or from
boto3's default chain when no block is given.

The block's credentials, profile and region make the boto3 session; its
``aws_client_parameters.endpoint_url`` is the one endpoint of every service (e.g. the smflow
local runtime, ``http://127.0.0.1:9510``), ``aws_client_parameters.config`` is merged into each
botocore client's config, and ``verify_cert_path`` is the CA bundle. Against a custom endpoint
with no credentials or no region anywhere, dummy credentials and ``us-east-1`` are used, as
:mod:`smflow.session` does (the local runtime accepts any signature).

Example::

    from prefect_aws import AwsCredentials
    from prefect_aws.client_parameters import AwsClientParameters
    from smflow_prefect.clients import sagemaker_client

    local = AwsCredentials(aws_client_parameters=AwsClientParameters(endpoint_url="http://127.0.0.1:9510"))
    client = sagemaker_client(local)
    client.sagemaker.list_training_jobs()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from smflow.errors import ConfigurationError
from smflow.session import fill_in_for_custom_endpoint

if TYPE_CHECKING:
    import boto3
    from prefect_aws import AwsCredentials

    from smflow.client import SageMakerClient
    from smflow.waiting import Backoff


def endpoint_url_of(aws_credentials: AwsCredentials | None) -> str | None:
    """The block's ``aws_client_parameters.endpoint_url``; None without a block or URL."""
    if aws_credentials is None:
        return None
    return aws_credentials.aws_client_parameters.endpoint_url or None


def boto3_session(aws_credentials: AwsCredentials) -> boto3.Session:
    """A boto3 session made from the block (see the module docstring).

    Raises:
        ConfigurationError: a client parameter smflow cannot honour for every service
            (``api_version``, ``verify=False``, ``use_ssl=False`` without ``endpoint_url``), or
            no region is configured for AWS itself; the message names the field and the fix.
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    params = aws_credentials.aws_client_parameters
    _check_client_parameters(params)
    core = botocore.session.Session()
    if params.config:
        core.set_default_client_config(Config(**params.config))
    ca_bundle = params.verify_cert_path or (params.verify if not isinstance(params.verify, (bool, type(None))) else None)
    if ca_bundle:
        core.set_config_variable("ca_bundle", str(ca_bundle))
    secret = aws_credentials.aws_secret_access_key
    session = boto3.Session(
        aws_access_key_id=aws_credentials.aws_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        aws_session_token=aws_credentials.aws_session_token,
        region_name=aws_credentials.region_name,
        profile_name=aws_credentials.profile_name,
        botocore_session=core,
    )
    fill_in_for_custom_endpoint(session, core, params.endpoint_url)
    if session.region_name is None:
        raise ConfigurationError(
            "no AWS region: set region_name on the AwsCredentials block (or AWS_DEFAULT_REGION)"
        )
    return session


def _check_client_parameters(params) -> None:
    if params.api_version:
        raise ConfigurationError(
            "aws_client_parameters.api_version is not supported by smflow tasks: remove it "
            "(the SageMaker, S3 and Logs clients use botocore's current API versions)"
        )
    if params.verify is False:
        raise ConfigurationError(
            "aws_client_parameters.verify=False is not supported by smflow tasks: set "
            "verify_cert_path to the CA bundle of your endpoint instead"
        )
    if params.use_ssl is False and not params.endpoint_url:
        raise ConfigurationError(
            "aws_client_parameters.use_ssl=False needs an endpoint_url: pass "
            "endpoint_url='http://host:port' (e.g. the smflow local runtime)"
        )


def sagemaker_client(
    aws_credentials: AwsCredentials | None = None,
    *,
    role: str | None = None,
    default_bucket: str | None = None,
    log: Callable[[str], None] | None = None,
    backoff: Backoff | None = None,
) -> SageMakerClient:
    """The :class:`smflow.client.SageMakerClient` for ``aws_credentials`` (or boto3's chain).

    Args:
        aws_credentials: a prefect-aws ``AwsCredentials`` block; None uses boto3's default chain
            (environment, ``AWS_ENDPOINT_URL``, shared config and credentials files, instance role).
        role: the execution role ARN for jobs and models (required against AWS itself).
        default_bucket: bucket for code, data and outputs; default ``sagemaker-<region>-<account>``.
        log: receives progress messages and training log lines (a task passes its run logger).
        backoff: polling delays while waiting (seconds); default smflow's 0.2 s x1.2 up to 30 s.

    Raises:
        ConfigurationError: see :func:`boto3_session`.
    """
    from smflow.client import SageMakerClient
    from smflow.waiting import DEFAULT_BACKOFF

    session = boto3_session(aws_credentials) if aws_credentials is not None else None
    return SageMakerClient(
        session,
        endpoint_url=endpoint_url_of(aws_credentials),
        role=role,
        default_bucket=default_bucket,
        log=log,
        backoff=backoff or DEFAULT_BACKOFF,
    )
