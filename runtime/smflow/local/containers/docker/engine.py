"""The Docker daemon as the local runtime sees it: which images it runs, the connection, the
containers it starts and how they are found again.

- The daemon is the one ``docker.from_env()`` reaches (the ``docker`` package): ``DOCKER_HOST``
  (with ``DOCKER_TLS_VERIFY`` / ``DOCKER_CERT_PATH``), else the default socket
  ``unix:///var/run/docker.sock``. With none reachable, a job fails with a FailureReason naming
  both ways out: start Docker, or use a framework image that runs in a local environment.
- Images are never pulled (a pull from ECR needs AWS credentials the local runtime does not
  have, and can take many minutes): an image absent from the daemon fails the job or endpoint
  with the ``docker pull`` to run (and, for ECR, the ``aws ecr get-login-password | docker
  login`` before it).
- Every container carries the labels :data:`STATE_LABEL` (the runtime's state directory),
  :data:`RUNTIME_LABEL` (the runtime process that started it), :data:`KIND_LABEL` and
  :data:`NAME_LABEL`: a restarted runtime removes what a killed one left running
  (:func:`remove_leftover_containers`, called by :mod:`smflow.local.state.recovery`), and
  containers still running when the runtime's interpreter exits are removed then.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smflow.image_uris import parse_image_uri
from smflow.local.containers import frameworks
from smflow.local.containers.environments import UnsupportedImageError
from smflow.local.support.processes import start_time

logger = logging.getLogger(__name__)

DOCKER_FRAMEWORKS_ENV = "SMFLOW_DOCKER_FRAMEWORKS"  # "1": AWS's framework images run in Docker too
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"  # what docker.from_env() uses without DOCKER_HOST
REASON_LIMIT = 1024  # characters of a FailureReason (DescribeTrainingJob)
CONNECT_TIMEOUT = 10.0  # seconds for one Engine API request (streams and waits have none)

STATE_LABEL = "com.smflow.state-dir"
RUNTIME_LABEL = "com.smflow.runtime"
KIND_LABEL = "com.smflow.kind"  # "training" or "serving"
NAME_LABEL = "com.smflow.name"  # the training job, or the instance folder of a model server

_TRUE = frozenset({"1", "true", "yes", "on"})
_api_version: str | None = None  # negotiated once with the daemon, then reused
_version_lock = threading.Lock()


class DockerError(UnsupportedImageError):
    """The image cannot run in Docker now (no daemon, image absent, the daemon refused the
    container). ``str(error)`` is a FailureReason fit for users."""


def docker_frameworks_enabled() -> bool:
    """Whether AWS's framework images run in Docker instead of local environments
    (``SMFLOW_DOCKER_FRAMEWORKS=1``, set by ``smflow local up --docker-frameworks``)."""
    return os.environ.get(DOCKER_FRAMEWORKS_ENV, "").strip().lower() in _TRUE


def runs_in_docker(image_uri: str) -> bool:
    """True when ``image_uri`` runs in a Docker container: no framework module claims its
    repository (:func:`smflow.local.containers.frameworks.for_repository`; an image that is not
    of the ECR form is claimed by none), or :func:`docker_frameworks_enabled`. A claimed image
    whose version its module cannot run stays with the module (its error says which versions
    run). Asks nothing of the daemon."""
    if docker_frameworks_enabled():
        return True
    ref = parse_image_uri(image_uri)
    return ref is None or frameworks.for_repository(ref.repository) is None


@dataclass(frozen=True)
class DockerImage:
    """An image present on the daemon: ``uri`` as the request named it, ``image_id`` the
    daemon's id (sha256:...), ``host`` the daemon's address (for messages)."""

    uri: str
    image_id: str
    host: str
    # What the executors ask of a local environment: none to prepare (the image is the environment).
    spec = None
    python = ""


def daemon_address() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def connect(timeout: float = CONNECT_TIMEOUT):
    """A ``docker.DockerClient`` of the daemon (a new one per call: each container's wait and
    log streams keep their own connections).

    Raises:
        DockerUnreachable: the ``docker`` package is missing or no daemon answers.
    """
    global _api_version
    if not os.environ.get("DOCKER_HOST") and not os.path.exists(DEFAULT_DOCKER_HOST[len("unix://"):]):
        # the usual case without Docker, answered without importing the docker package (~0.3 s)
        raise DockerUnreachable(f"{DEFAULT_DOCKER_HOST[len('unix://'):]} does not exist and DOCKER_HOST is not set")
    try:
        import docker
    except ImportError:
        raise DockerUnreachable("the 'docker' Python package is not installed (pip install 'smflow[local]')") from None
    try:
        with _version_lock:
            client = docker.DockerClient.from_env(version=_api_version or "auto", timeout=int(timeout))
            if _api_version is None:
                _api_version = client.api.api_version
            else:
                client.ping()
        return client
    except Exception as error:  # noqa: BLE001 - docker.errors.DockerException, requests' errors, OSError
        raise DockerUnreachable(_short(error)) from None


class DockerUnreachable(Exception):
    """No Docker daemon answered; ``str(error)`` is why."""


def docker_image(image_uri: str) -> DockerImage:
    """The image ``image_uri`` on the daemon, checked to be there.

    Raises:
        DockerError: no daemon is reachable (the reason says: start Docker, or use a framework
            image that runs in a local environment), or the image is not on the daemon (the
            reason shows the ``docker pull``, and for ECR the ``docker login``, to run).
    """
    prefix = f"Image '{image_uri}' cannot run on the smflow local runtime"
    try:
        client = connect()
    except DockerUnreachable as error:
        if docker_frameworks_enabled():
            raise DockerError(
                f"{prefix}: {DOCKER_FRAMEWORKS_ENV} is set (smflow local up --docker-frameworks), so every "
                f"image runs in Docker, and no Docker daemon is reachable at {daemon_address()} ({error}). "
                f"Start Docker (or set DOCKER_HOST to a running daemon), or start the runtime without "
                f"--docker-frameworks / {DOCKER_FRAMEWORKS_ENV} so that framework images run in local "
                "environments."
            ) from None
        message = (
            f"{prefix}: no local environment runs it, and no Docker daemon is reachable at "
            f"{daemon_address()} to run it in a container ({error}). Either start Docker (or set "
            "DOCKER_HOST to a running daemon), or use a framework image that runs in a local "
            "environment: "
        )
        raise DockerError(message + local_images(REASON_LIMIT - len(message))) from None
    try:
        import docker

        try:
            image = client.images.get(image_uri)
        except docker.errors.ImageNotFound:
            raise DockerError(
                f"{prefix}: it is not on the Docker daemon at {daemon_address()}, and smflow never pulls "
                f"images. Pull it first: {pull_commands(image_uri)}"
            ) from None
        except docker.errors.APIError as error:
            raise DockerError(f"{prefix}: the Docker daemon at {daemon_address()} refused it: "
                              f"{_short(error)}") from None
        return DockerImage(uri=image_uri, image_id=image.id, host=daemon_address())
    finally:
        client.close()


def local_images(room: int) -> str:
    """The images that run in local environments, as ``SageMaker <display name> (<repositories>)``
    for each framework module, within ``room`` characters (the end says how many were left out)."""
    entries = [f"{module.DISPLAY_NAME} ({', '.join(module.REPOSITORIES[:2])})" for module in frameworks.all_frameworks()]
    text = "SageMaker " + ", ".join(entries) + " images."
    for kept in range(len(entries) - 1, 0, -1):
        if len(text) <= room:
            break
        text = f"SageMaker {', '.join(entries[:kept])} images, and {len(entries) - kept} more."
    return text


def pull_commands(image_uri: str) -> str:
    """The shell commands that put ``image_uri`` on the local daemon (for messages)."""
    ref = parse_image_uri(image_uri)
    if ref is None:
        return f"docker pull {image_uri}"
    registry = image_uri.split("/", 1)[0]
    return (f"aws ecr get-login-password --region {ref.region} | docker login --username AWS "
            f"--password-stdin {registry} && docker pull {image_uri}")


# -- labels -------------------------------------------------------------------------------------


def runtime_id() -> str:
    """This runtime process's identity (pid and start time: a recycled pid is another runtime)."""
    pid = os.getpid()
    return f"{pid}-{start_time(pid) or 0}"


