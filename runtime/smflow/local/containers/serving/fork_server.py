"""The fork server of model servers: one process that has imported a framework's libraries
once and forks each model server from itself on request.

Run as ``python -m smflow.local.containers.serving --fork-server --framework NAME``. Importing a
framework's environment takes seconds of CPU and most of a model server's memory; forked from a
process that has it imported, a model server is ready in milliseconds, and the libraries' memory
is shared, copy-on-write, by all of them. A forked model server then runs exactly as ``python -m
smflow.local.containers.serving ...`` would, with its own environment variables, working
directory, ``PYTHONPATH`` entries and output file. The runtime's side, which decides which models
may be forked, is :mod:`smflow.local.executors.hosting.fork_server`.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import selectors
import signal
import sys
import time
import traceback

from smflow.local.containers import frameworks
from smflow.local.containers.serving import server
from smflow.local.support.processes import TREE_ENV, kill_marked, set_startup_marker

_FORK_STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL for children left when it stops


def _write_message(fd: int, message: dict) -> None:
    data = (json.dumps(message) + "\n").encode("utf-8")
    while data:
        written = os.write(fd, data)
        data = data[written:]


def fork_server(command_fd: int, reply_fd: int, preloaded_modules: tuple[str, ...]) -> int:
    """Import ``preloaded_modules``, then serve fork requests, one JSON object per line on
    ``command_fd``; answers go to ``reply_fd``.

    Messages:

    - sent once, after the imports: ``{"ready": true, "pid": <pid>, "modules": [top-level module
      names now imported]}``;
    - ``{"spawn": <id>, "argv": [model server arguments], "env": {...}, "cwd": "...",
      "log": "<file>"}`` -> ``{"spawned": <id>, "pid": <pid>}`` (or ``"error": "..."``);
    - ``{"exited": <pid>, "code": <exit code, negative for a signal>}`` once the child is reaped.

    The end of the commands (the runtime closed the pipe, or died) stops every child still
    running (SIGTERM, then SIGKILL after 5 s) and what their code left running outside their
    sessions (SIGKILL to the processes carrying their tree markers), and ends the fork server.
    Returns the exit code.
    """
    for name in preloaded_modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing library is imported (and fails) in the child
            traceback.print_exc(file=sys.stderr)
    server.settle_memory()
    home = os.getcwd()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the selector through the wake-up pipe
    children: dict[int, str | None] = {}  # pid -> its tree marker
    modules = sorted({name.split(".", 1)[0] for name in list(sys.modules)})
    _write_message(reply_fd, {"ready": True, "pid": os.getpid(), "modules": modules})

    selector = selectors.DefaultSelector()
    selector.register(command_fd, selectors.EVENT_READ, "commands")
    selector.register(wake_read, selectors.EVENT_READ, "wake")
    pending = b""
    protocol_fds = (command_fd, reply_fd, wake_read, wake_write)
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "wake":
                    try:
                        os.read(wake_read, 4096)
                    except BlockingIOError:
                        pass
                    _reap(children, reply_fd)
                    continue
                chunk = os.read(command_fd, 65536)
                if not chunk:
                    return 0
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if line.strip():
                        _spawn_child(json.loads(line), children, reply_fd, protocol_fds, home)
            _reap(children, reply_fd)
    finally:
        _stop_children(children)


def _reap(children: dict[int, str | None], reply_fd: int) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.pop(pid, None)
        _write_message(reply_fd, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _stop_children(children: dict[int, str | None]) -> None:
    """End the model servers still running (SIGTERM, SIGKILL after 5 s), then what their code
    left running outside their sessions (the processes carrying their markers): the runtime
    that would have ended those is gone or stopping."""
    markers = {marker for marker in children.values() if marker}
    try:
        _end_children(children)
    finally:
        if markers:
            kill_marked(markers, timeout=_FORK_STOP_GRACE)


def _end_children(children: dict[int, str | None]) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + _FORK_STOP_GRACE
    while children and time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            children.pop(pid, None)
        else:
            time.sleep(0.02)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _spawn_child(command: dict, children: dict[int, str | None], reply_fd: int, protocol_fds: tuple[int, ...],
                 home: str) -> None:
    try:
        pid = os.fork()
    except OSError as exc:
        _write_message(reply_fd, {"spawned": command.get("spawn"), "error": f"fork failed: {exc}"})
        return
    if pid == 0:
        _become_model_server(command, protocol_fds, home)  # never returns
    children[pid] = (command.get("env") or {}).get(TREE_ENV)
    _write_message(reply_fd, {"spawned": command.get("spawn"), "pid": pid})


def _become_model_server(command: dict, protocol_fds: tuple[int, ...], home: str) -> None:
    """In a forked child: take the command's environment, directory, output file and
    ``PYTHONPATH``, then run :func:`.server.main` with its arguments and exit with its code."""
    code = 1
    try:
        os.setsid()  # its own session, as a fresh model server: the runtime ends it as one tree
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in protocol_fds:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        output = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.chdir(command["cwd"])
        os.environ.clear()
        os.environ.update(command["env"])
        # /proc/<pid>/environ shows the fork server's start-up environment, not os.environ: put
        # this server's tree marker there too, for what its code forks without exec (and leaves
        # its session) to be found when the server or a restarted runtime ends its tree
        marker = command["env"].get(TREE_ENV)
        if marker:
            set_startup_marker(marker)
        # sys.path as a fresh `python -m` in that directory with that PYTHONPATH would have it
        if sys.path and sys.path[0] == home:
            sys.path[0] = os.getcwd()
        entries = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
        for entry in reversed(entries):
            if entry not in sys.path:
                sys.path.insert(1, entry)
        importlib.invalidate_caches()
        numpy = sys.modules.get("numpy")
        if numpy is not None:  # NumPy's global generator must not repeat the fork server's in every child
            numpy.random.seed()
        sys.argv = [sys.argv[0], *command["argv"]]
        code = server.main(command["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the output file says why
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def run(framework: str) -> int:
    """``--fork-server``: the fork server of ``framework``'s model servers, preloading its
    ``PRELOADED_MODULES``. The protocol runs over copies of stdin and stdout; fd 0 becomes
    /dev/null and fd 1 the fork server's stderr, so that nothing printed while importing can
    corrupt the protocol."""
    preloaded = frameworks.get(framework).PRELOADED_MODULES
    command_fd, reply_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        return fork_server(command_fd, reply_fd, preloaded)
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the runtime is gone
            return 0
        raise
