"""Endpoint hosting: model-server processes for the production variants of an endpoint config.

Each instance of a production variant is one ``python -m smflow.local.model_server`` process
(the local stand-in for one ML instance running AWS's scikit-learn serving container), bound to
127.0.0.1 on a free port. Starting an instance follows what SageMaker does with a model
(CreateModel / CreateEndpoint, SageMaker API reference, and AWS's inference toolkit):

- ``PrimaryContainer.Image`` picks the local environment (scikit-learn images only);
- ``ModelDataUrl`` (``model.tar.gz``) is downloaded and safely extracted into the model dir
  (the container's ``/opt/ml/model``), which ``model_fn(model_dir)`` receives;
- the code comes from ``SAGEMAKER_SUBMIT_DIRECTORY``: an ``s3://.../sourcedir.tar.gz`` (downloaded
  and extracted), or ``/opt/ml/model/code`` (the model archive's ``code/`` folder, also the
  default); ``SAGEMAKER_PROGRAM`` names the entry point;
- a ``requirements.txt`` in the code is installed with pip into a per-model folder on the
  server's ``PYTHONPATH`` (seed document 001, "Using third-party libraries"); the runtime's own
  environment is never modified.

Model servers are forked from a fork server (``model_server --fork-server``) that has the
scikit-learn environment imported once: an instance starts in milliseconds and shares the
libraries' memory with the others. A model that could behave differently in a fork (its own
``requirements.txt`` packages, code shadowing a preloaded library, environment variables that
libraries read when imported, another interpreter) starts as a fresh process instead, as does
every model when ``SMFLOW_MODEL_SERVER_FORK=0``. See :class:`ForkServer`.

:class:`Deployment` (one endpoint) routes each invocation to a variant (``TargetVariant``, else at
random by ``InitialVariantWeight``) and round-robin to one of its instances, over kept-alive HTTP
connections (no per-request process or connection setup). An instance serves at most
``SAGEMAKER_MODEL_SERVER_WORKERS`` requests at once (default: the number of CPUs, as the workers
of SageMaker's framework containers); the next ones wait their turn in arrival order, within
the invocation timeout. (Letting every request into a model server instead makes its threads
queue for the interpreter lock in no particular order: same throughput, twice the p99 latency.) Each instance's output (stdout and
stderr, e.g. tracebacks) goes to ``instance-<n>/output.log`` and to CloudWatch Logs
(``/aws/sagemaker/Endpoints/<EndpointName>``), as a SageMaker container's log does.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

import smflow
from smflow.local.aws import LocalAws, split_s3_uri
from smflow.local.environments import UnsupportedImageError, resolve_environment
from smflow.local.files import UnsafeArchiveError, download_s3_prefix, safe_extract_tar
from smflow.local.processes import is_running

logger = logging.getLogger(__name__)

SUBMIT_DIRECTORY_ENV = "SAGEMAKER_SUBMIT_DIRECTORY"
ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints/{endpoint_name}"
CONTAINER_MODEL_DIR = "/opt/ml/model"
INVOCATION_TIMEOUT = 60.0  # seconds: SageMaker gives a model 60 s to answer InvokeEndpoint
PING_TIMEOUT = 2.0  # seconds: SageMaker's /ping request timeout
OUTPUT_TAIL_LINES = 15
_STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL


@dataclass
class InvocationResult:
    """What a model server answered to ``POST /invocations``.

    ``status`` is the HTTP status (200 on success; 4xx/5xx are the model's errors, which
    InvokeEndpoint reports as ModelError with this OriginalStatusCode); ``body`` the raw bytes;
    ``content_type`` the response Content-Type; ``variant_name`` the variant that answered
    (InvokeEndpoint's InvokedProductionVariant).
    """

    status: int
    body: bytes
    content_type: str
    variant_name: str


class ModelServerError(Exception):
    """A model server could not be started or reached. ``str(e)`` is a user-facing
    FailureReason (DescribeEndpoint / DescribeTransformJob)."""


class VariantNotFoundError(ValueError):
    """InvokeEndpoint named a ``TargetVariant`` that the endpoint does not have."""


# --------------------------------------------------------------------------------------------
# Preparing a model: artifacts, code, requirements.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedModel:
    """A model ready to be served locally.

    ``environment`` is the container Environment (with any overrides, e.g. a transform job's);
    ``site_dir`` holds the packages of the code's requirements.txt (None without one).
    """

    model_name: str
    model_dir: Path
    code_dir: Path
    site_dir: Path | None
    environment: dict[str, str]
    python: str


def primary_container(model: Mapping) -> dict:
    """The container definition of a DescribeModel dict.

    Raises:
        ModelServerError: the model has no container or several (an inference pipeline), or
            uses multi-model mode.
    """
    name = model.get("ModelName", "<unnamed>")
    container = model.get("PrimaryContainer")
    if not container:
        containers = model.get("Containers") or []
        if len(containers) != 1:
            raise ModelServerError(
                f"Model {name!r} has {len(containers)} containers: the smflow local runtime "
                "serves models with one container (PrimaryContainer); inference pipelines are "
                "not supported locally."
            )
        container = containers[0]
    if container.get("Mode", "SingleModel") != "SingleModel":
        raise ModelServerError(
            f"Model {name!r} uses container Mode {container.get('Mode')!r}: only SingleModel "
            "containers run on the smflow local runtime."
        )
    return container


def prepare_model(
    model: Mapping,
    target_dir: str | os.PathLike,
    aws: LocalAws,
    environment_overrides: Mapping[str, str] | None = None,
    install_timeout: float = 900.0,
) -> PreparedModel:
    """Download and unpack a model's artifacts and code into ``target_dir``.

    Layout: ``target_dir/model`` (ModelDataUrl extracted; recreated each time),
    ``target_dir/code`` (when the code comes from an S3 sourcedir.tar.gz),
    ``target_dir/site-packages`` (requirements.txt, reused while requirements.txt is unchanged;
    ``install_timeout`` seconds at most).

    Raises:
        ModelServerError: unsupported image, missing or unreadable artifacts or code, unsafe
            archives, or a failed requirements install; the message names the field and the fix.
    """
    name = model.get("ModelName", "<unnamed>")
    container = primary_container(model)
    image = container.get("Image", "")
    try:
        local_environment = resolve_environment(image)
    except UnsupportedImageError as exc:
        raise ModelServerError(str(exc)) from None
    environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
    environment.update({str(k): str(v) for k, v in (environment_overrides or {}).items()})

    target = Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    model_dir = target / "model"
    _fresh_dir(model_dir)
    s3 = aws.client("s3")
    model_data_url = container.get("ModelDataUrl")
    model_data_source = (container.get("ModelDataSource") or {}).get("S3DataSource")
    if model_data_url:
        _download_and_extract(s3, model_data_url, model_dir, target, "ModelDataUrl", name)
    elif model_data_source:
        _download_uncompressed(s3, model_data_source, model_dir, name)

    code_dir = _resolve_code_dir(environment.get(SUBMIT_DIRECTORY_ENV), model_dir, target, s3, name)
    site_dir = None
    requirements = code_dir / "requirements.txt"
    if requirements.is_file():
        site_dir = _install_requirements(
            requirements, target / "site-packages", local_environment.python, name, install_timeout
        )
    return PreparedModel(
        model_name=name,
        model_dir=model_dir,
        code_dir=code_dir,
        site_dir=site_dir,
        environment=environment,
        python=local_environment.python,
    )


def _fresh_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _download(s3, uri: str, destination: Path, field: str, model_name: str) -> None:
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError:
        raise ModelServerError(
            f"{field} {uri!r} of model {model_name!r} is not an S3 URI: use s3://bucket/key"
        ) from None
    try:
        s3.download_file(bucket, key, str(destination))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
            reason = "the object does not exist"
        else:
            reason = str(exc)
        raise ModelServerError(
            f"Could not download {field} {uri} of model {model_name!r}: {reason}"
        ) from None
    except BotoCoreError as exc:
        raise ModelServerError(f"Could not download {field} {uri} of model {model_name!r}: {exc}") from None


def _download_and_extract(
    s3, uri: str, destination: Path, scratch: Path, field: str, model_name: str
) -> None:
    archive = scratch / f".{field}.tar.gz"
    _download(s3, uri, archive, field, model_name)
    try:
        safe_extract_tar(archive, destination)
    except UnsafeArchiveError as exc:
        raise ModelServerError(f"{field} {uri} of model {model_name!r} is unsafe: {exc}") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelServerError(
            f"{field} {uri} of model {model_name!r} is not a readable .tar.gz archive ({exc}): "
            "pack it with `tar -czf model.tar.gz -C <dir> .`"
        ) from None
    finally:
        archive.unlink(missing_ok=True)


def _download_uncompressed(s3, source: Mapping, destination: Path, model_name: str) -> None:
    uri = source.get("S3Uri", "")
    if source.get("CompressionType", "None") != "None":
        _download_and_extract(s3, uri, destination, destination.parent, "ModelDataSource", model_name)
        return
    try:
        if source.get("S3DataType", "S3Prefix") == "S3Object":
            _download(s3, uri, destination / os.path.basename(uri), "ModelDataSource", model_name)
        else:
            download_s3_prefix(s3, uri, destination)
    except (FileNotFoundError, UnsafeArchiveError, ValueError) as exc:
        raise ModelServerError(f"ModelDataSource of model {model_name!r}: {exc}") from None


def _resolve_code_dir(submit: str | None, model_dir: Path, target: Path, s3, model_name: str) -> Path:
    if not submit:
        return model_dir / "code"
    if submit.startswith("s3://"):
        code_dir = target / "code"
        _fresh_dir(code_dir)
        _download_and_extract(s3, submit, code_dir, target, SUBMIT_DIRECTORY_ENV, model_name)
        return code_dir
    if submit == CONTAINER_MODEL_DIR or submit.startswith(CONTAINER_MODEL_DIR + "/"):
        relative = submit[len(CONTAINER_MODEL_DIR) :].strip("/")
        code_dir = (model_dir / relative).resolve()
        if code_dir != model_dir.resolve() and model_dir.resolve() not in code_dir.parents:
            raise ModelServerError(
                f"{SUBMIT_DIRECTORY_ENV} {submit!r} of model {model_name!r} leaves {CONTAINER_MODEL_DIR}"
            )
        return code_dir
    if submit.startswith("file://"):
        local = Path(submit[len("file://") :])
        if local.is_dir():
            return local
        if local.is_file():
            code_dir = target / "code"
            _fresh_dir(code_dir)
            try:
                safe_extract_tar(local, code_dir)
            except (UnsafeArchiveError, tarfile.TarError, OSError) as exc:
                raise ModelServerError(
                    f"{SUBMIT_DIRECTORY_ENV} {submit!r} of model {model_name!r}: {exc}"
                ) from None
            return code_dir
        raise ModelServerError(f"{SUBMIT_DIRECTORY_ENV} {submit!r} of model {model_name!r} does not exist")
    raise ModelServerError(
        f"{SUBMIT_DIRECTORY_ENV} {submit!r} of model {model_name!r} is not supported: use the S3 "
        f"URI of a sourcedir.tar.gz (s3://bucket/.../sourcedir.tar.gz) or {CONTAINER_MODEL_DIR}/code "
        "for code packed in model.tar.gz."
    )


def _install_requirements(
    requirements: Path, site_dir: Path, python: str, model_name: str, timeout: float
) -> Path:
    """pip-install ``requirements`` into ``site_dir`` once per distinct requirements.txt."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = site_dir / ".smflow-requirements.sha256"
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest:
        return site_dir
    _fresh_dir(site_dir)
    env = dict(os.environ)
    env.update({"PIP_TARGET": str(site_dir), "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"})
    env.pop("PIP_USER", None)
    command = [python, "-m", "pip", "install", "--quiet", "--target", str(site_dir), "-r", requirements.name]
    try:
        completed = subprocess.run(
            command, cwd=requirements.parent, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise ModelServerError(
            f"Installing requirements.txt of model {model_name!r} took longer than {timeout:.0f} s"
        ) from None
    if completed.returncode != 0:
        tail = _tail_lines(completed.stderr or completed.stdout, OUTPUT_TAIL_LINES)
        raise ModelServerError(
            f"Installing requirements.txt of model {model_name!r} failed (pip exit code "
            f"{completed.returncode}): {tail}"
        )
    stamp.write_text(digest, encoding="utf-8")
    return site_dir


def _tail_lines(text: str, count: int) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])


# --------------------------------------------------------------------------------------------
# One model-server process and its connection pool.
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# The fork server: model servers forked from a process that has the libraries imported.
# --------------------------------------------------------------------------------------------

FORK_ENV = "SMFLOW_MODEL_SERVER_FORK"  # "0": every model server starts as a fresh process
FORK_SERVER_IDLE = 600.0  # seconds without any model server before the fork server stops
FORK_SERVER_READY_TIMEOUT = 120.0  # seconds to import the libraries
# Environment variables that the preloaded libraries (or the interpreter) read while they are
# imported: a container Environment that sets one of them to a value other than the fork
# server's gets a fresh process, in which it takes effect.
IMPORT_TIME_ENV_PREFIXES = (
    "PYTHON", "LD_", "OMP_", "OPENBLAS_", "GOTO", "MKL_", "KMP_", "BLIS_", "VECLIB_", "NUMEXPR_",
    "NUMBA_", "NPY_", "NUMPY_", "SCIPY_", "SKLEARN_", "JOBLIB_", "PANDAS_", "ARROW_", "PYARROW_",
    "MALLOC_", "GLIBC_", "LC_", "LANG", "TZ", "TMPDIR", "OPENSSL_", "SSL_",
)


def _base_environment() -> dict[str, str]:
    """The environment every model server starts from: the runtime's, without its AWS, SageMaker
    and pip settings, with smflow importable and unbuffered output."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "SM_", "SAGEMAKER_", "PIP_"))
    }
    paths = []
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    paths.append(str(Path(smflow.__file__).resolve().parent.parent))  # smflow itself
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class _ForkedProcess:
    """A model server forked by the fork server: what :class:`ModelServerProcess` uses of
    ``subprocess.Popen`` (``pid``, ``returncode``, ``poll``, ``wait``, ``terminate``, ``kill``).
    Its exit code arrives from the fork server once the process is reaped."""

    def __init__(self, pid: int, zygote: _Zygote):
        self.pid = pid
        self.returncode: int | None = None
        self._zygote = zygote
        self._done = threading.Event()

    def _exited(self, code: int) -> None:
        if not self._done.is_set():
            self.returncode = code
            self._done.set()

    def poll(self) -> int | None:
        if not self._done.is_set() and self._zygote.gone and not is_running(self.pid):
            self._exited(1)  # its fork server died first: the exit code is unknown
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code, once the process has ended; raises subprocess.TimeoutExpired after
        ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired("model server", timeout)
            self._done.wait(0.5 if remaining is None else min(0.5, remaining))
        return self.returncode  # type: ignore[return-value]

    def _signal(self, signum: int) -> None:
        if not self._done.is_set():  # a reaped pid may already belong to another process
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)


class _Zygote:
    """One fork-server process (``python -m smflow.local.model_server --fork-server``) and its
    children; a reader thread handles its messages (see ``model_server.fork_server``)."""

    def __init__(self) -> None:
        self.environment = _base_environment()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "smflow.local.model_server", "--fork-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the fork server's own problems go to the runtime's output
            cwd=os.path.abspath(os.sep),
            env=self.environment,
            close_fds=True,
        )
        self.pid = self.process.pid
        self.ready = threading.Event()
        self.modules: frozenset[str] = frozenset()
        self.gone = False
        self.children: dict[int, _ForkedProcess] = {}
        self.last_used = time.monotonic()
        self._lock = threading.Lock()
        self._replied = threading.Condition(self._lock)
        self._replies: dict[int, _ForkedProcess | str] = {}
        self._ids = itertools.count(1)
        threading.Thread(target=self._read, name="model-server-fork-server", daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.process.stdout:
                message = json.loads(line)
                if message.get("ready"):
                    self.modules = frozenset(message.get("modules", ()))
                    self.ready.set()
                elif "spawned" in message:
                    with self._lock:
                        if "pid" in message:
                            child = _ForkedProcess(int(message["pid"]), self)
                            self.children[child.pid] = child
                            self._replies[message["spawned"]] = child
                        else:
                            self._replies[message["spawned"]] = str(message.get("error", "fork failed"))
                        self._replied.notify_all()
                elif "exited" in message:
                    with self._lock:
                        child = self.children.pop(int(message["exited"]), None)
                        self.last_used = time.monotonic()
                    if child is not None:
                        child._exited(int(message["code"]))
        except (OSError, ValueError):
            logger.warning("lost the model servers' fork server", exc_info=True)
        finally:
            with self._lock:
                self.gone = True
                self._replied.notify_all()
            self.ready.set()

    def spawn(self, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path,
              deadline: float) -> _ForkedProcess:
        """Fork a model server; raises OSError when the fork server cannot."""
        if not self.ready.wait(max(0.0, deadline - time.monotonic())) or self.gone:
            raise OSError("the fork server is not ready")
        command = {"argv": [*argv, "--parent-pid", str(self.pid)], "env": env, "cwd": str(cwd),
                   "log": str(log_path)}
        with self._lock:
            request_id = next(self._ids)
            command["spawn"] = request_id
            self.last_used = time.monotonic()
            self.process.stdin.write((json.dumps(command) + "\n").encode("utf-8"))
            self.process.stdin.flush()
            while request_id not in self._replies and not self.gone:
                if not self._replied.wait(max(0.0, deadline - time.monotonic())):
                    raise OSError("the fork server did not answer in time")
            reply = self._replies.pop(request_id, "the fork server stopped")
        if isinstance(reply, str):
            raise OSError(reply)
        return reply

    def idle_for(self) -> float:
        with self._lock:
            return 0.0 if self.children else time.monotonic() - self.last_used

    def stop(self) -> None:
        """End the fork server; it stops the model servers it still has (SIGTERM, then SIGKILL)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ForkServer:
    """Starts model servers by forking them from a process that has already imported the
    scikit-learn environment (see ``model_server.fork_server``), when that cannot change what
    the model server does; :meth:`spawn` returns None otherwise, and the caller starts a fresh
    process. One per runtime process, started on first use (or by :meth:`warm_up`), stopped by
    :meth:`shutdown` or after ``FORK_SERVER_IDLE`` seconds without any model server.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zygote: _Zygote | None = None

    @staticmethod
    def enabled() -> bool:
        return os.environ.get(FORK_ENV, "1").strip().lower() not in ("0", "false", "no", "off")

    def warm_up(self) -> None:
        """Start the fork server now (non-blocking), so that it has imported the libraries by
        the time a model server is needed."""
        if self.enabled():
            with self._lock:
                self._current()

    def _current(self) -> _Zygote:
        if self._zygote is None or self._zygote.gone:
            zygote = _Zygote()
            self._zygote = zygote
            threading.Thread(target=self._retire_when_idle, args=(zygote,), name="fork-server-idle",
                             daemon=True).start()
        return self._zygote

    def _retire_when_idle(self, zygote: _Zygote) -> None:
        while not zygote.gone:
            time.sleep(min(30.0, FORK_SERVER_IDLE / 4))
            with self._lock:
                if self._zygote is not zygote or zygote.idle_for() < FORK_SERVER_IDLE:
                    continue
                self._zygote = None
            zygote.stop()
            return

    def spawn(self, prepared: PreparedModel, argv: list[str], env: dict[str, str], cwd: Path,
              log_path: Path, deadline: float) -> _ForkedProcess | None:
        """Fork a model server (``argv``: its arguments) for ``prepared``, or None when it must
        start as a fresh process (see the module docstring) or the fork server failed."""
        if not self.enabled() or prepared.python != sys.executable or prepared.site_dir is not None:
            return None
        base = _base_environment()  # the fork server's environment
        for key, value in prepared.environment.items():
            if key.startswith(IMPORT_TIME_ENV_PREFIXES) and base.get(key) != value:
                return None
        with self._lock:
            zygote = self._current()
        if any(zygote.environment.get(key) != base.get(key) for key in (*zygote.environment, *base)
               if key.startswith(IMPORT_TIME_ENV_PREFIXES)):
            return None  # the runtime's own environment changed since the fork server started
        try:
            if not zygote.ready.wait(max(0.0, min(deadline, time.monotonic() + FORK_SERVER_READY_TIMEOUT)
                                         - time.monotonic())) or zygote.gone:
                raise OSError("the fork server did not start")
            if _shadows(prepared.code_dir, zygote.modules):
                return None
            return zygote.spawn(argv, env, cwd, log_path, deadline)
        except OSError as exc:
            logger.warning("starting %s as a fresh process: %s", prepared.model_name, exc)
            return None

    def shutdown(self) -> None:
        """Stop the fork server and the model servers it still has. Idempotent."""
        with self._lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.stop()


def _shadows(code_dir: Path, modules: frozenset[str]) -> bool:
    """Whether the model's code holds a module named like a library already imported by the
    fork server (or a ``sitecustomize``), which a fresh process would import from the code."""
    try:
        names = os.listdir(code_dir)
    except OSError:
        return False
    for name in names:
        stem = name.split(".", 1)[0]
        if stem in ("sitecustomize", "usercustomize"):
            return True
        if stem in modules and (name.endswith((".py", ".pyc", ".so", ".pyd")) or (code_dir / name).is_dir()):
            return True
    return False


FORK_SERVER = ForkServer()


def warm_up_model_servers() -> None:
    """Have the model servers' fork server import the libraries now (non-blocking)."""
    try:
        FORK_SERVER.warm_up()
    except OSError:
        logger.warning("could not start the model servers' fork server", exc_info=True)



WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"


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
        self._pool: _ConnectionPool | None = None
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
        command = [prepared.python, "-m", "smflow.local.model_server", *arguments, "--parent-pid", str(os.getpid())]
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
        env["SM_MODEL_DIR"] = str(prepared.model_dir)
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
                    self._pool = _ConnectionPool(self.port)
            if self._pool is not None:
                try:
                    status, _, _ = self._pool.request("GET", "/ping", None, {}, PING_TIMEOUT)
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
        return _tail_lines(text, count)

    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def execution_parameters(self) -> dict | None:
        """``GET /execution-parameters`` (the script's execution_parameters_fn), or None."""
        if self._pool is None:
            return None
        try:
            status, body, _ = self._pool.request("GET", "/execution-parameters", None, {}, PING_TIMEOUT)
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
        timeout: float = INVOCATION_TIMEOUT,
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
            headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
        queued = time.monotonic()
        if not self._gate.acquire(timeout):
            raise ModelServerError(f"The model server of {self.label} did not answer within {timeout:.0f} s")
        waited = time.monotonic() - queued
        try:
            return self._pool.request("POST", "/invocations", body, headers,
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
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=_STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            try:
                process.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:  # never reaped (an orphaned fork): nothing more to do
                logger.warning("model server %s (pid %s) did not exit after SIGKILL", self.label, process.pid)


class LogForwarder:
    """Copies the model servers' output files to CloudWatch Logs, one stream per instance.

    Polls the files every 0.5 s from one daemon thread (the servers never wait on it);
    :meth:`close` sends what is left. Shipping errors are logged, never raised: logs must not
    decide an endpoint's or a job's fate. Groups follow SageMaker: ``/aws/sagemaker/Endpoints/
    <EndpointName>`` (streams ``<VariantName>/<instance-id>``) and ``/aws/sagemaker/TransformJobs``
    (streams ``<TransformJobName>/<instance-id>-<epoch>``).
    """

    POLL_INTERVAL = 0.5  # seconds
    MAX_READ = 4 * 1024 * 1024  # bytes per file per poll
    MAX_BATCH_EVENTS = 1000
    MAX_BATCH_BYTES = 900_000  # PutLogEvents allows 1,048,576 (26 bytes overhead per event)
    MAX_MESSAGE_CHARS = 65_000

    @dataclass
    class _Tailed:
        path: Path
        stream: str
        offset: int = 0
        partial: bytes = b""
        created: bool = False

    def __init__(self, logs_client, group: str):
        self._client = logs_client
        self._group = group
        self._group_ready = False
        self._files: list[LogForwarder._Tailed] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, path: Path, stream: str) -> None:
        """Forward what is appended to ``path`` from now on to ``stream``."""
        path = Path(path)
        try:
            offset = path.stat().st_size
        except OSError:
            offset = 0
        with self._lock:
            self._files.append(LogForwarder._Tailed(path, stream, offset))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"logs{self._group}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop polling and send the remaining lines. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._poll(final=True)

    def _run(self) -> None:
        while not self._stop.wait(self.POLL_INTERVAL):
            self._poll()

    def _poll(self, final: bool = False) -> None:
        with self._lock:
            files = list(self._files)
        for tailed in files:
            try:
                size = tailed.path.stat().st_size
                if size <= tailed.offset and not (final and tailed.partial):
                    continue
                with open(tailed.path, "rb") as handle:
                    handle.seek(tailed.offset)
                    data = handle.read(min(max(size - tailed.offset, 0), self.MAX_READ))
            except OSError:
                continue
            tailed.offset += len(data)
            lines = (tailed.partial + data).split(b"\n")
            tailed.partial = b"" if final else lines.pop()
            now = int(time.time() * 1000)
            events = [
                {
                    "timestamp": now,
                    "message": line.decode("utf-8", "replace").rstrip("\r")[: self.MAX_MESSAGE_CHARS],
                }
                for line in lines
                if line.strip()
            ]
            if events:
                self._send(tailed, events)

    def _send(self, tailed: LogForwarder._Tailed, events: list[dict]) -> None:
        try:
            if not self._group_ready:
                try:
                    self._client.create_log_group(logGroupName=self._group)
                except self._client.exceptions.ResourceAlreadyExistsException:
                    pass
                self._group_ready = True
            if not tailed.created:
                try:
                    self._client.create_log_stream(logGroupName=self._group, logStreamName=tailed.stream)
                except self._client.exceptions.ResourceAlreadyExistsException:
                    pass
                tailed.created = True
            batch: list[dict] = []
            size = 0
            for event in events:
                event_size = len(event["message"].encode("utf-8")) + 26
                if batch and (
                    len(batch) >= self.MAX_BATCH_EVENTS or size + event_size > self.MAX_BATCH_BYTES
                ):
                    self._put(tailed.stream, batch)
                    batch, size = [], 0
                batch.append(event)
                size += event_size
            self._put(tailed.stream, batch)
        except Exception:  # noqa: BLE001 - logs must not break serving
            logger.warning(
                "could not send model server output to %s %s", self._group, tailed.stream, exc_info=True
            )

    def _put(self, stream: str, batch: list[dict]) -> None:
        if batch:
            self._client.put_log_events(logGroupName=self._group, logStreamName=stream, logEvents=batch)


def instance_id() -> str:
    """A fresh EC2-style instance id (``i-`` and 17 hex digits), as in SageMaker's log streams."""
    return "i-" + uuid.uuid4().hex[:17]


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


# --------------------------------------------------------------------------------------------
# Deployment: all instances of all production variants of one endpoint config.
# --------------------------------------------------------------------------------------------


@dataclass
class _Variant:
    name: str
    weight: float
    instance_count: int
    production_variant: dict
    model: dict
    servers: list[ModelServerProcess]
    counter: itertools.count


class Deployment:
    """All instances of all production variants of one endpoint config.

    ``variants`` is a list of (ProductionVariant dict from the endpoint config, DescribeModel
    dict of its model). Files go under ``work_dir/<VariantName>/`` (model, code, packages,
    ``instance-<n>/output.log``); the servers' output also goes to CloudWatch Logs, group
    ``/aws/sagemaker/Endpoints/<EndpointName>``, stream ``<VariantName>/<instance-id>``.
    """

    def __init__(
        self,
        endpoint_name: str,
        variants: list[tuple[dict, dict]],
        work_dir: str | os.PathLike,
        aws: LocalAws,
    ):
        if not variants:
            raise ModelServerError(f"Endpoint {endpoint_name!r} has no production variants")
        self.endpoint_name = endpoint_name
        self.work_dir = Path(work_dir)
        self._aws = aws
        self._variants: dict[str, _Variant] = {}
        for production_variant, model in variants:
            name = production_variant.get("VariantName") or "AllTraffic"
            if "ServerlessConfig" in production_variant:
                count = 1
            else:
                count = int(production_variant.get("InitialInstanceCount", 1) or 1)
            if count < 1:
                raise ModelServerError(
                    f"Variant {name!r} of endpoint {endpoint_name!r} has InitialInstanceCount "
                    f"{count}: use 1 or more"
                )
            self._variants[name] = _Variant(
                name=name,
                weight=float(production_variant.get("InitialVariantWeight", 1.0)),
                instance_count=count,
                production_variant=production_variant,
                model=model,
                servers=[],
                counter=itertools.count(),
            )
        self._names = list(self._variants)
        self._weights = [max(variant.weight, 0.0) for variant in self._variants.values()]
        if sum(self._weights) <= 0:
            self._weights = [1.0] * len(self._weights)
        self._random = random.Random()
        self._started = False
        self._lock = threading.Lock()
        self._logs: LogForwarder | None = None

    @property
    def variant_names(self) -> list[str]:
        return list(self._names)

    @property
    def servers(self) -> list[ModelServerProcess]:
        """Every model-server process, variant by variant."""
        return [server for variant in self._variants.values() for server in variant.servers]

    def start(self, timeout: float = 120.0) -> None:
        """Prepare each variant's model and start all instances; blocks until all answer /ping.

        ``timeout`` (seconds) bounds the whole start, downloads and pip installs included.

        Raises:
            ModelServerError: a variant's model cannot be prepared or an instance fails to
                start; the message names the variant. No process is left running.
        """
        if self._started:
            return
        deadline = time.monotonic() + timeout
        servers: list[ModelServerProcess] = []
        for variant in self._variants.values():
            variant_dir = self.work_dir / variant.name
            try:
                prepared = prepare_model(
                    variant.model,
                    variant_dir,
                    self._aws,
                    install_timeout=max(deadline - time.monotonic(), 1.0),
                )
            except ModelServerError as exc:
                raise ModelServerError(f"Variant {variant.name!r}: {exc}") from None
            variant.servers = [
                ModelServerProcess(
                    prepared,
                    variant_dir / f"instance-{index + 1}",
                    self._aws,
                    f"variant {variant.name!r} instance {index + 1}",
                )
                for index in range(variant.instance_count)
            ]
            servers.extend(variant.servers)
        logs = LogForwarder(
            self._aws.client("logs"), ENDPOINT_LOG_GROUP.format(endpoint_name=self.endpoint_name)
        )
        for variant in self._variants.values():
            for server in variant.servers:
                logs.add(server.log_path, f"{variant.name}/{instance_id()}")
        logs.start()
        self._logs = logs
        try:
            start_servers(servers, max(deadline - time.monotonic(), 1.0))
        except BaseException:
            logs.close()  # the failed start's output (e.g. model_fn's traceback) reaches the logs
            raise
        with self._lock:
            self._started = True

    def _pick_variant(self, target_variant: str | None) -> _Variant:
        if target_variant:
            variant = self._variants.get(target_variant)
            if variant is None:
                raise VariantNotFoundError(
                    f"TargetVariant {target_variant!r} is not a production variant of endpoint "
                    f"{self.endpoint_name!r}: use one of {', '.join(self._names)}"
                )
            return variant
        if len(self._names) == 1:
            return self._variants[self._names[0]]
        return self._variants[self._random.choices(self._names, self._weights)[0]]

    def invoke(
        self,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        target_variant: str | None = None,
        custom_attributes: str | None = None,
    ) -> InvocationResult:
        """Send one InvokeEndpoint request to an instance (SageMaker Runtime InvokeEndpoint).

        Returns the model server's answer, whatever its status.
        Raises:
            VariantNotFoundError: ``target_variant`` is not a variant of this endpoint.
            ModelServerError: the endpoint is not running, or the instance is unreachable.
        """
        if not self._started:
            raise ModelServerError(f"Endpoint {self.endpoint_name!r} is not serving")
        variant = self._pick_variant(target_variant)
        server = variant.servers[next(variant.counter) % len(variant.servers)]
        status, data, response_type = server.invoke(body, content_type, accept, custom_attributes)
        return InvocationResult(
            status=status, body=data, content_type=response_type, variant_name=variant.name
        )

    def stop(self) -> None:
        """Stop every instance; idempotent. No process is left running afterwards."""
        with self._lock:
            self._started = False
        for server in self.servers:
            server.stop()
        if self._logs is not None:
            self._logs.close()
