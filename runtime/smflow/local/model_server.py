"""The SageMaker scikit-learn model server, run locally as one process per endpoint instance.

Run as ``python -m smflow.local.model_server --model-dir DIR --code-dir DIR [--port N]
[--port-file FILE] [--parent-pid PID]``. The process:

1. imports the user's entry point ``SAGEMAKER_PROGRAM`` (e.g. ``inference.py``) from the code dir,
2. loads the model with the script's ``model_fn(model_dir)`` (required, as in AWS's container),
3. binds an HTTP/1.1 keep-alive server on 127.0.0.1 (port 0 picks a free port; the port is then
   written to ``--port-file``) and answers, as a SageMaker container does:

   - ``GET /ping``: 200 (the model is loaded before the server answers anything);
   - ``POST /invocations``: ``transform_fn(model, body, content_type, accept)`` if the script
     defines it, otherwise ``output_fn(predict_fn(input_fn(body, content_type), model), accept)``
     with the script's functions or the defaults below;
   - ``GET /execution-parameters``: the script's ``execution_parameters_fn()`` (404 without one).

Behaviour follows seed document 001 ("SageMaker Scikit-learn Model Server") and AWS's container
(aws/sagemaker-scikit-learn-container ``serving.py`` on the sagemaker-containers worker):

- the request content type is the ``ContentType`` or ``Content-Type`` header, else
  ``application/json``; a missing or ``*/*`` Accept means ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``
  (default ``application/json``);
- JSON and CSV bodies reach ``input_fn`` as ``str`` (UTF-8 decoded), other types as ``bytes``;
- default ``input_fn``: NPY, JSON or CSV to a NumPy array (JSON and CSV numbers as float32);
  any other content type answers 415 Unsupported Media Type;
- default ``predict_fn``: ``model.predict(data)``;
- default ``output_fn``: the prediction as NPY, JSON or CSV; any other Accept answers
  406 Not Acceptable;
- an exception raised while handling a request answers 500 with the exception's message
  (the traceback goes to the process's stderr, the instance log).

A function may return ``(body, content_type)``; bodies may be ``bytes`` or ``str``. Functions
written for AWS's newer inference toolkit that take one more ``context`` argument receive None.

Fork server (``python -m smflow.local.model_server --fork-server``): importing the scikit-learn
environment (scikit-learn 1.9 pulls in SciPy and pandas) takes about 1.3 s of CPU and most of a
model server's memory. The fork server imports it once, then forks each model server from
itself on request (:func:`fork_server`): a model server is ready in milliseconds instead of
seconds, and the imported libraries' memory is shared, copy-on-write, by all of them. A forked
model server then runs exactly as ``python -m smflow.local.model_server ...`` would, with its
own environment variables, working directory, ``PYTHONPATH`` entries and output file.
:mod:`smflow.local.hosting` decides which models may be forked (``ForkServer.spawn``) and
starts the others as fresh processes.
"""

from __future__ import annotations

import argparse
import errno
import gc
import http.server
import importlib
import importlib.abc
import importlib.util
import inspect
import io
import json
import os
import selectors
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from smflow import codecs
from smflow.local import http11

DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
PROGRAM_ENV = "SAGEMAKER_PROGRAM"
DEFAULT_PROGRAM = "inference.py"  # AWS inference toolkit's default entry point name
ANY = "*/*"
TEXT_TYPES = (codecs.JSON, codecs.CSV)  # decoded to str before input_fn, as in AWS's container


