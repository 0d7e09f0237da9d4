"""The local runtime's HTTP server: one endpoint for SageMaker, SageMaker Runtime, S3, STS and
CloudWatch Logs, so that unmodified AWS clients work with ``AWS_ENDPOINT_URL`` pointed at it.

Routing (:class:`Dispatcher`, a WSGI app):

- ``X-Amz-Target: SageMaker.<Operation>`` -> the SageMaker API (:class:`protocol.SageMakerApi`);
- other requests signed for service ``sagemaker`` (credential scope
  ``.../<region>/sagemaker/aws4_request``), and unsigned ``POST /endpoints/<name>/invocations``
  -> SageMaker Runtime InvokeEndpoint (:class:`protocol.RuntimeApi`);
- everything else -> moto's server app (S3 with path-style addressing, STS, CloudWatch Logs),
  whose S3 and Logs state is saved under the state directory
  (:mod:`smflow.local.state.moto_persistence`). moto answers other AWS services too, in memory
  only; its admin API (``/moto-api``) is refused, since its reset would erase the saved state.

InvokeEndpoint is the runtime's hot path: :class:`_RequestHandler` answers it straight from the
HTTP request handler (same routing and the same :meth:`protocol.RuntimeApi.answer`, without WSGI
objects) and keeps the connection open for the client's next request. Every other request goes
through werkzeug's WSGI handling unchanged.

Use :class:`LocalRuntime` from code and tests (``start()`` returns the URL, ``stop()``), or
:func:`serve` for a foreground server that stops on SIGTERM/SIGINT. Run it as
``python -m smflow.local.server --host 127.0.0.1 --port 0 --state-dir .smflow/state``.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from smflow.local import http11
from smflow.local.aws import DEFAULT_REGION, LocalAws
from smflow.local.backend import DEFAULT_DEPLOYMENT_TIMEOUT, Executors, SageMakerBackend
from smflow.local.state.moto_persistence import MotoPersistence, PersistentMotoApp
from smflow.local.protocol import INVOCATIONS_PATH, RuntimeApi, SageMakerApi, signing_service

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(".smflow") / "state"
_WERKZEUG_LOG = logging.getLogger("werkzeug")


class Dispatcher:
    """WSGI app routing each request to the SageMaker API, SageMaker Runtime, or moto."""

    def __init__(self, sagemaker: Any, runtime: Any, moto: Any):
        self.sagemaker = sagemaker
        self.runtime = runtime
        self.moto = moto

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            # moto's admin API (e.g. /moto-api/reset) would wipe the saved S3 and Logs state.
            return _not_available(start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("SageMaker."):
            return self.sagemaker(environ, start_response)
        service = signing_service(environ)
        if service == "sagemaker":
            return self.runtime(environ, start_response)
        if service is None and environ.get("REQUEST_METHOD") == "POST" and \
                INVOCATIONS_PATH.match(environ.get("PATH_INFO", "")):
            return self.runtime(environ, start_response)
        return self.moto(environ, start_response)


def _request_handler(base: type[WSGIRequestHandler]) -> type[WSGIRequestHandler]:
    """``base`` (werkzeug's handler, or moto's subclass of it) plus the InvokeEndpoint fast path."""

    class _RequestHandler(base):  # type: ignore[misc, valid-type]
        # Kept-alive connections that stay idle this long (seconds) are closed.
        timeout = 300

        def parse_request(self) -> bool:
            """The headers of InvokeEndpoint requests are parsed without the email package (a
            third of the runtime's time per call); every other request as werkzeug does."""
            if self.raw_requestline.startswith(b"POST /endpoints/"):
                return http11.parse_request(self, super().parse_request)
            return super().parse_request()

        def run_wsgi(self) -> None:
            runtime = getattr(self.server, "smflow_runtime_api", None)
            if runtime is None or not _answer_invocation(self, runtime):
                super().run_wsgi()

    return _RequestHandler


def _answer_invocation(handler: Any, runtime: RuntimeApi) -> bool:
    """Answer an InvokeEndpoint request directly; False (nothing read, nothing written) when
    the request is anything else, or needs what only the WSGI path handles (query string,
    percent-encoded path, chunked body, ``Expect: 100-continue``).

    Routing is the :class:`Dispatcher`'s: a request carrying ``X-Amz-Target`` or signed for
    another service is not InvokeEndpoint.
    """
    path = handler.path
    if handler.command != "POST" or not path.startswith("/endpoints/") or "?" in path or "%" in path \
            or INVOCATIONS_PATH.match(path) is None:
        return False
    # werkzeug's view of the headers: names case-insensitive, several values joined by commas,
    # folded lines unfolded (one pass over the message: its own lookups scan every line)
    values: dict[str, list[str]] = {}
    for name, value in handler.headers.items():
        if "_" in name:
            return False  # moto's handler maps underscored names onto dashed ones: its path decides
        values.setdefault(name.lower(), []).append(value.replace("\r\n", ""))
    view = {name: found[0] if len(found) == 1 else ",".join(found) for name, found in values.items()}
    if "x-amz-target" in view or "transfer-encoding" in view or "expect" in view:
        return False

    def header(name: str) -> str | None:
        return view.get(name.lower())

    service = signing_service({"HTTP_AUTHORIZATION": header("Authorization") or ""})
    if service not in (None, "sagemaker"):
        return False
    length_text = view.get("content-length") or "0"
    if not length_text.isdigit():
        return False

    length = int(length_text)
    request_body = handler.rfile.read(length) if length else b""  # all of it: the connection stays open
    if len(request_body) < length:
        handler.close_connection = True
        return True  # the client went away mid-request
    status, response_headers, body = runtime.answer("POST", path, header, lambda: request_body)
    lines = [f"HTTP/1.1 {status} {handler.responses.get(status, ('',))[0]}",
             f"Server: {handler.version_string()}", f"Date: {_http_date()}"]
    lines += [f"{name}: {value}" for name, value in response_headers]
    lines.append(f"Content-Length: {len(body)}")
    if handler.close_connection:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    handler.wfile.write(head + body if len(body) <= 262144 else head)
    if len(body) > 262144:
        handler.wfile.write(body)
    if _WERKZEUG_LOG.level == logging.NOTSET or _WERKZEUG_LOG.isEnabledFor(logging.INFO):
        handler.log_request(status, len(body))  # werkzeug's access log line, when it is on
    return True


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The HTTP Date header value, computed once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


class LocalRuntime:
    """The local runtime, serving in a background thread.

    Args:
        state_dir: folder of all state (created if missing).
        host: interface to bind; 127.0.0.1 by default.
        port: TCP port; 0 picks a free one (see :attr:`url` after :meth:`start`).
        region_name: region of the ARNs and of the runtime's own clients.
        executors: executor factories for the SageMaker backend (tests substitute doubles).
        deployment_timeout: seconds an endpoint deployment may take to start.

    Only one runtime may run per process at a time (moto's S3/Logs state is process-wide);
    :meth:`start` raises RuntimeError otherwise, and OSError if the port cannot be bound.
    """

    def __init__(
        self,
        state_dir: str | Path = DEFAULT_STATE_DIR,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        region_name: str = DEFAULT_REGION,
        executors: Executors | None = None,
        deployment_timeout: float = DEFAULT_DEPLOYMENT_TIMEOUT,
    ):
        self.state_dir = Path(state_dir)
        self.host = host
        self.port = port
        self.region_name = region_name
        self.executors = executors
        self.deployment_timeout = deployment_timeout
        self.url: str | None = None
        self.backend: SageMakerBackend | None = None
        self._persistence: MotoPersistence | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    def start(self) -> str:
        """Restore state, bind, serve in a daemon thread, restart endpoints; returns the URL
        (``http://<host>:<port>``) once everything saved is back."""
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        try:  # recent moto (after 5.2.3): keeps S3 metadata headers whose names contain underscores
            from moto.moto_server.werkzeug_app import MotoRequestHandler as base_handler
        except ImportError:  # pragma: no cover - older moto
            base_handler = WSGIRequestHandler
        request_handler = _request_handler(base_handler)

        self._stopped.clear()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        persistence = MotoPersistence(self.state_dir)
        persistence.restore()  # raises RuntimeError if another runtime is active in this process
        self._persistence = persistence
        try:
            dispatcher = Dispatcher(None, None, PersistentMotoApp(
                DomainDispatcherApplication(create_backend_app), persistence))
            self._server = make_server(self.host, self.port, dispatcher, threaded=True,
                                       request_handler=request_handler)
            port = self._server.server_address[1]
            self.url = f"http://{_url_host(self.host)}:{port}"
            self.backend = SageMakerBackend(
                self.state_dir, LocalAws(self.url, self.region_name), region_name=self.region_name,
                executors=self.executors, deployment_timeout=self.deployment_timeout,
            )
            dispatcher.sagemaker = SageMakerApi(self.backend)
            dispatcher.runtime = RuntimeApi(self.backend)
            self._server.smflow_runtime_api = dispatcher.runtime  # type: ignore[attr-defined]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name="smflow-local-server", daemon=True)
            self._thread.start()
            self.backend.restore()
        except BaseException:
            self._close()
            raise
        logger.info("smflow local runtime serving on %s (state in %s)", self.url, self.state_dir)
        return self.url

    def shutdown(self) -> None:
        """Ask :meth:`wait` to return (safe from signal handlers and other threads)."""
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`shutdown` or :meth:`stop` is called; True if it was."""
        return self._stopped.wait(timeout)

    def stop(self) -> None:
        """Stop executors (running jobs end Failed; endpoints come back on the next start),
        stop serving, and write the last S3/Logs changes. Idempotent."""
        self._stopped.set()
        self._close()

    def _close(self) -> None:
        with self._stop_lock:
            if self.backend is not None:
                self.backend.shutdown()
            if self._server is not None:
                if self._thread is not None and self._thread.is_alive():
                    self._server.shutdown()
                self._server.server_close()
                self._server = None
            if self._persistence is not None:
                self._persistence.close()
                self._persistence = None

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _not_available(start_response: Any) -> list[bytes]:
    body = json.dumps({"message": "moto's /moto-api is not available on the smflow local runtime"}).encode()
    start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    state_dir: str | Path = DEFAULT_STATE_DIR,
    on_ready: Callable[[str], None] | None = None,
    *,
    region_name: str = DEFAULT_REGION,
) -> None:
    """Run the runtime in the foreground until SIGTERM or SIGINT.

    ``on_ready(url)`` is called once the port is bound and all saved state (S3 objects, log
    events, SageMaker resources, restarted endpoints) is back. Signal handlers are installed only
    when called from the main thread (elsewhere, use :class:`LocalRuntime`).
    """
    runtime = LocalRuntime(state_dir, host, port, region_name=region_name)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: runtime.shutdown())
    try:
        url = runtime.start()
        if on_ready is not None:
            on_ready(url)
        runtime.wait()
    finally:
        runtime.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m smflow.local.server",
                                     description="Run the smflow local runtime in the foreground.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default 0: a free port)")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR),
                        help=f"folder of the runtime's state (default {DEFAULT_STATE_DIR})")
    parser.add_argument("--region", default=DEFAULT_REGION, help=f"region (default {DEFAULT_REGION})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.host, args.port, args.state_dir,
          on_ready=lambda url: print(f"smflow local runtime ready at {url}", flush=True),
          region_name=args.region)


if __name__ == "__main__":
    main()
