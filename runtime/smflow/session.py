"""boto3 sessions and clients for smflow.

The endpoint comes from boto3's usual configuration (``AWS_ENDPOINT_URL``, service-specific
``AWS_ENDPOINT_URL_<SERVICE>``, the shared config file) or from an explicit ``endpoint_url``. When
a custom endpoint is in use and no credentials can be found, dummy credentials are used: the
smflow local runtime accepts any signature.
"""

from __future__ import annotations

import os

import boto3
from botocore.config import Config

from smflow.errors import ConfigurationError

LOCAL_DEFAULT_REGION = "us-east-1"
_DUMMY = {"aws_access_key_id": "smflow", "aws_secret_access_key": "smflow"}


def configured_endpoint_url(endpoint_url: str | None = None) -> str | None:
    """The explicit ``endpoint_url``, else ``AWS_ENDPOINT_URL`` from the environment."""
    return endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None


def make_session(
    boto_session: boto3.session.Session | None = None,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
) -> boto3.session.Session:
    """A boto3 session fit for ``endpoint_url`` (see module docstring).

    Raises:
        ConfigurationError: no region is configured and no custom endpoint is in use.
    """
    if boto_session is not None:
        return boto_session
    session = boto3.session.Session(region_name=region_name)
    custom_endpoint = configured_endpoint_url(endpoint_url)
    if custom_endpoint and session.get_credentials() is None:
        session = boto3.session.Session(
            region_name=session.region_name or LOCAL_DEFAULT_REGION, **_DUMMY
        )
    if session.region_name is None:
        if custom_endpoint:
            session = boto3.session.Session(
                region_name=LOCAL_DEFAULT_REGION,
                botocore_session=session._session,  # keep the credentials resolved above
            )
        else:
            raise ConfigurationError(
                "no AWS region configured: pass region_name='us-east-1' (or set AWS_DEFAULT_REGION)"
            )
    return session


def make_client(
    session: boto3.session.Session,
    service_name: str,
    endpoint_url: str | None = None,
    *,
    config: Config | None = None,
    verify: bool | str | None = None,
):
    """A boto3 client with standard retries (throttling is retried with backoff by botocore).

    ``config`` (a botocore ``Config``) is merged over smflow's defaults: its settings win.
    ``verify``: as boto3's ``client(verify=...)`` (False, or the path of a CA bundle).
    """
    defaults = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path"} if configured_endpoint_url(endpoint_url) else None,
        max_pool_connections=16,
    )
    merged = defaults.merge(config) if config is not None else defaults
    return session.client(service_name, endpoint_url=endpoint_url, config=merged, verify=verify)
