"""A SageMaker model server, run locally as one process per endpoint or transform instance.

Run as ``python -m smflow.local.containers.serving --framework NAME --model-dir DIR --code-dir
DIR [--port N] [--port-file FILE] [--parent-pid PID]``. The process:

1. imports the user's entry point ``SAGEMAKER_PROGRAM`` (e.g. ``inference.py``) from the code dir,
2. loads the model with the script's ``model_fn(model_dir)`` (required, as in AWS's containers),
3. binds an HTTP/1.1 keep-alive server on 127.0.0.1 (port 0 picks a free port; the port is then
   written to ``--port-file``) and answers, as a SageMaker container does:

   - ``GET /ping``: 200 (the model is loaded before the server answers anything);
   - ``POST /invocations``: the serving functions (:mod:`.handlers`), with the defaults of the
     framework module ``NAME`` (:mod:`smflow.local.containers.frameworks`);
   - ``GET /execution-parameters``: the script's ``execution_parameters_fn()`` (404 without one).

At most ``SAGEMAKER_MODEL_SERVER_WORKERS`` requests (default: the number of CPUs) are computed at
once, as by the workers of SageMaker's framework containers; the others wait in arrival order
(:class:`smflow.local.support.fifo.FifoGate`).
The runtime lets a few more requests than that reach the server (see
:mod:`smflow.local.executors.hosting.instances`), so that one answer travels back while the next
request is computed.

``--fork-server`` runs the fork server instead (:mod:`.fork_server`).
"""

from __future__ import annotations

import argparse
import gc
import http.server
import os
import signal
import sys
import threading
import time
import traceback

from smflow.local.containers import contract, frameworks
from smflow.local.containers.serving.handlers import (
    Handlers,
    ModelLoadError,
    Reply,
    error_reply,
    execution_parameters,
    handle_invocation,
    import_entry_point,
    load_handlers,
)
from smflow.local.support import http11
from smflow.local.support.fifo import FifoGate


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the runtime reuses connections
    disable_nagle_algorithm = True  # small replies leave at once (no delayed-ACK stalls)
    server_version = "smflow-model-server"
    sys_version = ""
    handlers: Handlers  # set on the subclass made by make_server
    workers: FifoGate  # idem: held while a request is computed

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler API
        return None  # no access log: one line per request would cost latency

    def parse_request(self) -> bool:
        return http11.parse_request(self, super().parse_request)  # headers without the email package

    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler API
        path = self.path.split("?", 1)[0]
        if path == contract.PING_PATH:
            self._send(Reply(200, b"", "text/plain"))
        elif path == contract.EXECUTION_PARAMETERS_PATH:
            self._send(execution_parameters(self.handlers))
        else:
            self._send(error_reply(404, f"No route for GET {path}: use /ping or /invocations"))

    def do_POST(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler API
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send(error_reply(400, str(exc)))
            return
        if path != contract.INVOCATIONS_PATH:
            self._send(error_reply(404, f"No route for POST {path}: use /invocations"))
            return
        content_type = self.headers.get("ContentType") or self.headers.get("Content-Type")
        accept, custom_attributes = self.headers.get("Accept"), self.headers.get(contract.CUSTOM_ATTRIBUTES_HEADER)
        self.workers.acquire()
        try:
            reply = handle_invocation(self.handlers, body, content_type, accept, custom_attributes)
        finally:
            self.workers.release()
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


def make_server(handlers: Handlers, port: int = 0, host: str = "127.0.0.1", workers: int | None = None) -> _Server:
    """An HTTP server bound to ``host:port`` (port 0: a free port) serving ``handlers``, computing
    at most ``workers`` requests at once (default: :func:`workers_from_environment`)."""
    gate = FifoGate(workers or workers_from_environment())
    handler_class = type("ModelRequestHandler", (_RequestHandler,), {"handlers": handlers, "workers": gate})
    return _Server((host, port), handler_class)


def workers_from_environment() -> int:
    """``SAGEMAKER_MODEL_SERVER_WORKERS`` (the runtime refuses invalid values before it starts a
    server; one given by hand that is not a positive integer counts as unset), else the CPU count."""
    value = os.environ.get(contract.SAGEMAKER_MODEL_SERVER_WORKERS, "").strip()
    if value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, os.cpu_count() or 1)


def _write_port_file(path: str, port: int) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(str(port))
    os.replace(temporary, path)


def _exit_with_parent(parent_pid: int) -> None:
    """Stop this server when the runtime that started it is gone (no orphan servers).
    ``parent_pid`` is the runtime's pid: this process's parent (a fresh process), or its
    grandparent (forked by a fork server, whose death must not stop it)."""

    def gone() -> bool:
        if os.getppid() == parent_pid:
            return False
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # the pid now belongs to another user's process
            return True
        return False

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if gone():
                _end_what_the_model_started()
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _end_what_the_model_started() -> None:
    """SIGKILL the processes the model's code started (this server's session, and those carrying
    its tree marker, see :class:`smflow.local.support.processes.ProcessTree`): the runtime that
    would have ended them is gone."""
    try:
        from smflow.local.support.processes import TREE_ENV, ProcessTree

        ProcessTree(os.getpid(), os.environ.get(TREE_ENV)).signal(signal.SIGKILL)
    except Exception:  # noqa: BLE001 - exiting anyway
        pass


def settle_memory() -> None:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", required=True, help="framework module (smflow.local.containers.frameworks)")
    parser.add_argument("--model-dir", required=True, help="directory passed to model_fn")
    parser.add_argument("--code-dir", required=True, help="directory holding SAGEMAKER_PROGRAM")
    parser.add_argument("--program", default=None, help=f"entry point (default: ${contract.SAGEMAKER_PROGRAM})")
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--port-file", default=None, help="file that receives the bound port")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this pid is gone")
    args = parser.parse_args(argv)

    if args.parent_pid:
        _exit_with_parent(args.parent_pid)
    defaults = frameworks.get(args.framework).serving_defaults()
    program = args.program or os.environ.get(contract.SAGEMAKER_PROGRAM) or ""
    if not program:
        if os.path.isfile(os.path.join(args.code_dir, contract.DEFAULT_PROGRAM)):
            program = contract.DEFAULT_PROGRAM
        elif defaults.load_handlers is None:
            print(
                f"ModelLoadError: {contract.SAGEMAKER_PROGRAM} is not set: set it in the model's container "
                "Environment to the entry point script's file name (the SageMaker Python SDK sets "
                "it from entry_point).",
                file=sys.stderr,
            )
            return 2
    try:
        if defaults.load_handlers is not None:
            handlers = defaults.load_handlers(args.model_dir, args.code_dir, program or None)
        else:
            module = import_entry_point(args.code_dir, program, defaults)
            handlers = load_handlers(module, args.model_dir, program, defaults)
    except ModelLoadError as exc:
        print(f"ModelLoadError: {exc}", file=sys.stderr)
        return 2
    except BaseException as exc:  # noqa: BLE001 - report the user's error, then exit non-zero
        traceback.print_exc(file=sys.stderr)
        print(f"Loading the model failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    settle_memory()
    server = make_server(handlers, args.port)
    port = server.server_address[1]
    if args.port_file:
        _write_port_file(args.port_file, port)
    print(f"smflow model server: {program or args.framework} serving on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
