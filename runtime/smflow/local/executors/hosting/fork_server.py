"""The runtime's side of the model servers' fork server: which models may be forked, and the
fork server processes themselves.

Model servers are forked from a fork server (:mod:`smflow.local.containers.serving.fork_server`)
that has its framework's libraries imported once: an instance starts in milliseconds and shares
the libraries' memory with the others. There is one fork server per (framework, environment
python): the runtime's own interpreter, or an environment built on demand
(:mod:`smflow.local.containers.environments`), for the frameworks whose module says
``FORK_SAFE = True`` (libraries that start threads or device contexts when imported do not
survive a fork; their model servers are fresh processes). A model that could behave differently
in a fork (its own ``requirements.txt`` packages, code shadowing a preloaded library, environment
variables that libraries read when imported) starts as a fresh process instead, as does every
model when ``SMFLOW_MODEL_SERVER_FORK=0``.

A fork server that dies unasked (``kill -9``) is started again at once; the model servers it had
forked keep serving, since they watch the runtime's pid rather than their parent's.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import signal
import threading
import time
from pathlib import Path

import smflow
from smflow.local.containers import contract, frameworks
from smflow.local.containers.environments import package_path_env
from smflow.local.executors.hosting.models import PreparedModel
from smflow.local.support.processes import TREE_ENV, TREE_MARKER_PLACEHOLDER, is_running

logger = logging.getLogger(__name__)

SERVING_MODULE = "smflow.local.containers.serving"  # run with ``python -m``
FORK_ENV = "SMFLOW_MODEL_SERVER_FORK"  # "0": every model server starts as a fresh process
FORK_SERVER_IDLE = 600.0  # seconds without any model server before the fork server stops
FORK_SERVER_READY_TIMEOUT = 120.0  # seconds to import the libraries
# Environment variables that the interpreter and the C library read at start-up or import time;
# each framework module adds those its preloaded libraries read (IMPORT_TIME_ENV_PREFIXES). A
# container Environment that sets one of them to a value other than the fork server's gets a
# fresh process, in which it takes effect.
IMPORT_TIME_ENV_PREFIXES = (
    "PYTHON", "LD_", "MALLOC_", "GLIBC_", "LC_", "LANG", "TZ", "TMPDIR", "OPENSSL_", "SSL_",
)


def import_time_prefixes(framework: str) -> tuple[str, ...]:
    """The prefixes of the variables read at import time in ``framework``'s fork server."""
    return IMPORT_TIME_ENV_PREFIXES + tuple(frameworks.get(framework).IMPORT_TIME_ENV_PREFIXES)


