"""Fixtures of the Prefect tests.

Prefect runs against a throw-away API: ``PREFECT_HOME`` (profiles, database) and the local result
storage point at a temporary folder before Prefect is imported, and the session-wide
``prefect_test_harness`` serves a temporary SQLite-backed API, so nothing is read from or written
to the user's ``~/.prefect`` and no Prefect server needs installing.

SageMaker is either botocore's Stubber (exact responses, unit tests; S3, STS and CloudWatch Logs
come from moto) or a real local runtime process (``runtime`` fixture, integration tests).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

_HOME = tempfile.mkdtemp(prefix="smflow-prefect-home-")
atexit.register(shutil.rmtree, _HOME, True)
if "prefect" not in sys.modules:  # settings are read when Prefect is first imported
    os.environ["PREFECT_HOME"] = _HOME
    os.environ["PREFECT_PROFILES_PATH"] = str(Path(_HOME) / "profiles.toml")
    os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(_HOME) / "storage")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
        os.environ.pop(name, None)

ROLE = "arn:aws:iam::123456789012:role/smflow-test"
REGION = "us-east-1"


@pytest.fixture(scope="session", autouse=True)
def prefect_api():
    """A temporary Prefect API for the whole session (Prefect's own test harness)."""
    pytest.importorskip("prefect", reason="the Prefect extra is not installed: pip install -e '.[prefect]'")
    from prefect.settings import PREFECT_HOME
    from prefect.testing.utilities import prefect_test_harness

    assert str(PREFECT_HOME.value()).startswith(_HOME), "Prefect was imported before the test settings"
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """boto3 sees only test credentials: no profile, config file or endpoint of the machine."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


class Stubbed:
    """Stubbers of the SageMaker and SageMaker Runtime clients every smflow client of the test
    uses; ``calls`` lists the SageMaker operations actually called, in order, and ``requests``
    their parameters."""

    def __init__(self, sagemaker, runtime):
        from botocore.stub import ANY, Stubber

        self.any = ANY
        self.sagemaker_client = sagemaker
        self.sagemaker = Stubber(sagemaker)
        self.runtime = Stubber(runtime)
        self.calls: list[str] = []
        self.requests: list[tuple[str, dict]] = []
        sagemaker.meta.events.register("before-parameter-build.sagemaker.*", self._record)

    def _record(self, model, params, **_):
        self.calls.append(model.name)
        self.requests.append((model.name, dict(params)))

    def request(self, operation: str) -> dict:
        (params,) = [params for name, params in self.requests if name == operation]
        return params

    def activate(self):
        self.sagemaker.activate()
        self.runtime.activate()

    def assert_done(self):
        self.sagemaker.assert_no_pending_responses()
        self.runtime.assert_no_pending_responses()


@pytest.fixture
def stubbed(aws_env, monkeypatch):
    """Every ``SageMakerClient`` (hence every task) talks to stubbed SageMaker / SageMaker Runtime
    clients and to moto's S3, STS and CloudWatch Logs."""
    import boto3
    from moto import mock_aws

    from smflow.client import SageMakerClient

    with mock_aws():
        stubs = Stubbed(boto3.client("sagemaker", region_name=REGION), boto3.client("sagemaker-runtime", region_name=REGION))
        monkeypatch.setattr(SageMakerClient, "sagemaker", property(lambda self: stubs.sagemaker_client))
        monkeypatch.setattr(SageMakerClient, "runtime", property(lambda self: stubs.runtime.client))
        stubs.activate()
        yield stubs


@pytest.fixture
def credentials():
    """An AwsCredentials block for AWS itself (moto answers in unit tests)."""
    from prefect_aws import AwsCredentials

    return AwsCredentials(region_name=REGION)


# ---------------------------------------------------------------------- the local runtime
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Runtime:
    """A local runtime process on a free port with a temporary state directory."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.port = _free_port()
        self.url: str | None = None

    def start(self) -> None:
        from smflow.local import launcher

        info, _ = launcher.start_background(self.state_dir, port=self.port, timeout=90)
        self.url = info.url

    def stop(self) -> None:
        from smflow.local import launcher

        launcher.stop(self.state_dir)

    def credentials(self):
        from smflow_prefect.local import credentials_for

        return credentials_for(self.url)

    def boto3_client(self, service: str):
        import boto3

        return boto3.session.Session(
            aws_access_key_id="smflow", aws_secret_access_key="smflow", region_name=REGION
        ).client(service, endpoint_url=self.url)


@pytest.fixture(scope="session")
def runtime(tmp_path_factory):
    runtime = Runtime(tmp_path_factory.mktemp("smflow-state"))
    runtime.start()
    yield runtime
    runtime.stop()
