"""Starting, finding and stopping the local runtime as a background process.

``smflow local up`` runs ``smflow local serve`` detached, with its output in
``<state dir>/runtime.log``. The serving process writes ``<state dir>/runtime.json`` (pid and
URL) once it answers requests, and removes it when it exits cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from smflow.local.support.processes import is_running

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9510
RUNTIME_FILE = "runtime.json"
LOG_FILE = "runtime.log"


class LauncherError(RuntimeError):
    """The runtime could not be started or stopped; the message says why and what to do."""


@dataclass(frozen=True)
class RuntimeInfo:
    """What ``runtime.json`` in the state directory says of the running runtime; ``build`` is
    :func:`runtime_build` of the code it runs ("" when written by an smflow that had none)."""

    pid: int
    url: str
    host: str
    port: int
    state_dir: str
    build: str = ""


def runtime_build() -> str:
    """``<version>+<digest>``: smflow's version and a digest of its installed source files (name,
    size, modification time), so that a runtime started by another version or by an edited
    checkout is told apart from one running this code."""
    import hashlib

    import smflow

    root = Path(smflow.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return f"{smflow.__version__}+{digest.hexdigest()[:12]}"


def default_state_dir() -> Path:
    """``$SMFLOW_STATE_DIR``, else ``~/.smflow/state``."""
    return Path(os.environ.get("SMFLOW_STATE_DIR") or Path.home() / ".smflow" / "state")


def write_info(state_dir: Path, info: RuntimeInfo) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    temporary = state_dir / f".{RUNTIME_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(info)))
    os.replace(temporary, state_dir / RUNTIME_FILE)


def clear_info(state_dir: Path, pid: int) -> None:
    info = read_info(state_dir, check_alive=False)
    if info is not None and info.pid == pid:
        (state_dir / RUNTIME_FILE).unlink(missing_ok=True)


def read_info(state_dir: Path, check_alive: bool = True) -> RuntimeInfo | None:
    """The running runtime of ``state_dir``, or None (a stale file of a dead process is None)."""
    try:
        fields = json.loads((state_dir / RUNTIME_FILE).read_text())
        known = set(RuntimeInfo.__dataclass_fields__)
        info = RuntimeInfo(**{key: value for key, value in fields.items() if key in known})
    except (OSError, ValueError, TypeError):
        return None
    if check_alive and not is_running(info.pid):
        return None
    return info


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def start_background(
    state_dir: Path | None = None,
    host: str = DEFAULT_HOST,
    port: int | None = None,
    timeout: float = 60.0,
    *,
    allowed_hosts: list[str] | tuple[str, ...] = (),
    keys_file: Path | None = None,
    docker_frameworks: bool = False,
) -> tuple[RuntimeInfo, bool]:
    """Start the runtime unless one already runs for ``state_dir``.

    ``port``: None = :data:`DEFAULT_PORT` (9510), or a free port chosen by the system when
    another program holds 9510; the URL in the returned info is the one to use.
    ``allowed_hosts`` and ``keys_file`` are ``smflow local serve``'s ``--allow-host`` and
    ``--check-signatures`` (see :mod:`smflow.local.services.access`); ``docker_frameworks`` is
    ``--docker-frameworks`` (AWS's framework images run in Docker, :mod:`smflow.local.containers.docker`).

    Returns: ``(info, started)`` where ``started`` is False when it was already running.
    Raises:
        LauncherError: the given port is taken by something else; a runtime of another smflow
            build runs for ``state_dir`` (it is never reused silently: the message says how to
            stop it); or the process died or did not become ready within ``timeout`` seconds
            (the message quotes its log).
    """
    state_dir = Path(state_dir or default_state_dir()).resolve()
    running = read_info(state_dir)
    build = runtime_build()
    if running is not None:
        if running.build != build:
            raise LauncherError(
                f"a runtime of another smflow build ({running.build or 'unknown'}; this is {build}) is "
                f"running for {state_dir} (pid {running.pid}, {running.url}): stop it with "
                f"`smflow local down --state-dir {state_dir}` (endpoints it serves come back when a new "
                "runtime starts), then start again"
            )
        return running, False
    if port is None:
        port = DEFAULT_PORT if port_is_free(host, DEFAULT_PORT) else 0
    elif port and not port_is_free(host, port):
        raise LauncherError(
            f"port {port} on {host} is in use by another program; pass another --port, or none to "
            "let smflow choose a free one"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / LOG_FILE
    command = [
        sys.executable, "-m", "smflow.cli", "local", "serve",
        "--host", host, "--port", str(port), "--state-dir", str(state_dir),
    ]
    for name in allowed_hosts:
        command += ["--allow-host", name]
    if keys_file is not None:
        command += ["--check-signatures", str(keys_file)]
    if docker_frameworks:
        command.append("--docker-frameworks")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_info(state_dir)
        if info is not None and info.pid == process.pid:
            return info, True
        if process.poll() is not None:
            raise LauncherError(
                f"the local runtime exited with code {process.returncode}:\n{_tail(log_path)}"
            )
        time.sleep(0.05)
    process.terminate()
    raise LauncherError(f"the local runtime did not start within {timeout:.0f} s:\n{_tail(log_path)}")


def stop(state_dir: Path | None = None, timeout: float = 30.0) -> RuntimeInfo | None:
    """Stop the runtime of ``state_dir`` (SIGTERM, then SIGKILL after ``timeout`` seconds).

    Returns: what was stopped, or None when nothing was running.
    """
    state_dir = Path(state_dir or default_state_dir()).resolve()
    info = read_info(state_dir)
    if info is None:
        (state_dir / RUNTIME_FILE).unlink(missing_ok=True)
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(info.pid):
        if time.monotonic() > deadline:
            os.kill(info.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    (state_dir / RUNTIME_FILE).unlink(missing_ok=True)
    return info


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