def state_dir_of(folder: Path) -> Path:
    """The runtime's state directory of a job or instance folder (``<state_dir>/work/...``, the
    backend's layout); the folder itself when it is not under a ``work`` folder."""
    folder = Path(folder).resolve()
    for parent in folder.parents:
        if parent.name == "work":
            return parent.parent
    return folder


def labels(kind: str, folder: Path, name: str) -> dict[str, str]:
    return {
        STATE_LABEL: str(state_dir_of(folder)),
        RUNTIME_LABEL: runtime_id(),
        KIND_LABEL: kind,
        NAME_LABEL: name,
    }


def container_name(kind: str, name: str) -> str:
    """A Docker container name: ``smflow-<kind>-<name>-<8 hex>`` ([a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    clean = re.sub(r"[^a-zA-Z0-9_.-]+", "-", name)[-80:].strip("-.") or "job"
    return f"smflow-{kind}-{clean}-{uuid.uuid4().hex[:8]}"


# -- containers as processes ----------------------------------------------------------------------

_live: set[ContainerProcess] = set()
_live_lock = threading.Lock()


class ContainerProcess:
    """A started container, with the ``subprocess.Popen`` methods the executors use (``poll``,
    ``wait``, ``terminate``, ``kill``, ``pid``) and :meth:`remove`.

    One thread waits for the container's end (``POST /containers/<id>/wait``), another copies its
    output (stdout and stderr, ``GET /containers/<id>/logs?follow=1``) line by line to
    ``on_line``. Registered until removed: the runtime's interpreter removes it at exit.
    """

    pid = None  # a container has no pid of the runtime's

    def __init__(self, client, container, on_line: Callable[[str], None] | None):
        self._client = client
        self.container = container
        self.id: str = container.id
        self.returncode: int | None = None
        self._ended = threading.Event()
        self._removed = False
        with _live_lock:
            _live.add(self)
        self._waiter = threading.Thread(target=self._wait_end, daemon=True, name=f"docker-wait-{self.id[:12]}")
        self._waiter.start()
        self._reader: threading.Thread | None = None
        if on_line is not None:
            self._reader = threading.Thread(target=self._pump, args=(on_line,), daemon=True,
                                            name=f"docker-logs-{self.id[:12]}")
            self._reader.start()

    def _wait_end(self) -> None:
        code = -1
        try:
            code = int(self.container.wait(timeout=None).get("StatusCode", -1))
        except Exception as error:  # noqa: BLE001 - the daemon went away, or the container was removed
            logger.debug("container %s: wait ended with %s", self.id[:12], error)
            try:
                self.container.reload()
                code = int(self.container.attrs["State"].get("ExitCode", -1))
            except Exception:  # noqa: BLE001
                pass
        self.returncode = code
        self._ended.set()

    def _pump(self, on_line: Callable[[str], None]) -> None:
        pending = b""
        try:
            for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    on_line(raw.decode("utf-8", "replace").rstrip("\r"))
        except Exception as error:  # noqa: BLE001 - the stream ends with the container or the daemon
            logger.debug("container %s: log stream ended with %s", self.id[:12], error)
        if pending:
            on_line(pending.decode("utf-8", "replace").rstrip("\r"))

    def poll(self) -> int | None:
        return self.returncode if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"container {self.id[:12]}", timeout)
        return self.returncode  # type: ignore[return-value]

    def join_output(self, timeout: float = 10.0) -> None:
        """Wait until the output copied so far has reached ``on_line`` (after the end)."""
        if self._reader is not None:
            self._reader.join(timeout)

    def _signal(self, sig: str) -> None:
        if self.poll() is not None:
            return
        try:
            self.container.kill(signal=sig)
        except Exception as error:  # noqa: BLE001 - it ended meanwhile
            logger.debug("container %s: kill %s: %s", self.id[:12], sig, error)

    def terminate(self) -> None:
        """SIGTERM to the container's main process (``docker kill --signal SIGTERM``)."""
        self._signal("SIGTERM")

    def kill(self) -> None:
        self._signal("SIGKILL")

    def remove(self) -> None:
        """Remove the container (killed first if it runs); idempotent."""
        if self._removed:
            return
        self._removed = True
        try:
            self.container.remove(force=True)
        except Exception as error:  # noqa: BLE001 - already gone, or the daemon is
            logger.debug("container %s: remove: %s", self.id[:12], error)
        self._ended.wait(5.0)
        with _live_lock:
            _live.discard(self)
        try:
            self._client.close()
        except Exception:  # noqa: BLE001
            pass