def base_environment(built_environment: bool = False) -> dict[str, str]:
    """The environment every model server starts from: the runtime's, without its AWS, SageMaker
    and pip settings, with smflow importable and unbuffered output. ``built_environment``: the
    server runs in an environment built on demand, which must not see the runtime's own
    ``PYTHONPATH`` or packages: only this runtime's ``smflow`` package (a folder that holds only
    it, also named by ``SMFLOW_PACKAGE_PATH``)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith((*contract.CONTAINER_ENV_PREFIXES, "PIP_"))
    }
    if built_environment:
        package = package_path_env()
        env.update(package)
        env["PYTHONPATH"] = next(iter(package.values()))
        env.pop("PYTHONHOME", None)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env
    paths = []
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    paths.append(str(Path(smflow.__file__).resolve().parent.parent))  # smflow itself
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class ForkedProcess:
    """A model server forked by the fork server: what :class:`ModelServerProcess` uses of
    ``subprocess.Popen`` (``pid``, ``returncode``, ``poll``, ``wait``, ``terminate``, ``kill``).
    Its exit code arrives from the fork server once the process is reaped."""

    def __init__(self, pid: int, zygote: _Zygote):
        self.pid = pid
        self.returncode: int | None = None
        self.retired = False  # stopped with its fork server's shutdown: not to be replaced
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
    """One fork-server process (``<python> -m smflow.local.containers.serving --fork-server
    --framework NAME``) and its children; a reader thread handles its messages (see
    :func:`smflow.local.containers.serving.fork_server.fork_server`)."""

    def __init__(self, framework: str, on_lost=None, python: str | None = None) -> None:
        self.framework = framework
        self.python = python or sys.executable
        self.key = (framework, self.python)
        self._on_lost = on_lost  # called (in the reader thread) when the process dies unasked
        self._stopping = False
        self.environment = base_environment(self.python != sys.executable)
        self.process = subprocess.Popen(
            [self.python, "-m", SERVING_MODULE, "--fork-server", "--framework", framework],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the fork server's own problems go to the runtime's output
            cwd=os.path.abspath(os.sep),
            # room for each forked server's marker where /proc shows it (processes.set_startup_marker)
            env={**self.environment, TREE_ENV: TREE_MARKER_PLACEHOLDER},
            close_fds=True,
        )
        self.pid = self.process.pid
        self.ready = threading.Event()
        self.modules: frozenset[str] = frozenset()
        self.gone = False
        self.children: dict[int, ForkedProcess] = {}
        self.last_used = time.monotonic()
        self._lock = threading.Lock()
        self._replied = threading.Condition(self._lock)
        self._replies: dict[int, ForkedProcess | str] = {}
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
                            child = ForkedProcess(int(message["pid"]), self)
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
            if not self._stopping and self._on_lost is not None:
                self._on_lost(self)

    def spawn(self, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path,
              deadline: float) -> ForkedProcess:
        """Fork a model server; raises OSError when the fork server cannot."""
        if not self.ready.wait(max(0.0, deadline - time.monotonic())) or self.gone:
            raise OSError("the fork server is not ready")
        # The model server outlives its fork server (a fork server that dies takes no model server
        # with it) but not the runtime: it watches the runtime's pid.
        command = {"argv": [*argv, "--parent-pid", str(os.getpid())], "env": env, "cwd": str(cwd),
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
        self._stopping = True
        with self._lock:
            for child in self.children.values():
                child.retired = True
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
    """Starts model servers by forking them from a process that has already imported their
    framework's libraries (one fork server per framework module and environment python, see
    :mod:`smflow.local.containers.serving.fork_server`), when that cannot change what the model
    server does; :meth:`spawn` returns None otherwise, and the caller starts a fresh process. One
    per runtime process; each fork server starts on first use (or by :meth:`warm_up`) and stops
    by :meth:`shutdown` or after ``FORK_SERVER_IDLE`` seconds without any model server.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zygotes: dict[tuple[str, str], _Zygote] = {}

    @staticmethod
    def enabled() -> bool:
        return os.environ.get(FORK_ENV, "1").strip().lower() not in ("0", "false", "no", "off")

    def warm_up(self) -> None:
        """Start the fork servers now (non-blocking), so that they have imported the libraries by
        the time a model server is needed: one for each framework module whose environment is
        this interpreter."""
        if self.enabled():
            with self._lock:
                for module in frameworks.all_frameworks():
                    if _runs_in_runtime(module) and getattr(module, "FORK_SAFE", True):
                        self._current(module.NAME, sys.executable)

    def _current(self, framework: str, python: str) -> _Zygote:
        zygote = self._zygotes.get((framework, python))
        if zygote is None or zygote.gone:
            zygote = _Zygote(framework, self._lost, python)
            self._zygotes[zygote.key] = zygote
            threading.Thread(target=self._retire_when_idle, args=(zygote,), name="fork-server-idle",
                             daemon=True).start()
        return zygote

    def _lost(self, zygote: _Zygote) -> None:
        """A fork server died unasked (e.g. ``kill -9``): start another one at once. The model
        servers it had forked keep running (they watch the runtime, not the fork server)."""
        logger.warning("the %s model servers' fork server (pid %s) died; starting another one",
                       zygote.framework, zygote.pid)
        try:
            zygote.process.wait(timeout=5)  # reap it
        except subprocess.TimeoutExpired:
            pass
        with self._lock:
            if self._zygotes.get(zygote.key) is zygote:
                del self._zygotes[zygote.key]
                try:
                    self._current(zygote.framework, zygote.python)
                except OSError:
                    logger.warning("could not restart the model servers' fork server", exc_info=True)

    def _retire_when_idle(self, zygote: _Zygote) -> None:
        while not zygote.gone:
            time.sleep(min(30.0, FORK_SERVER_IDLE / 4))
            with self._lock:
                if self._zygotes.get(zygote.key) is not zygote or zygote.idle_for() < FORK_SERVER_IDLE:
                    continue
                del self._zygotes[zygote.key]
            zygote.stop()
            return

    def spawn(self, prepared: PreparedModel, argv: list[str], env: dict[str, str], cwd: Path,
              log_path: Path, deadline: float) -> ForkedProcess | None:
        """Fork a model server (``argv``: its arguments) for ``prepared``, or None when it must
        start as a fresh process (see the module docstring) or the fork server failed."""
        if not self.enabled() or prepared.site_dir is not None:
            return None
        module = frameworks.get(prepared.framework)
        if not getattr(module, "FORK_SAFE", prepared.python == sys.executable):
            return None  # its libraries do not survive a fork: a fresh process
        built = getattr(prepared, "built_environment", False)
        if not built and prepared.python != sys.executable:
            return None  # another interpreter that is not an environment of ours
        prefixes = import_time_prefixes(prepared.framework)
        base = base_environment(built)  # the fork server's environment
        for key, value in prepared.environment.items():
            if key.startswith(prefixes) and base.get(key) != value:
                return None
        with self._lock:
            zygote = self._current(prepared.framework, prepared.python)
        if any(zygote.environment.get(key) != base.get(key) for key in (*zygote.environment, *base)
               if key.startswith(prefixes)):
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
        """Stop the fork servers and the model servers they still have. Idempotent."""
        with self._lock:
            zygotes = list(self._zygotes.values())
            self._zygotes.clear()
        for zygote in zygotes:
            zygote.stop()


def _runs_in_runtime(module) -> bool:
    """Whether the runtime's own interpreter runs ``module``'s images (no environment to build)."""
    try:
        if hasattr(module, "environment") and module.environment(None) is not None:
            return False
        return module.python(None) == sys.executable
    except Exception:  # noqa: BLE001 - a module that cannot say: no fork server warmed up for it
        return False


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
