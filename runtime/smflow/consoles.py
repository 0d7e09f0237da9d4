"""Where a person looks at a SageMaker resource: its page in the SageMaker console on AWS, or in
the local runtime's console (``<runtime URL>/console/...``, :mod:`smflow.local.console`) when the
client talks to a custom endpoint. Used by the Airflow extra links and the Prefect artifacts.

The local console's URL is the endpoint URL the client uses, unless ``$SMFLOW_CONSOLE_URL``
names another one: the URL a browser reaches when the tasks reach the runtime by a name the
browser cannot resolve (under Docker Compose the tasks use ``http://smflow:9510``, the browser
``http://127.0.0.1:9510``).
"""

from __future__ import annotations

import os
from urllib.parse import quote

CONSOLE_URL_ENV = "SMFLOW_CONSOLE_URL"

# Console domains per AWS partition (boto3 ``Session.get_partition_for_region``).
CONSOLE_DOMAINS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}

# kind -> (the SageMaker console's route, the local console's folder)
ROUTES = {
    "training-job": ("jobs", "training-jobs"),
    "transform-job": ("transform-jobs", "transform-jobs"),
    "model": ("models", "models"),
    "endpoint": ("endpoints", "endpoints"),
}


def partition_of(region: str) -> str:
    """The AWS partition of ``region`` by its prefix (``aws-cn``, ``aws-us-gov`` or ``aws``)."""
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def local_console_base(endpoint_url: str) -> str:
    """The local console's base URL for a runtime reached at ``endpoint_url`` (no trailing slash)."""
    return (os.environ.get(CONSOLE_URL_ENV) or endpoint_url).rstrip("/")


def resource_url(kind: str, name: str, *, region: str, partition: str | None = None,
                 endpoint_url: str | None = None) -> str:
    """The page of a resource (``kind``: training-job, transform-job, model or endpoint): the
    local console's with ``endpoint_url`` (an http(s) URL), else the SageMaker console of
    ``region`` in ``partition`` (default: the region's). ``""`` when there is nothing to link to
    (no name, no region on AWS, an endpoint URL that is not http(s), an unknown partition).

    Raises: ValueError for another kind."""
    if kind not in ROUTES:
        raise ValueError(f"kind must be one of {', '.join(ROUTES)}, got {kind!r}")
    route, folder = ROUTES[kind]
    if not name:
        return ""
    if endpoint_url:
        if not endpoint_url.startswith(("http://", "https://")):
            return ""
        return f"{local_console_base(endpoint_url)}/console/{folder}/{quote(name, safe='')}"
    domain = CONSOLE_DOMAINS.get(partition or partition_of(region or ""))
    if not domain or not region:
        return ""
    return f"https://{domain}/sagemaker/home?region={quote(region)}#/{route}/{quote(name, safe='')}"


def s3_url(s3_uri: str, *, region: str, endpoint_url: str | None = None) -> str:
    """Where to browse ``s3://bucket/prefix``: the local console's listing of the prefix with
    ``endpoint_url``, else the S3 console."""
    bucket, _, prefix = s3_uri[len("s3://"):].partition("/")
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    if endpoint_url:
        query = f"?prefix={quote(prefix, safe='')}" if prefix else ""
        return f"{local_console_base(endpoint_url)}/console/s3/{quote(bucket, safe='')}{query}"
    return f"https://s3.console.aws.amazon.com/s3/buckets/{quote(bucket)}?region={quote(region)}&prefix={quote(prefix)}"