def run_container(image: DockerImage, command: list[str], *, kind: str, folder: Path, name: str,
                  on_line: Callable[[str], None] | None, process_class: type[ContainerProcess] | None = None,
                  **options) -> ContainerProcess:
    """Create and start a container of ``image`` running ``command`` (SageMaker's ``train`` or
    ``serve``), labelled for this runtime (:func:`labels`); ``options`` go to
    ``docker.DockerClient.containers.create`` (volumes, environment, network_mode, ports...).

    Raises:
        DockerError: no daemon, or the daemon refused to create or start the container (e.g. the
            image has no ``train`` executable).
    """
    try:
        client = connect()
    except DockerUnreachable as error:
        raise DockerError(f"Image '{image.uri}': the Docker daemon at {image.host} is not reachable any more "
                          f"({error}); start Docker again") from None
    container = None
    try:
        container = client.containers.create(
            image.image_id, command=command, name=container_name(kind, name),
            labels=labels(kind, folder, name), detach=True, **options,
        )
        container.start()
    except Exception as error:  # noqa: BLE001 - docker.errors.APIError, requests' errors
        if container is not None:
            try:
                container.remove(force=True)
            except Exception:  # noqa: BLE001
                pass
        client.close()
        raise DockerError(f"Docker could not start `{' '.join(command)}` in image '{image.uri}': "
                          f"{_short(error)}") from None
    return (process_class or ContainerProcess)(client, container, on_line)


