"""boto3 sessions and clients for smflow.

The endpoint comes from boto3's usual configuration (``AWS_ENDPOINT_URL``, service-specific
``AWS_ENDPOINT_URL_<SERVICE>``, ``endpoint_url`` and ``services`` sections of the shared config
file) or from an explicit ``endpoint_url``. When a custom endpoint (one outside AWS's partitions)
is in use and no credentials or no region can be found, dummy credentials and ``us-east-1`` are
used: the smflow local runtime accepts any signature.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config

from smflow.errors import ConfigurationError
from smflow.image_uris import aws_partitions

LOCAL_DEFAULT_REGION = "us-east-1"
_DUMMY = {"aws_access_key_id": "smflow", "aws_secret_access_key": "smflow"}


@lru_cache(maxsize=1)
def aws_dns_suffixes() -> tuple[str, ...]:
    """The DNS suffixes of AWS's own endpoints in every partition (``amazonaws.com``,
    ``amazonaws.com.cn``, ``c2s.ic.gov``, ``sc2s.sgov.gov``, ``api.aws``, ...), from botocore's
    ``partitions.json``."""
    suffixes = set()
    for partition in aws_partitions():
        outputs = partition.get("outputs", {})
        suffixes.update(s for s in (outputs.get("dnsSuffix"), outputs.get("dualStackDnsSuffix")) if s)
    return tuple(sorted(suffixes))


def is_aws_endpoint(url: str) -> bool:
    """Whether ``url``'s host is AWS's own (ends with a partition's DNS suffix, see
    :func:`aws_dns_suffixes`)."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host == suffix or host.endswith("." + suffix) for suffix in aws_dns_suffixes())


def configured_endpoint_url(
    endpoint_url: str | None = None,
    *,
    session: boto3.session.Session | None = None,
    service_name: str = "sagemaker",
) -> str | None:
    """The custom endpoint smflow's ``service_name`` client reaches, or None for AWS itself.

    ``endpoint_url`` when given; else the endpoint botocore resolves for a ``service_name``
    client of ``session`` (default: a new session, i.e. the environment and the default
    profile): ``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ENDPOINT_URL``, the profile's ``services``
    section, then its ``endpoint_url`` (unless ``ignore_configured_endpoint_urls``), when its host
    is outside AWS's partitions (see :func:`is_aws_endpoint`). No credentials are looked up and
    nothing is sent.

    Raises:
        botocore.exceptions.InvalidConfigError: the profile names a ``services`` section that
            the shared config file does not have.
    """
    if endpoint_url:
        return endpoint_url
    session = session or boto3.session.Session()
    probe = session.client(
        service_name, region_name=session.region_name or LOCAL_DEFAULT_REGION, **_DUMMY
    )
    resolved = probe.meta.endpoint_url
    return None if is_aws_endpoint(resolved) else resolved


def make_session(
    boto_session: boto3.session.Session | None = None,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
) -> boto3.session.Session:
    """A boto3 session fit for ``endpoint_url`` or the configured endpoint (see module docstring).

    ``boto_session`` is returned unchanged when given.

    Raises:
        ConfigurationError: no region is configured and no custom endpoint is in use.
    """
    if boto_session is not None:
        return boto_session
    core = botocore.session.Session()
    session = boto3.session.Session(region_name=region_name, botocore_session=core)
    fill_in_for_custom_endpoint(session, core, endpoint_url)
    if session.region_name is None:
        raise ConfigurationError(
            "no AWS region configured: pass region_name='us-east-1' (or set AWS_DEFAULT_REGION)"
        )
    return session


def fill_in_for_custom_endpoint(
    session: boto3.session.Session, core: botocore.session.Session, endpoint_url: str | None
) -> bool:
    """When ``session`` talks to a custom endpoint (:func:`configured_endpoint_url`), give its
    botocore session ``core`` dummy credentials if it resolves none and region ``us-east-1`` if
    it has none; credentials and region it has are kept. Returns whether the endpoint is custom."""
    if not configured_endpoint_url(endpoint_url, session=session):
        return False
    if session.get_credentials() is None:
        core.set_credentials(_DUMMY["aws_access_key_id"], _DUMMY["aws_secret_access_key"])
    if session.region_name is None:
        core.set_config_variable("region", LOCAL_DEFAULT_REGION)
    return True


def make_client(
    session: boto3.session.Session,
    service_name: str,
    endpoint_url: str | None = None,
    *,
    config: Config | None = None,
    verify: bool | str | None = None,
):
    """A boto3 client with standard retries (throttling is retried with backoff by botocore).

    ``config`` (a botocore ``Config``) is merged over smflow's defaults: its settings win. S3
    clients of a custom endpoint use path-style addressing.
    ``verify``: as boto3's ``client(verify=...)`` (False, or the path of a CA bundle).
    """
    path_style = service_name == "s3" and configured_endpoint_url(
        endpoint_url, session=session, service_name="s3"
    )
    defaults = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        s3={"addressing_style": "path"} if path_style else None,
        max_pool_connections=16,
    )
    merged = defaults.merge(config) if config is not None else defaults
    return session.client(service_name, endpoint_url=endpoint_url, config=merged, verify=verify)
