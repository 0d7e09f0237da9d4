"""Model-server instances: one process per instance of an endpoint variant or a transform job,
and the runtime's HTTP client to it.

Each instance is one ``python -m smflow.local.containers.serving`` process (the local stand-in for
one ML instance running the framework's serving container), forked by the fork server when
possible (:mod:`.fork_server`), bound to 127.0.0.1 on a free port. Its output (stdout and stderr,
e.g. tracebacks) goes to ``instance-<n>/output.log``.

An instance serves at most ``SAGEMAKER_MODEL_SERVER_WORKERS`` requests at once (default: the number
of CPUs, as the workers of SageMaker's framework containers); the next ones wait their turn in
arrival order (:class:`_FifoGate`), within the invocation timeout. (Letting every request into a
model server instead makes its threads queue for the interpreter lock in no particular order:
same throughput, twice the p99 latency.)

The runtime -> model-server hop uses urllib3's connection pool (kept-alive connections, the
warmest first; urllib3 comes with botocore).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path

import urllib3

from smflow.local.aws import LocalAws
from smflow.local.containers import contract
from smflow.local.executors.base import stop_process
from smflow.local.executors.hosting.errors import ModelServerError
from smflow.local.executors.hosting.fork_server import (
    FORK_SERVER,
    FORK_SERVER_READY_TIMEOUT,
    SERVING_MODULE,
    _base_environment,
    _ForkedProcess,
)
from smflow.local.executors.hosting.models import OUTPUT_TAIL_LINES, PreparedModel, tail_lines


class _ModelServerClient:
    """Kept-alive HTTP/1.1 connections to one model server (urllib3's pool, at most 64 idle)."""

    def __init__(self, port: int, max_idle: int = 64):
        self._pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=max_idle, block=False, retries=False)

    def request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes, str]:
        """Send one request; returns (status, body, content type).

        Raises: OSError (ConnectionError, TimeoutError) when the server cannot be reached, does
        not answer within ``timeout`` seconds or answers malformed HTTP; ValueError for a header
        value holding a line break.
        """
        try:
            response = self._pool.urlopen(method, path, body=body, headers=headers, timeout=timeout,
                                          retries=False, redirect=False, assert_same_host=False)
        except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError subclass
            raise ConnectionError(str(exc)) from None
        except urllib3.exceptions.TimeoutError as exc:
            raise TimeoutError(str(exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            raise ConnectionError(str(exc)) from None
        return response.status, response.data, response.headers.get("Content-Type", "")

    def close(self) -> None:
        self._pool.close()


WORKERS_ENV = contract.SAGEMAKER_MODEL_SERVER_WORKERS


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


class _FifoGate:
    """At most ``size`` holders at a time; the others wait and are let in strictly in arrival
    order (a freed place passes directly to the longest waiter: no overtaking, so no request
    waits much longer than the ones that came before it)."""

    def __init__(self, size: int):
        self._lock = threading.Lock()
        self._free = size
        self._waiting: deque[threading.Lock] = deque()  # each held until its turn comes

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        if turn.acquire(timeout=max(timeout, 0.0)):
            return True
        with self._lock:
            if turn.acquire(blocking=False):  # its turn came just as the wait timed out
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._free += 1


class ModelServerProcess:
    """One model-server process: an "instance" of an endpoint variant or a transform job.

    The process's stdout and stderr go to ``instance_dir/output.log`` (what a container's log
    shows); a :class:`LogForwarder` copies it to CloudWatch Logs.
    """

    def __init__(self, prepared: PreparedModel, instance_dir: str | os.PathLike, aws: LocalAws, label: str):
        self.prepared = prepared
        self.instance_dir = Path(instance_dir)
        self.label = label  # e.g. "variant AllTraffic instance 1", used in error messages
        self._aws = aws
        self._process: subprocess.Popen | _ForkedProcess | None = None
        self._pool: _ModelServerClient | None = None
        self.port: int | None = None
        self.workers = model_server_workers(prepared.environment, prepared.model_name)
        self._gate = _FifoGate(self.workers)

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
            )

    def _environment(self) -> dict[str, str]:
        prepared = self.prepared
        env = _base_environment()
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
                raise ModelServerError(
                    f"The model server of {self.label} (model {self.prepared.model_name!r}) exited "
                    f"with code {code} while starting: {self.output_tail() or 'no output'}"
                )
            if self.port is None and port_file.is_file():
                text = port_file.read_text(encoding="utf-8").strip()
                if text.isdigit():
                    self.port = int(text)
                    self._pool = _ModelServerClient(self.port)
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
                    f"answer /ping in time{': ' + tail if tail else ''}"
                )
            time.sleep(delay)
            delay = min(delay * 1.3, 0.1)

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

        At most :attr:`workers` requests are at the server at once; the others wait their turn,
        in arrival order, within the same ``timeout`` (seconds).

        Raises:
            ModelServerError: the server is not running, cannot be reached or timed out.
        """
        if self._pool is None:
            raise ModelServerError(f"The model server of {self.label} is not running")
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
            raise ModelServerError(
                f"The model server of {self.label} {state}{': ' + tail if tail else ''}"
            ) from None
        finally:
            self._gate.release()

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 5 s) and close connections."""
        if self._pool is not None:
            self._pool.close()
        stop_process(self._process, f"model server {self.label}")


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