class ServingError(Exception):
    """A request failed; ``status`` is the HTTP status to answer and ``str(self)`` the body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ModelLoadError(Exception):
    """The entry point or its model could not be loaded. ``str(e)`` says why and how to fix it."""


# --------------------------------------------------------------------------------------------
# Default handler functions (seed document 001, "Process Input" / "Get Predictions" / "Process
# Output").
# --------------------------------------------------------------------------------------------


def default_input_fn(request_body: bytes | str, content_type: str):
    """NPY, JSON or CSV -> NumPy array; JSON and CSV numbers become float32 (AWS's container).

    Raises:
        ServingError(415): the content type is none of the three.
    """
    try:
        array = codecs.decode(request_body, content_type)
    except codecs.UnsupportedContentTypeError:
        raise ServingError(
            415,
            f"Content type {content_type!r} is not supported by the default input_fn: send one of "
            f"{', '.join(codecs.SUPPORTED_CONTENT_TYPES)}, or define input_fn(request_body, "
            "request_content_type) in the entry point to deserialize it.",
        ) from None
    if codecs.base_type(content_type) in TEXT_TYPES and array.dtype.kind in "biuf":
        array = array.astype("float32")
    return array


def default_predict_fn(input_data, model):
    """``model.predict(input_data)``."""
    return model.predict(input_data)


def default_output_fn(prediction, accept: str) -> tuple[bytes, str]:
    """Serialize a prediction as NPY, JSON or CSV.

    Raises:
        ServingError(406): the accept type is none of the three.
    """
    try:
        return codecs.encode(prediction, accept), codecs.base_type(accept)
    except codecs.UnsupportedContentTypeError:
        raise ServingError(
            406,
            f"Accept type {accept!r} is not supported by the default output_fn: ask for one of "
            f"{', '.join(codecs.SUPPORTED_CONTENT_TYPES)}, or define output_fn(prediction, "
            "content_type) in the entry point to serialize it.",
        ) from None


# --------------------------------------------------------------------------------------------
# The user's entry point.
# --------------------------------------------------------------------------------------------


def _adapt(fn: Callable, arity: int) -> Callable:
    """Call ``fn`` with ``arity`` arguments, adding ``context=None`` if it takes one more."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if len(required) == arity + 1 and not any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return lambda *args: fn(*args, None)
    return fn


@dataclass
class Handlers:
    """The serving functions in use: the script's, or the defaults."""

    model: Any
    transform_fn: Callable | None
    input_fn: Callable
    predict_fn: Callable
    output_fn: Callable
    execution_parameters_fn: Callable | None
    default_accept: str


class _SklearnExternalsJoblib(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve ``sklearn.externals.joblib`` (removed in scikit-learn 0.23) as ``joblib``.

    Seed documents 000/001 load models with ``from sklearn.externals import joblib``; scripts
    written that way keep working on the current scikit-learn.
    """

    NAME = "sklearn.externals.joblib"

    def find_spec(self, fullname, path, target=None):
        if fullname != self.NAME:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module("joblib")

    def exec_module(self, module):
        return None


def import_entry_point(code_dir: str, program: str):
    """Import ``program`` (``name.py`` or a module name) from ``code_dir``.

    Raises:
        ModelLoadError: the script is missing; its import error is re-raised as is.
    """
    module_name = program[:-3] if program.endswith(".py") else program
    script = os.path.join(code_dir, *module_name.split(".")) + ".py"
    package = os.path.join(code_dir, *module_name.split("."), "__init__.py")
    if not (os.path.isfile(script) or os.path.isfile(package)):
        present = sorted(os.listdir(code_dir)) if os.path.isdir(code_dir) else []
        raise ModelLoadError(
            f"Entry point {program!r} ({PROGRAM_ENV}) was not found in the model's code "
            f"directory {code_dir} (it holds: {', '.join(present) or 'nothing'}). Put the script "
            "in the source_dir / sourcedir.tar.gz (SAGEMAKER_SUBMIT_DIRECTORY) or in model.tar.gz "
            f"under code/, and set {PROGRAM_ENV} to its file name."
        )
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    if not any(isinstance(finder, _SklearnExternalsJoblib) for finder in sys.meta_path):
        sys.meta_path.append(_SklearnExternalsJoblib())
    return importlib.import_module(module_name)


def load_handlers(module, model_dir: str, program: str) -> Handlers:
    """Resolve the serving functions of ``module`` and load the model with its ``model_fn``.

    Raises:
        ModelLoadError: ``model_fn`` is missing, or ``transform_fn`` is combined with
            ``input_fn`` / ``predict_fn`` / ``output_fn`` (AWS's container refuses both).
        Exception: whatever ``model_fn`` raises, unchanged.
    """
    model_fn = getattr(module, "model_fn", None)
    if model_fn is None:
        raise ModelLoadError(
            f"The entry point {program!r} does not define model_fn(model_dir). The scikit-learn "
            "model server has no default model loader: add a model_fn that loads and returns the "
            "model saved by training, e.g. `return joblib.load(os.path.join(model_dir, "
            '"model.joblib"))`.'
        )
    transform_fn = getattr(module, "transform_fn", None)
    overrides = [name for name in ("input_fn", "predict_fn", "output_fn") if hasattr(module, name)]
    if transform_fn is not None and overrides:
        raise ModelLoadError(
            f"The entry point {program!r} defines transform_fn together with "
            f"{', '.join(overrides)}: define either transform_fn alone or any of input_fn, "
            "predict_fn and output_fn."
        )
    model = _adapt(model_fn, 1)(model_dir)
    execution_parameters_fn = getattr(module, "execution_parameters_fn", None)
    return Handlers(
        model=model,
        transform_fn=_adapt(transform_fn, 4) if transform_fn else None,
        input_fn=_adapt(getattr(module, "input_fn", default_input_fn), 2),
        predict_fn=_adapt(getattr(module, "predict_fn", default_predict_fn), 2),
        output_fn=_adapt(getattr(module, "output_fn", default_output_fn), 2),
        execution_parameters_fn=(_adapt(execution_parameters_fn, 0) if execution_parameters_fn else None),
        default_accept=os.environ.get(DEFAULT_ACCEPT_ENV) or codecs.JSON,
    )


# --------------------------------------------------------------------------------------------
# Request handling (independent of HTTP, so it is easy to test and reason about).
# --------------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str


def resolve_accept(accept_header: str | None, default_accept: str) -> str:
    """The response type for an Accept header (AWS's container: absent or ``*/*`` -> default).

    A list (``"text/csv, application/json"``) resolves to its first entry the default output_fn
    supports, or to its first entry when none is supported (so a user output_fn sees it).
    """
    if not accept_header or not accept_header.strip():
        return default_accept
    entries = [entry.strip() for entry in accept_header.split(",") if entry.strip()]
    if len(entries) == 1:
        return default_accept if codecs.base_type(entries[0]) == ANY else entries[0]
    for entry in entries:
        kind = codecs.base_type(entry)
        if kind == ANY:
            return default_accept
        if kind in codecs.SUPPORTED_CONTENT_TYPES:
            return entry.split(";", 1)[0].strip()
    return entries[0]


def _as_reply(result, accept: str) -> Reply:
    content_type = accept
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    if isinstance(result, str):
        result = result.encode("utf-8")
    elif isinstance(result, (bytearray, memoryview)):
        result = bytes(result)
    if not isinstance(result, bytes):
        raise TypeError(
            f"output_fn/transform_fn returned {type(result).__name__}: return bytes, str, or "
            "(body, content_type)"
        )
    return Reply(200, result, str(content_type or accept))


def handle_invocation(
    handlers: Handlers, body: bytes, content_type: str | None, accept_header: str | None
) -> Reply:
    """Run one InvokeEndpoint request through the serving functions.

    Returns a 200 Reply, 415 / 406 for unsupported types with the default functions, or 500
    with the exception's message when a function raises.
    """
    content_type = content_type or codecs.JSON
    accept = resolve_accept(accept_header, handlers.default_accept)
    data: bytes | str = body
    if codecs.base_type(content_type) in TEXT_TYPES:
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _error_reply(400, f"The {content_type} request body is not UTF-8: {exc}")
    try:
        if handlers.transform_fn is not None:
            result = handlers.transform_fn(handlers.model, data, content_type, accept)
        else:
            features = handlers.input_fn(data, content_type)
            prediction = handlers.predict_fn(features, handlers.model)
            result = handlers.output_fn(prediction, accept)
        return _as_reply(result, accept)
    except ServingError as exc:
        return _error_reply(exc.status, str(exc))
    except Exception as exc:  # noqa: BLE001 - any user error becomes a 500, as in the container
        traceback.print_exc(file=sys.stderr)
        return _error_reply(500, f"{type(exc).__name__}: {exc}")


def _error_reply(status: int, message: str) -> Reply:
    return Reply(status, message.encode("utf-8"), "text/plain; charset=utf-8")


def execution_parameters(handlers: Handlers) -> Reply:
    """``GET /execution-parameters``: the script's ``execution_parameters_fn()`` as JSON."""
    if handlers.execution_parameters_fn is None:
        return _error_reply(404, "The entry point does not define execution_parameters_fn.")
    try:
        result = handlers.execution_parameters_fn()
        if isinstance(result, dict):
            result = json.dumps(result)
        return _as_reply(result, codecs.JSON)
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        return _error_reply(500, f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------------------------
# HTTP server.
# --------------------------------------------------------------------------------------------


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the runtime reuses connections
    disable_nagle_algorithm = True  # small replies leave at once (no delayed-ACK stalls)
    server_version = "smflow-model-server"
    sys_version = ""
    handlers: Handlers  # set on the subclass made by make_server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler API
        return None  # no access log: one line per request would cost latency

    def parse_request(self) -> bool:
        return http11.parse_request(self, super().parse_request)  # headers without the email package

    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler API
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            self._send(Reply(200, b"", "text/plain"))
        elif path == "/execution-parameters":
            self._send(execution_parameters(self.handlers))
        else:
            self._send(_error_reply(404, f"No route for GET {path}: use /ping or /invocations"))

    def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler API
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send(_error_reply(400, str(exc)))
            return
        if path != "/invocations":
            self._send(_error_reply(404, f"No route for POST {path}: use /invocations"))
            return
        content_type = self.headers.get("ContentType") or self.headers.get("Content-Type")
        reply = handle_invocation(self.handlers, body, content_type, self.headers.get("Accept"))
        self._send(reply)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                try:
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    raise ValueError("Malformed chunked request body") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise ValueError(f"Invalid Content-Length {length!r}") from None
        return self.rfile.read(size) if size > 0 else b""

    def _send(self, reply: Reply) -> None:
        content_type = "".join(char for char in reply.content_type if char not in "\r\n\0")
        head = (
            f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(reply.body)}\r\n"
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        payload = (head + "\r\n").encode("latin-1") + reply.body
        self.wfile.write(payload)  # one write: headers and body leave together


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def make_server(handlers: Handlers, port: int = 0, host: str = "127.0.0.1") -> _Server:
    """An HTTP server bound to ``host:port`` (port 0: a free port) serving ``handlers``."""
    handler_class = type("ModelRequestHandler", (_RequestHandler,), {"handlers": handlers})
    return _Server((host, port), handler_class)


# --------------------------------------------------------------------------------------------
# Process entry point.
# --------------------------------------------------------------------------------------------


def _write_port_file(path: str, port: int) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(str(port))
    os.replace(temporary, path)


def _exit_with_parent(parent_pid: int) -> None:
    """Stop this server when the runtime that started it is gone (no orphan servers)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _settle_memory() -> None:
    """After imports and model loading: collect garbage once, move the survivors (modules, the
    model) out of the collector's reach so that later collections stay short (no latency
    spikes) and do not touch, hence copy, memory shared with the fork server, and return freed
    memory to the OS (glibc only)."""
    gc.collect()
    gc.freeze()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# --------------------------------------------------------------------------------------------
# Fork server.
# --------------------------------------------------------------------------------------------

# What the fork server imports before forking: the scikit-learn environment's libraries, as
# scripts for AWS's scikit-learn container use them.
PRELOADED_MODULES = ("numpy", "scipy", "pandas", "joblib", "sklearn", "sklearn.base", "sklearn.pipeline",
                     "sklearn.tree")
_FORK_STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL for children left when it stops


def _write_message(fd: int, message: dict) -> None:
    data = (json.dumps(message) + "\n").encode("utf-8")
    while data:
        written = os.write(fd, data)
        data = data[written:]


def fork_server(command_fd: int, reply_fd: int) -> int:
    """Serve fork requests, one JSON object per line on ``command_fd``; answers go to ``reply_fd``.

    Messages:

    - sent once, after the imports: ``{"ready": true, "pid": <pid>, "modules": [top-level module
      names now imported]}``;
    - ``{"spawn": <id>, "argv": [model server arguments], "env": {...}, "cwd": "...",
      "log": "<file>"}`` -> ``{"spawned": <id>, "pid": <pid>}`` (or ``"error": "..."``);
    - ``{"exited": <pid>, "code": <exit code, negative for a signal>}`` once the child is reaped.

    The end of the commands (the runtime closed the pipe, or died) stops every child still
    running (SIGTERM, then SIGKILL after 5 s) and ends the fork server. Returns the exit code.
    """
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing library is imported (and fails) in the child
            traceback.print_exc(file=sys.stderr)
    _settle_memory()
    home = os.getcwd()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the selector through the wake-up pipe
    children: set[int] = set()
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


def _reap(children: set[int], reply_fd: int) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _write_message(reply_fd, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def _stop_children(children: set[int]) -> None:
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
            children.discard(pid)
        else:
            time.sleep(0.02)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _spawn_child(command: dict, children: set[int], reply_fd: int, protocol_fds: tuple[int, ...],
                 home: str) -> None:
    try:
        pid = os.fork()
    except OSError as exc:
        _write_message(reply_fd, {"spawned": command.get("spawn"), "error": f"fork failed: {exc}"})
        return
    if pid == 0:
        _become_model_server(command, protocol_fds, home)  # never returns
    children.add(pid)
    _write_message(reply_fd, {"spawned": command.get("spawn"), "pid": pid})


def _become_model_server(command: dict, protocol_fds: tuple[int, ...], home: str) -> None:
    """In a forked child: take the command's environment, directory, output file and
    ``PYTHONPATH``, then run :func:`main` with its arguments and exit with its code."""
    code = 1
    try:
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
        # sys.path as a fresh `python -m` in that directory with that PYTHONPATH would have it
        if sys.path and sys.path[0] == home:
            sys.path[0] = os.getcwd()
        entries = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
        for entry in reversed(entries):
            if entry not in sys.path:
                sys.path.insert(1, entry)
        importlib.invalidate_caches()
        np.random.seed()  # NumPy's global generator must not repeat the fork server's in every child
        sys.argv = [sys.argv[0], *command["argv"]]
        code = main(command["argv"])
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


def _run_fork_server() -> int:
    """``--fork-server``: the protocol runs over copies of stdin and stdout; fd 0 becomes
    /dev/null and fd 1 the fork server's stderr, so that nothing printed while importing can
    corrupt the protocol."""
    command_fd, reply_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        return fork_server(command_fd, reply_fd)
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the runtime is gone
            return 0
        raise



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smflow.local.model_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--model-dir", required=True, help="directory passed to model_fn")
    parser.add_argument("--code-dir", required=True, help="directory holding SAGEMAKER_PROGRAM")
    parser.add_argument("--program", default=None, help=f"entry point (default: ${PROGRAM_ENV})")
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--port-file", default=None, help="file that receives the bound port")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this pid is gone")
    args = parser.parse_args(argv)

    if args.parent_pid:
        _exit_with_parent(args.parent_pid)
    program = args.program or os.environ.get(PROGRAM_ENV) or ""
    if not program:
        if os.path.isfile(os.path.join(args.code_dir, DEFAULT_PROGRAM)):
            program = DEFAULT_PROGRAM
        else:
            print(
                f"ModelLoadError: {PROGRAM_ENV} is not set: set it in the model's container "
                "Environment to the entry point script's file name (the SageMaker Python SDK sets "
                "it from entry_point).",
                file=sys.stderr,
            )
            return 2
    try:
        module = import_entry_point(args.code_dir, program)
        handlers = load_handlers(module, args.model_dir, program)
    except ModelLoadError as exc:
        print(f"ModelLoadError: {exc}", file=sys.stderr)
        return 2
    except BaseException as exc:  # noqa: BLE001 - report the user's error, then exit non-zero
        traceback.print_exc(file=sys.stderr)
        print(f"Loading the model failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    _settle_memory()
    server = make_server(handlers, args.port)
    port = server.server_address[1]
    if args.port_file:
        _write_port_file(args.port_file, port)
    print(f"smflow model server: {program} serving on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--fork-server"]:
        sys.exit(_run_fork_server())
    sys.exit(main())
