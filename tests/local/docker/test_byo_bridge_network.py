"""On a daemon with a bridge network (Docker's default set-up), serving containers keep SageMaker's
port 8080, published on a free port of 127.0.0.1 per instance, and get no SAGEMAKER_BIND_TO_PORT.
The daemon here is a second one of the tests, on a bridge device made for it (``ip link``)."""

from __future__ import annotations

import io
import logging
import random
import shutil
import subprocess
import tarfile
import uuid

import pytest

from smflow import naming
from smflow.client import SageMakerClient
from smflow.local.containers.docker.engine import STATE_LABEL
from smflow.local.server import LocalRuntime
from smflow.waiting import Backoff

from .conftest import IMAGE_DIR, IMAGE_URI, build_image, start_daemon

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture(scope="module")
def bridge_daemon(docker_daemon, tmp_path_factory, monkeypatch_module):
    ip = shutil.which("ip")
    if ip is None:
        pytest.skip("the ip command (iproute2) is needed to make the bridge device")
    device = f"smflow{uuid.uuid4().hex[:6]}"
    made = subprocess.run([ip, "link", "add", device, "type", "bridge"], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a bridge device: {made.stderr.strip()}")
    try:
        # a private range that docker's own defaults (172.17-172.30) leave alone
        address = f"172.31.{random.randint(100, 254)}.1/24"
        subprocess.run([ip, "addr", "add", address, "dev", device], check=True)
        subprocess.run([ip, "link", "set", device, "up"], check=True)
        daemon = start_daemon(f"--bridge={device}")
        try:
            build_image(daemon.client, IMAGE_URI, IMAGE_DIR, tmp_path_factory.mktemp("bridge-image"))
            monkeypatch_module.setenv("DOCKER_HOST", daemon.host)
            yield daemon
        finally:
            daemon.stop()
    finally:
        subprocess.run([ip, "link", "delete", device], check=False)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_each_instance_publishes_port_8080_on_its_own_loopback_port(bridge_daemon, tmp_path):
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = LocalRuntime(tmp_path / "state", deployment_timeout=60)
    url = server.start()
    try:
        client = SageMakerClient(endpoint_url=url, backoff=Backoff(initial=0.1, factor=1.2, maximum=0.5))
        bucket = client.default_bucket()
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            info = tarfile.TarInfo("factor")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"7\n"))
        client.s3.put_object(Bucket=bucket, Key="bridge/model.tar.gz", Body=archive.getvalue())
        model = naming.timestamped_name("bridge-model")
        client.create_model(config={"ModelName": model, "ExecutionRoleArn": ROLE, "PrimaryContainer": {
            "Image": IMAGE_URI, "ModelDataUrl": f"s3://{bucket}/bridge/model.tar.gz"}})
        endpoint = naming.timestamped_name("bridge")
        client.deploy(model_name=model, endpoint_name=endpoint, initial_instance_count=2)
        answer = client.runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1,2\n", ContentType="text/csv")
        assert answer["Body"].read() == b"7,14\n"

        containers = bridge_daemon.client.containers.list(
            ignore_removed=True, filters={"label": f"{STATE_LABEL}={(tmp_path / 'state').resolve()}"})
        assert len(containers) == 2
        bindings = [c.attrs["NetworkSettings"]["Ports"]["8080/tcp"] for c in containers]
        assert all(len(b) == 1 and b[0]["HostIp"] == "127.0.0.1" for b in bindings)
        assert len({b[0]["HostPort"] for b in bindings}) == 2
        assert not any(v.startswith("SAGEMAKER_BIND_TO_PORT=") for c in containers for v in c.attrs["Config"]["Env"])
        client.delete_endpoint(endpoint)
        assert bridge_daemon.client.containers.list(all=True, ignore_removed=True) == []
    finally:
        server.stop()
