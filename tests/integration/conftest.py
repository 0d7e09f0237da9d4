"""Integration fixtures: a real local runtime process on a free port with a temporary state dir."""

from __future__ import annotations

import socket
from pathlib import Path

import boto3
import pytest

from smflow.client import SageMakerClient
from smflow.examples import iris
from smflow.local import launcher
from smflow.waiting import Backoff


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Runtime:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.port: int | None = None
        self.url = None

    def start(self) -> str:
        """Start (or start again) on the same state dir, on a port free right now."""
        self.port = free_port()
        info, _ = launcher.start_background(self.state_dir, port=self.port, timeout=90)
        self.url = info.url
        return self.url

    def stop(self) -> None:
        launcher.stop(self.state_dir)

    def boto3_client(self, service: str):
        return boto3.session.Session(
            aws_access_key_id="smflow", aws_secret_access_key="smflow", region_name="us-east-1"
        ).client(service, endpoint_url=self.url)

    def client(self, **kwargs) -> SageMakerClient:
        kwargs.setdefault("backoff", Backoff(initial=0.1, factor=1.2, maximum=1.0))
        return SageMakerClient(endpoint_url=self.url, **kwargs)


@pytest.fixture(scope="session")
def runtime(tmp_path_factory):
    runtime = Runtime(tmp_path_factory.mktemp("smflow-state"))
    runtime.start()
    yield runtime
    runtime.stop()


@pytest.fixture(scope="session")
def iris_job(runtime):
    """One trained Iris job shared by the tests that need a model (training takes seconds)."""
    client = runtime.client()
    data = client.upload_data(iris.write_training_csv(
        runtime.state_dir.parent / "iris-data" / "iris.csv").parent, key_prefix="it/iris")
    return client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                        inputs={"train": data}, base_job_name="it-iris", logs=False)
