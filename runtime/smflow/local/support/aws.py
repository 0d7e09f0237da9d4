"""boto3 clients that the local runtime uses to talk to itself (S3, CloudWatch Logs).

The runtime's executors (training, hosting, batch transform) read and write S3 objects and log
events through the same public API that users call, so the state of the emulated services is
only ever changed through their wire protocol.
"""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account: ARNs and STS GetCallerIdentity agree
DUMMY_CREDENTIALS = {"aws_access_key_id": "smflow", "aws_secret_access_key": "smflow"}


class LocalAws:
    """Factory of boto3 clients bound to the local runtime at ``endpoint_url``.

    Clients are cached per service; boto3 clients are thread-safe.
    """

    def __init__(self, endpoint_url: str, region_name: str = DEFAULT_REGION,
                 credentials: dict[str, str] | None = None):
        self.endpoint_url = endpoint_url
        self.region_name = region_name
        # the runtime's own key pair (a random one when the runtime checks signatures)
        self.credentials = dict(credentials or DUMMY_CREDENTIALS)
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()
        self._session = boto3.session.Session(region_name=region_name, **self.credentials)

    def client(self, service_name: str):
        with self._lock:
            client = self._clients.get(service_name)
            if client is None:
                client = self._session.client(
                    service_name,
                    endpoint_url=self.endpoint_url,
                    config=Config(
                        retries={"max_attempts": 3, "mode": "standard"},
                        s3={"addressing_style": "path"},
                        max_pool_connections=32,
                    ),
                )
                self._clients[service_name] = client
            return client

    def subprocess_env(self) -> dict[str, str]:
        """Environment variables that point a child process's boto3 at this runtime."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.credentials["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": self.credentials["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.region_name,
            "AWS_REGION": self.region_name,
        }


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``"s3://bucket/a/b"`` -> ``("bucket", "a/b")``. Raises ValueError for other schemes."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI has no bucket: {uri!r}")
    return bucket, key
