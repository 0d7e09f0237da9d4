"""Model-server instances: one process per instance of an endpoint variant or a transform job,
and the runtime's HTTP client to it.

A model whose image no local environment runs is served by a Docker container instead
(``docker run <image> serve``, :mod:`smflow.local.containers.docker.serving`; the model is
prepared by :func:`prepare_container_model`): the same instance object, health checks, FIFO gate
and connection pool, with the container's published port, its output in ``output.log``, and
``stop`` removing the container.

Each instance is one ``python -m smflow.local.containers.serving`` process (the local stand-in for
one ML instance running the framework's serving container), forked by the fork server when
possible (:mod:`.fork_server`), bound to 127.0.0.1 on a free port. Its output (stdout and stderr,
e.g. tracebacks) goes to ``instance-<n>/output.log``.

An instance computes at most ``SAGEMAKER_MODEL_SERVER_WORKERS`` requests at once (default: the
number of CPUs, as the workers of SageMaker's framework containers): the model server holds the
others (:mod:`smflow.local.containers.serving.server`). The runtime lets at most
``IN_FLIGHT_PER_WORKER`` times that many requests reach an instance; the next ones wait their turn
in arrival order (:class:`_FifoGate`), within the invocation timeout. (Letting every request into a
model server makes its threads queue for the interpreter lock in no particular order: same
throughput, twice the p99 latency. Letting in only as many as it computes leaves the server idle
while each answer travels back and the runtime's thread wakes up to read it: on a shared 2-core
machine, one worker's place was held about twice as long as the computation, see
``IN_FLIGHT_PER_WORKER``.)

The runtime -> model-server hop keeps its own minimal HTTP/1.1 client (:class:`_Connection`,
:class:`_ConnectionPool`) rather than urllib3's pool, which costs InvokeEndpoint more than noise:
``bench/invoke.py --quick``, this code against the same code with urllib3's
``HTTPConnectionPool.urlopen``, medians of 3 interleaved runs on a shared 2-core machine, one row
at concurrency 1: the runtime's CPU per request 0.41 ms with urllib3 against 0.19 ms (main: 0.19
ms), p50 latency 0.70 ms against 0.47 ms, 1,113 against 1,371 requests/s.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from smflow.local.support.aws import LocalAws
from smflow.local.containers import contract
from smflow.local.executors.base import stop_process
from smflow.local.executors.hosting.errors import InstanceUnavailableError, ModelServerError
from smflow.local.executors.hosting.fork_server import (
    FORK_SERVER,
    FORK_SERVER_READY_TIMEOUT,
    SERVING_MODULE,
    ForkedProcess,
    base_environment,
)
from smflow.local.containers.docker import DockerError, docker_image
from smflow.local.containers.docker.serving import CONTAINER_CODE_DIR, ServingContainer, start_serving_container
from smflow.local.executors.hosting.models import OUTPUT_TAIL_LINES, PreparedModel, tail_lines
from smflow.local.executors.hosting.models import _download_and_extract as download_and_extract
from smflow.local.executors.hosting.models import _download_uncompressed as download_uncompressed
from smflow.local.executors.hosting.models import _fresh_dir as fresh_dir
from smflow.local.support.fifo import FifoGate as _FifoGate
from smflow.local.support.processes import TREE_ENV, ProcessTree, folder_marker, start_time


class ProtocolError(ConnectionError):
    """The model server's answer is not the HTTP/1.1 this client expects."""


