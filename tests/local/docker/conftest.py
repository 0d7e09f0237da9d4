"""Fixtures of the Docker tests: a Docker daemon of their own and a tiny bring-your-own image.

``docker_daemon`` starts ``dockerd`` (Debian's ``docker.io``) as root on a socket in a temporary
folder, with ``--iptables=false --bridge=none`` (containers then share the host's network, and
serving containers get their port in ``SAGEMAKER_BIND_TO_PORT``), and points ``DOCKER_HOST`` at
it while the tests of this folder run. Without ``dockerd``, or when not root, or when it does not start, the tests
are skipped with the reason.

``byo_image`` builds, through the Docker Engine API, an image ``FROM scratch`` holding
busybox-static and three shell scripts (``image/train``, ``image/serve``, ``image/handle``) that
follow SageMaker's container contract, and tags it with an ECR-style URI that no local
environment claims. Nothing is pulled.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

IMAGE_DIR = Path(__file__).parent / "image"
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/smflow-byo-test:1.0"
ABSENT_IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/smflow-byo-absent:1.0"
DAEMON_START_SECONDS = 60


_cannot_start: dict[tuple[str, ...], str] = {}  # network options -> why dockerd did not start (asked once)


def _skip(reason: str, options: tuple[str, ...] = ()) -> None:
    if options not in _cannot_start:
        print(f"\nDocker tests skipped: {reason}")
    _cannot_start[options] = reason
    pytest.skip(reason)


def _remove_folder(root: Path) -> None:
    """Remove a dockerd's folder, after unmounting what dockerd leaves mounted in it (its
    ``exec/netns/default``), deepest first."""
    prefix = str(root) + "/"
    with open("/proc/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", point], check=False, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


class Daemon:
    """A dockerd of the tests: ``host`` (its DOCKER_HOST), ``client`` (a docker.DockerClient)."""

    def __init__(self, process: subprocess.Popen, root: Path, host: str, client):
        self.process, self.root, self.host, self.client = process, root, host, client

    def stop(self) -> None:
        for container in self.client.containers.list(all=True, ignore_removed=True):
            container.remove(force=True)
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        _remove_folder(self.root)


def start_daemon(*network_options: str) -> Daemon:
    """Start a dockerd of its own (``--iptables=false`` plus ``network_options``), or skip the
    tests with the reason it cannot start."""
    if network_options in _cannot_start:
        pytest.skip(_cannot_start[network_options])
    docker = pytest.importorskip("docker", reason="the 'docker' package is not installed (pip install 'smflow[local]')")
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        _skip("dockerd is not installed (apt-get install docker.io busybox-static)", network_options)
    if os.geteuid() != 0:
        _skip("dockerd needs root to start", network_options)
    if shutil.which("busybox") is None:
        _skip("busybox is not installed (apt-get install busybox-static)", network_options)
    root = Path(tempfile.mkdtemp(prefix="smd-", dir="/tmp"))  # short: socket paths are limited to 108 bytes
    host = f"unix://{root}/docker.sock"
    log_path = root / "dockerd.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [dockerd, "--host", host, "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
             "--pidfile", str(root / "docker.pid"), "--iptables=false", *network_options],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + DAEMON_START_SECONDS
    while True:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-800:]
            _remove_folder(root)
            _skip(f"dockerd exited with code {process.returncode}: {tail}", network_options)
        try:
            client = docker.DockerClient(base_url=host, timeout=60)
            client.ping()
            return Daemon(process, root, host, client)
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > deadline:
                process.kill()
                process.wait(timeout=30)
                tail = log_path.read_text(errors="replace")[-800:]
                _remove_folder(root)
                _skip(f"dockerd did not answer within {DAEMON_START_SECONDS} s: {tail}", network_options)
            time.sleep(0.2)


@pytest.fixture(scope="session")
def docker_daemon():
    """``DOCKER_HOST`` of a dockerd started for the session with ``--bridge=none`` (its folder is
    removed afterwards)."""
    daemon = start_daemon("--bridge=none")
    try:
        yield daemon.host
    finally:
        daemon.stop()


@pytest.fixture(scope="module", autouse=True)
def docker_host(docker_daemon):
    """``DOCKER_HOST`` points at the session's daemon while this folder's tests run (and the
    runtime processes they start inherit it); the tests of other folders never see it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCKER_HOST", docker_daemon)
        yield docker_daemon


def build_image(client, tag: str, scripts: Path, workdir: Path) -> str:
    """Build ``tag`` FROM scratch: busybox at /bin/busybox with a link per applet, and the
    ``scripts`` folder's files in /usr/local/bin. Returns the image id."""
    context = workdir / "context"
    bin_dir = context / "rootfs" / "bin"
    bin_dir.mkdir(parents=True)
    busybox = shutil.which("busybox")
    shutil.copy2(busybox, bin_dir / "busybox")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (bin_dir / applet).symlink_to("busybox")
    local_bin = context / "rootfs" / "usr" / "local" / "bin"
    local_bin.mkdir(parents=True)
    for script in scripts.iterdir():
        shutil.copy2(script, local_bin / script.name)
    (context / "rootfs" / "tmp").mkdir()
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:/bin\nWORKDIR /opt/ml\n", encoding="utf-8")
    image, _ = client.images.build(path=str(context), tag=tag, rm=True)
    return image.id


@pytest.fixture(scope="session")
def byo_image(docker_daemon, tmp_path_factory) -> str:
    """The image URI of the busybox bring-your-own image, built on the session's daemon."""
    import docker

    client = docker.DockerClient(base_url=docker_daemon, timeout=60)
    try:
        build_image(client, IMAGE_URI, IMAGE_DIR, tmp_path_factory.mktemp("byo-image"))
    finally:
        client.close()
    return IMAGE_URI