def remove_leftover_containers(state_dir: str | os.PathLike, timeout: float = 5.0) -> list[str]:
    """Remove the containers that another runtime process of ``state_dir`` started (a runtime
    that was killed, or that lost its daemon connection): those labelled with this state
    directory and another :data:`RUNTIME_LABEL`. Containers of other state directories, and of
    this runtime, are left alone. Returns the removed containers' names; [] when no daemon is
    reachable (nothing to clean, or nothing we can do: logged at debug level)."""
    try:
        client = connect(timeout)
    except DockerUnreachable as error:
        logger.debug("no Docker daemon to clean up (%s)", error)
        return []
    removed: list[str] = []
    try:
        state = str(Path(state_dir).resolve())
        mine = runtime_id()
        for container in client.containers.list(all=True, filters={"label": f"{STATE_LABEL}={state}"},
                                                ignore_removed=True):
            if container.labels.get(RUNTIME_LABEL) == mine:
                continue
            try:
                container.remove(force=True)
                removed.append(container.name)
            except Exception as error:  # noqa: BLE001
                logger.warning("could not remove container %s left by a stopped runtime: %s", container.name, error)
    except Exception as error:  # noqa: BLE001 - the daemon went away meanwhile
        logger.warning("could not list the containers left by a stopped runtime: %s", error)
    finally:
        client.close()
    if removed:
        logger.warning("removed %d container(s) left running by a stopped runtime: %s", len(removed), removed)
    return removed


@atexit.register
def _remove_live_containers() -> None:
    with _live_lock:
        live = list(_live)
    for process in live:
        process.remove()


def _short(error: BaseException, limit: int = 160) -> str:
    explanation = getattr(error, "explanation", None)
    text = str(explanation or error).strip() or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