class _Connection:
    """A minimal HTTP/1.1 keep-alive client connection to a local model server.

    http.client spends ~100 us of CPU per request on header objects; this sends one pre-built
    request and parses the ``Content-Length``-framed answer that smflow's model server gives.
    Header values must not contain CR or LF (ValueError).
    """

    _MAX_HEAD = 65536

    def __init__(self, port: int, timeout: float):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._timeout = timeout
        self._buffer = bytearray()
        self.reusable = True

    def close(self) -> None:
        self.reusable = False
        self.sock.close()

    def request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes, str]:
        if timeout != self._timeout:  # settimeout costs system calls: only when it changes
            self.sock.settimeout(timeout)
            self._timeout = timeout
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        for name, value in headers.items():
            if any(char in value for char in "\r\n\0"):
                raise ValueError(f"HTTP header {name} holds a line break: {value!r}")
            lines.append(f"{name}: {value}")
        body = body or b""
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if len(body) <= 262144:
            self.sock.sendall(head + body)
        else:  # no copy of large payloads
            self.sock.sendall(head)
            self.sock.sendall(body)
        return self._read_response()

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)  # a larger size costs an allocation of that size per call
        if not chunk:
            return False
        self._buffer += chunk
        return True

    def _read_response(self) -> tuple[int, bytes, str]:
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buffer) > self._MAX_HEAD:
                raise ProtocolError("response head too long")
            if not self._fill():
                raise ProtocolError("the model server closed the connection without answering")
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"malformed status line {head[0]!r}")
        status = int(parts[1])
        fields: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if "chunked" in fields.get("transfer-encoding", "").lower():
            raise ProtocolError("chunked responses are not expected from the model server")
        if fields.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0":
            self.reusable = False
        length_text = fields.get("content-length")
        if length_text is None:  # framed by the end of the connection
            while self._fill():
                pass
            data = bytes(buffer)
            buffer.clear()
            self.reusable = False
        else:
            length = int(length_text)
            while len(buffer) < length:
                if not self._fill():
                    raise ProtocolError("the model server closed the connection mid-response")
            data = bytes(buffer[:length])
            del buffer[:length]
        return status, data, fields.get("content-type", "")


class _ConnectionPool:
    """Kept-alive connections to one model server (LIFO: the warmest first)."""

    def __init__(self, port: int, max_idle: int = 64):
        self._port = port
        self._idle: deque[_Connection] = deque()
        self._lock = threading.Lock()
        self._max_idle = max_idle
        self._closed = False

    def request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes, str]:
        """Send one request; returns (status, body, content type).

        A kept-alive connection the server has closed in the meantime is replaced once.
        Raises: OSError (ConnectionError, TimeoutError, ProtocolError) when the server cannot
        be reached or answers malformed HTTP.
        """
        for attempt in range(2):
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            reused = connection is not None
            try:
                if connection is None:
                    connection = _Connection(self._port, timeout)
                result = connection.request(method, path, body, headers, timeout)
            except (ConnectionError, ProtocolError):
                if connection is not None:
                    connection.close()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                if connection is not None:
                    connection.close()
                raise
            if connection.reusable:
                with self._lock:
                    if not self._closed and len(self._idle) < self._max_idle:
                        self._idle.append(connection)
                        connection = None
            if connection is not None:
                connection.close()
            return result
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
        for connection in idle:
            connection.close()


WORKERS_ENV = contract.SAGEMAKER_MODEL_SERVER_WORKERS
# Requests let through to an instance per worker; those beyond 'workers' wait in the model server
# (in arrival order too), where a freed place is taken without a round trip through the runtime.
# Measured with bench/_common's blog model (100-row CSV, boto3 requests at concurrency 8, shared
# 2-core machine, A/B interleaved, medians of 6 runs): 1 per worker (main) 1,700 req/s; 2: 2,087
# (against 1,700); 4: 2,381 (against 1,984 with 2), p99 about 14 ms against 12 ms.
IN_FLIGHT_PER_WORKER = 4


def model_server_workers(environment: Mapping[str, str], model_name: str) -> int:
    """How many requests an instance serves at once: ``SAGEMAKER_MODEL_SERVER_WORKERS`` from the
    container Environment (the worker count of SageMaker's framework containers, each worker
    computing one request at a time), by default the number of CPUs, as there.

    Raises:
        ModelServerError: the variable is not a positive integer.
    """
    value = str(environment.get(WORKERS_ENV, "")).strip()
    if not value:
        return max(1, os.cpu_count() or 1)
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ModelServerError(
            f"{WORKERS_ENV} {value!r} of model {model_name!r} is not valid: set it in the container "
            "Environment to a positive integer (requests an instance serves at once), or leave it unset."
        )
    return int(value)


