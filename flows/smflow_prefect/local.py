"""Pointing flows at smflow's local runtime: an ``AwsCredentials`` block for it, started first
when it is not running.

Example::

    from smflow_prefect.local import local_runtime_credentials

    credentials = local_runtime_credentials()          # starts `smflow local up` if needed
    iris_lifecycle(aws_credentials=credentials)        # the same flow runs on AWS with another block
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials

LOCAL_KEY = "smflow"  # the runtime accepts any signature; these only make boto3 sign requests


def credentials_for(endpoint_url: str, region_name: str = "us-east-1") -> AwsCredentials:
    """An unsaved ``AwsCredentials`` block for the runtime at ``endpoint_url``."""
    from prefect_aws import AwsCredentials
    from prefect_aws.client_parameters import AwsClientParameters

    return AwsCredentials(
        aws_access_key_id=LOCAL_KEY, aws_secret_access_key=LOCAL_KEY, region_name=region_name,
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint_url),
    )


def local_runtime_credentials(
    endpoint_url: str | None = None, *, port: int | None = None, state_dir: str | Path | None = None,
    say=print,
) -> AwsCredentials:
    """Credentials for the local runtime: ``endpoint_url`` if given (a runtime already running
    elsewhere), else the runtime of ``state_dir`` (default ``$SMFLOW_STATE_DIR`` or
    ``~/.smflow/state``), started in the background on ``port`` (default 9510) unless it runs.

    Raises:
        smflow.local.launcher.LauncherError: the runtime could not be started (the port is
            taken by another program, or the process died; the message quotes its log).
    """
    if endpoint_url:
        return credentials_for(endpoint_url)
    from smflow.local import launcher

    info, started = launcher.start_background(
        Path(state_dir) if state_dir else None, port=port or launcher.DEFAULT_PORT
    )
    say(f"{'Started' if started else 'Using'} the smflow local runtime at {info.url} (state in {info.state_dir})")
    return credentials_for(info.url)
