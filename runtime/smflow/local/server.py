"""The local runtime's HTTP server: one endpoint for SageMaker, SageMaker Runtime, S3, STS and
CloudWatch Logs, so that unmodified AWS clients work with ``AWS_ENDPOINT_URL`` pointed at it.

Routing (:class:`Dispatcher`, a WSGI app):

- ``X-Amz-Target: SageMaker.<Operation>`` -> the SageMaker API
  (:class:`smflow.local.services.sagemaker.responses.SageMakerApi`);
- other requests signed for service ``sagemaker`` (credential scope
  ``.../<region>/sagemaker/aws4_request``), and unsigned ``POST /endpoints/<name>/invocations``
  -> SageMaker Runtime InvokeEndpoint (:class:`smflow.local.services.runtime.responses.RuntimeApi`);
- everything else -> moto's server app (S3 with path-style addressing, STS, CloudWatch Logs),
  whose S3 and Logs state is saved under the state directory
  (:mod:`smflow.local.state.moto_persistence`). moto answers other AWS services too, in memory
  only; its admin API (``/moto-api``) is refused, since its reset would erase the saved state.

InvokeEndpoint is the runtime's hot path: the server's request handler
(:func:`smflow.local.services.runtime.handler.request_handler`) answers it straight from the HTTP
request (same routing and the same ``RuntimeApi.answer``, without WSGI objects) and keeps the
connection open for the client's next request. Every other request goes through werkzeug's WSGI
handling unchanged.

Use :class:`LocalRuntime` from code and tests (``start()`` returns the URL, ``stop()``), or
:func:`serve` for a foreground server that stops on SIGTERM/SIGINT. Run it as
``python -m smflow.local.server --host 127.0.0.1 --port 0 --state-dir .smflow/state``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from smflow.local.support.aws import DEFAULT_REGION, LocalAws
from smflow.local.services.protocol import signing_service
from smflow.local.services.runtime.handler import request_handler
from smflow.local.services.runtime.responses import INVOCATIONS_PATH, RuntimeApi
from smflow.local.services.sagemaker.backend import DEFAULT_DEPLOYMENT_TIMEOUT, Executors, SageMakerBackend
from smflow.local.services.sagemaker.responses import SageMakerApi
from smflow.local.state.moto_persistence import MotoPersistence, PersistentMotoApp

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(".smflow") / "state"


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
        handler = request_handler(base_handler)

        self._stopped.clear()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        persistence = MotoPersistence(self.state_dir)
        persistence.restore()  # raises RuntimeError if another runtime is active in this process
        self._persistence = persistence
        try:
            dispatcher = Dispatcher(None, None, PersistentMotoApp(
                DomainDispatcherApplication(create_backend_app), persistence))
            self._server = make_server(self.host, self.port, dispatcher, threaded=True,
                                       request_handler=handler)
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