class ModelServerProcess:
    """One model-server process: an "instance" of an endpoint variant or a transform job.

    The process's stdout and stderr go to ``instance_dir/output.log`` (what a container's log
    shows); a :class:`~smflow.local.support.cloudwatch.LogShipper` copies it to CloudWatch Logs.
    """

    def __init__(self, prepared: PreparedModel, instance_dir: str | os.PathLike, aws: LocalAws, label: str):
        self.prepared = prepared
        self.instance_dir = Path(instance_dir)
        self.label = label  # e.g. "variant AllTraffic instance 1", used in error messages
        self._aws = aws
        self._process: subprocess.Popen | ForkedProcess | None = None
        self._pool: _ConnectionPool | None = None
        self.port: int | None = None
        self.workers = model_server_workers(prepared.environment, prepared.model_name)
        self._gate = _FifoGate(self.workers * IN_FLIGHT_PER_WORKER)
        # Inherited by every process the model's code starts (ProcessTree). One value per instance
        # folder, which is unique to a deployment or transform job: a replacement instance (same
        # folder, started after its predecessor's tree has ended) has the same environment.
        self._tree_marker = folder_marker(self.instance_dir)  # found again after a restart (recovery)
        self._start_time: int | None = None  # the process's, see processes.start_time

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path:
        return self.instance_dir / "output.log"

    def spawn(self, deadline: float | None = None) -> None:
        """Start the process (forked by the fork server when possible, see :class:`ForkServer`);
        :meth:`wait_ready` waits for ``/ping``. Returns at once for a fresh process; a fork
        may wait (until ``deadline``, a ``time.monotonic()`` value) for the fork server to
        finish importing the libraries."""
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.instance_dir / "port"
        port_file.unlink(missing_ok=True)
        prepared = self.prepared
        if prepared.image is not None:  # `docker run <image> serve` (containers/docker/serving.py)
            try:
                self._process = start_serving_container(
                    prepared.image, prepared.model_dir, {**prepared.environment, **self._aws.subprocess_env()},
                    self.instance_dir, self.log_path, code_dir=prepared.code_dir)
            except DockerError as exc:
                raise ModelServerError(f"The model server of {self.label} (model {prepared.model_name!r}) "
                                       f"could not start: {exc}") from None
            self.port = self._process.port
            self._pool = _ConnectionPool(self.port)
            return
        arguments = [
            "--framework", prepared.framework,
            "--model-dir", str(prepared.model_dir),
            "--code-dir", str(prepared.code_dir),
            "--port", "0",
            "--port-file", str(port_file),
        ]  # fmt: skip
        environment = self._environment()
        if deadline is None:
            deadline = time.monotonic() + FORK_SERVER_READY_TIMEOUT
        forked = FORK_SERVER.spawn(prepared, arguments, environment, self.instance_dir, self.log_path, deadline)
        if forked is not None:
            self._process = forked
            self._start_time = start_time(forked.pid)
            return
        command = [prepared.python, "-m", SERVING_MODULE, *arguments, "--parent-pid", str(os.getpid())]
        with open(self.log_path, "ab") as output:
            self._process = subprocess.Popen(
                command,
                cwd=self.instance_dir,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                close_fds=True,
                start_new_session=True,  # its own session: ended as one tree (see stop)
            )
        self._start_time = start_time(self._process.pid)

    def _environment(self) -> dict[str, str]:
        prepared = self.prepared
        env = base_environment(prepared.built_environment)
        runtime_paths = env["PYTHONPATH"]
        env.update(prepared.environment)
        env.update(self._aws.subprocess_env())
        paths = [str(prepared.code_dir)]
        if prepared.site_dir is not None:
            paths.append(str(prepared.site_dir))
        env["PYTHONPATH"] = os.pathsep.join([*paths, runtime_paths])
        env[contract.SM_MODEL_DIR] = str(prepared.model_dir)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env[TREE_ENV] = self._tree_marker
        return env

    def wait_ready(self, deadline: float) -> None:
        """Block until ``/ping`` answers 200 (``deadline``: a ``time.monotonic()`` value).

        Raises:
            ModelServerError: the process exited (the reason includes the end of its output,
                e.g. model_fn's exception) or did not answer in time (the process is stopped).
        """
        port_file = self.instance_dir / "port"
        delay = 0.005  # a forked server is up in tens of milliseconds: look often at first
        while True:
            code = self._process.poll() if self._process else -1
            if code is not None:
                if isinstance(self._process, ServingContainer):
                    self._process.join_output(2.0)  # its last lines reach output.log
                raise ModelServerError(
                    f"The model server of {self.label} (model {self.prepared.model_name!r}) exited "
                    f"with code {code} while starting: {self.output_tail() or 'no output'}"
                )
            if self.port is None and port_file.is_file():
                text = port_file.read_text(encoding="utf-8").strip()
                if text.isdigit():
                    self.port = int(text)
                    self._pool = _ConnectionPool(self.port)
            if self._pool is not None:
                try:
                    status, _, _ = self._pool.request("GET", contract.PING_PATH, None, {}, contract.PING_TIMEOUT)
                    if status == 200:
                        return
                except OSError:
                    pass
            if time.monotonic() >= deadline:
                tail = self.output_tail()
                self.stop()
                raise ModelServerError(
                    f"The model server of {self.label} (model {self.prepared.model_name!r}) did not "
                    f"answer /ping in time{self._port_hint()}{': ' + tail if tail else ''}"
                )
            time.sleep(delay)
            delay = min(delay * 1.3, 0.1)

    def _port_hint(self) -> str:
        process = self._process
        if isinstance(process, ServingContainer) and process.shares_host_network:
            return (f" on port {self.port} (the Docker daemon has no bridge network, so the container shares the "
                    f"host's network and its model server must listen on SAGEMAKER_BIND_TO_PORT={self.port} "
                    "instead of 8080)")
        return ""

    def output_tail(self, count: int = OUTPUT_TAIL_LINES) -> str:
        """The last ``count`` non-empty lines of the process's output (stdout and stderr)."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 16384))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return tail_lines(text, count)

    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def retired(self) -> bool:
        """True when the process was stopped on purpose by its fork server's shutdown (the
        runtime is stopping): it is not to be replaced."""
        return bool(getattr(self._process, "retired", False))

    def ping(self) -> bool:
        """Whether ``GET /ping`` answers 200 now (within ``contract.PING_TIMEOUT`` seconds)."""
        if self._pool is None or not self.is_alive():
            return False
        try:
            status, _, _ = self._pool.request("GET", contract.PING_PATH, None, {}, contract.PING_TIMEOUT)
        except OSError:
            return False
        return status == 200

    def execution_parameters(self) -> dict | None:
        """``GET /execution-parameters`` (the script's execution_parameters_fn), or None."""
        if self._pool is None:
            return None
        try:
            status, body, _ = self._pool.request("GET", contract.EXECUTION_PARAMETERS_PATH, None, {}, contract.PING_TIMEOUT)
        except OSError:
            return None
        if status != 200:
            return None
        try:
            value = json.loads(body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        custom_attributes: str | None = None,
        timeout: float = contract.INVOCATION_TIMEOUT,
    ) -> tuple[int, bytes, str]:
        """POST /invocations; returns (status, body, content type).

        At most :attr:`workers` times ``IN_FLIGHT_PER_WORKER`` requests are at the server at once
        (it computes :attr:`workers` of them at a time); the others wait their turn, in arrival
        order, within the same ``timeout`` (seconds).

        Raises:
            ModelServerError: the server is not running, cannot be reached or timed out.
        """
        if self._pool is None:
            raise InstanceUnavailableError(f"The model server of {self.label} is not running")
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        if custom_attributes:
            headers[contract.CUSTOM_ATTRIBUTES_HEADER] = custom_attributes
        queued = time.monotonic()
        if not self._gate.acquire(timeout):
            raise ModelServerError(f"The model server of {self.label} did not answer within {timeout:.0f} s")
        waited = time.monotonic() - queued
        try:
            return self._pool.request("POST", contract.INVOCATIONS_PATH, body, headers,
                                      timeout if waited < 0.001 else max(timeout - waited, 0.001))
        except TimeoutError:
            raise ModelServerError(
                f"The model server of {self.label} did not answer within {timeout:.0f} s"
            ) from None
        except OSError as exc:
            state = "is not running" if not self.is_alive() else f"could not be reached ({exc})"
            tail = self.output_tail(5)
            raise InstanceUnavailableError(
                f"The model server of {self.label} {state}{': ' + tail if tail else ''}"
            ) from None
        finally:
            self._gate.release()

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 5 s) and close connections; then
        SIGKILL whatever the model's code started and left running (processes of its session,
        those carrying its marker, its descendants at the time of the stop, see
        :class:`~smflow.local.support.processes.ProcessTree`)."""
        if self._pool is not None:
            self._pool.close()
        process = self._process
        if isinstance(process, ServingContainer):  # SIGTERM, SIGKILL after the grace period, then removed
            stop_process(process, f"model server {self.label}")
            process.remove()
            return
        tree = None
        if process is not None:
            tree = ProcessTree(process.pid, self._tree_marker, self._start_time)
            if process.poll() is None:
                tree.sample()
        stop_process(process, f"model server {self.label}")
        if tree is not None:
            tree.kill(timeout=5.0)


def prepare_container_model(model: Mapping, container: Mapping, target: Path, aws: LocalAws,
                            environment_overrides: Mapping[str, str] | None = None) -> PreparedModel:
    """A model whose image runs in Docker: ``target/model`` from ModelDataUrl (or ModelDataSource),
    which becomes the container's ``/opt/ml/model``; a ``SAGEMAKER_SUBMIT_DIRECTORY`` on S3 (a
    framework image's sourcedir.tar.gz) is extracted into ``target/code``, which becomes
    ``/opt/ml/code``, and the variable names that folder. Requirements are the image's to install.

    Raises:
        ModelServerError: no Docker daemon, the image is not on it, or the artifacts cannot be read.
    """
    name = model.get("ModelName", "<unnamed>")
    try:
        image = docker_image(container.get("Image", ""))
    except DockerError as exc:
        raise ModelServerError(str(exc)) from None
    environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
    environment.update({str(k): str(v) for k, v in (environment_overrides or {}).items()})
    model_dir = target / "model"
    fresh_dir(model_dir)
    s3 = aws.client("s3")
    source = (container.get("ModelDataSource") or {}).get("S3DataSource")
    if container.get("ModelDataUrl"):
        download_and_extract(s3, container["ModelDataUrl"], model_dir, target, "ModelDataUrl", name)
    elif source:
        download_uncompressed(s3, source, model_dir, name)
    code_dir = model_dir / "code"
    submit = environment.get(contract.SAGEMAKER_SUBMIT_DIRECTORY, "")
    if submit.startswith("s3://"):
        # Downloaded here and mounted at /opt/ml/code: a container on a bridge network cannot reach
        # the runtime's S3 (127.0.0.1 only), and AWS's toolkits take a local folder there too.
        code_dir = target / "code"
        fresh_dir(code_dir)
        download_and_extract(s3, submit, code_dir, target, contract.SAGEMAKER_SUBMIT_DIRECTORY, name)
        environment[contract.SAGEMAKER_SUBMIT_DIRECTORY] = CONTAINER_CODE_DIR
    return PreparedModel(model_name=name, model_dir=model_dir, code_dir=code_dir, site_dir=None,
                         environment=environment, python="", framework="", image=image)


def start_servers(servers: list[ModelServerProcess], timeout: float) -> None:
    """Spawn all servers at once, then wait for each ``/ping``; on any failure stop them all.

    Raises:
        ModelServerError: the first failure (in ``servers`` order).
    """
    deadline = time.monotonic() + timeout
    try:
        for server in servers:
            server.spawn(deadline)
        for server in servers:
            server.wait_ready(deadline)
    except BaseException:
        for server in servers:
            server.stop()
        raise
