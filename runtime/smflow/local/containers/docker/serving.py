"""``docker run <image> serve``: one model-server instance of an endpoint variant or a transform
job in a container (SageMaker developer guide, "Use Your Own Inference Code with Hosting
Services").

- ``/opt/ml/model`` is the model folder prepared from ``ModelDataUrl`` (``model.tar.gz``
  extracted; :func:`smflow.local.executors.hosting.models.prepare_model`), mounted read-only,
  as SageMaker gives the container read-only access to it.
- The container gets the model's container ``Environment`` (with a transform job's overrides)
  and AWS settings pointing at the local runtime; code named by ``SAGEMAKER_SUBMIT_DIRECTORY``
  on S3 is downloaded by the runtime and mounted read-only at ``/opt/ml/code``, which the
  variable then names.
- Its model server answers on port 8080 of the container. Where the daemon has its default
  ``bridge`` network, that port is published on a free port of 127.0.0.1 chosen by Docker: the
  contract exactly, and each instance has its own port. Where the daemon has no bridge network
  (``dockerd --bridge=none``, as on CI machines without iptables), the container shares the
  host's network, so that two instances cannot both have port 8080; each then gets a free
  loopback port in ``SAGEMAKER_BIND_TO_PORT``, the variable SageMaker gives the containers of an
  inference pipeline and that AWS's own serving containers honour (an image that ignores it and
  listens on 8080 serves one instance at most on such a daemon; the error of the next one says so).
- Its output goes to the instance's ``output.log`` (which the hosting executor ships to
  CloudWatch Logs), and the runtime health-checks it with ``GET /ping`` as for local model servers.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from smflow.local.containers import contract
from smflow.local.containers.docker.engine import (
    ContainerProcess,
    DockerError,
    DockerImage,
    DockerUnreachable,
    connect,
    daemon_address,
    run_container,
)

CONTAINER_PORT = 8080  # SageMaker's serving contract
BIND_TO_PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
CONTAINER_CODE_DIR = "/opt/ml/code"  # where a model's S3 code (SAGEMAKER_SUBMIT_DIRECTORY) is mounted
PORT_WAIT_SECONDS = 10.0


class ServingContainer(ContainerProcess):
    """A started serving container; ``port`` is where 127.0.0.1 reaches its model server;
    ``shares_host_network`` says how it got that port (see the module docstring)."""

    port: int
    shares_host_network: bool


def start_serving_container(image: DockerImage, model_dir: Path, environment: dict[str, str],
                            instance_dir: Path, log_path: Path, code_dir: Path | None = None) -> ServingContainer:
    """Start ``serve`` in a container of ``image`` for the instance folder ``instance_dir``;
    its output is appended to ``log_path``. ``code_dir``, when it exists outside ``model_dir``,
    is mounted read-only at ``/opt/ml/code``. Returns at once (the caller waits for ``/ping``).

    Raises:
        DockerError: no daemon, or the daemon refused the container.
    """
    instance_dir = Path(instance_dir).resolve()
    environment = dict(environment)
    log_path = Path(log_path)

    def on_line(line: str) -> None:
        with open(log_path, "ab") as output:
            output.write(line.encode("utf-8", "replace") + b"\n")

    model_dir = Path(model_dir).resolve()
    volumes = {str(model_dir): {"bind": contract.MODEL_DIR, "mode": "ro"}}
    if code_dir is not None and Path(code_dir).is_dir():
        code_dir = Path(code_dir).resolve()
        if code_dir != model_dir and model_dir not in code_dir.parents:
            volumes[str(code_dir)] = {"bind": CONTAINER_CODE_DIR, "mode": "ro"}
    options = {"volumes": volumes}
    bridge = _has_bridge_network()
    port = None
    if bridge:
        options["ports"] = {f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)}
    else:
        port = _free_port()
        environment[BIND_TO_PORT_ENV] = str(port)
        options["network_mode"] = "host"
    process = run_container(image, ["serve"], kind="serving", folder=instance_dir, name=str(instance_dir),
                            on_line=on_line, process_class=ServingContainer, environment=environment, **options)
    process.shares_host_network = not bridge
    if port is None:
        try:
            port = _published_port(process)
        except DockerError:
            process.remove()
            raise
    process.port = port
    return process


def _has_bridge_network() -> bool:
    try:
        client = connect()
    except DockerUnreachable as error:
        raise DockerError(f"the Docker daemon at {daemon_address()} is not reachable any more ({error}): "
                          "start Docker again") from None
    try:
        return bool(client.networks.list(names=["bridge"]))
    finally:
        client.close()


def _published_port(process: ContainerProcess) -> int:
    deadline = time.monotonic() + PORT_WAIT_SECONDS
    while True:
        process.container.reload()
        bindings = (process.container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for binding in bindings.get(f"{CONTAINER_PORT}/tcp") or []:
            if binding.get("HostPort"):
                return int(binding["HostPort"])
        if process.poll() is not None or time.monotonic() > deadline:
            raise DockerError(f"Docker published no host port for port {CONTAINER_PORT} of container "
                              f"{process.id[:12]}")
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
