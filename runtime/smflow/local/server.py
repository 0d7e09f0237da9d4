"""The local runtime's HTTP server: one endpoint for SageMaker, SageMaker Runtime, S3, STS and
CloudWatch Logs, so that unmodified AWS clients work with ``AWS_ENDPOINT_URL`` pointed at it.

Routing (:class:`Dispatcher`, a WSGI app):

- ``X-Amz-Target: SageMaker.<Operation>`` -> the SageMaker API
  (:class:`smflow.local.services.sagemaker.responses.SageMakerApi`);
- other requests signed for service ``sagemaker`` (credential scope
  ``.../<region>/sagemaker/aws4_request``), and unsigned ``POST /endpoints/<name>/invocations``
  -> SageMaker Runtime InvokeEndpoint (:class:`smflow.local.services.runtime.responses.RuntimeApi`);
- unsigned requests for ``/console/...`` -> the local console (:mod:`smflow.local.console`,
  server-rendered pages of the runtime's own state; a browser opening ``/`` is sent there);
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
import secrets
import signal
import threading
from collections.abc import Iterable
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from smflow.local.console.app import Console, is_console_path, redirect_to_console, wants_console
from smflow.local.console.stats import InvocationStats
from smflow.local.services.access import AccessPolicy, AccessRefused, SignatureChecker, is_loopback, refusal_body
from smflow.local.support.aws import DEFAULT_REGION, LocalAws
from smflow.local.services.protocol import signing_service
from smflow.local.services.runtime.handler import request_handler
from smflow.local.services.runtime.responses import INVOCATIONS_PATH, RuntimeApi
from smflow.local.services.sagemaker.backend import DEFAULT_DEPLOYMENT_TIMEOUT, Executors, SageMakerBackend
from smflow.local.services.sagemaker.responses import SageMakerApi
from smflow.local.state.moto_persistence import MotoPersistence, PersistentMotoApp

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(".smflow") / "state"
MAX_MOTO_BODY = 5 * 1024**3  # bytes: S3's limit of one PutObject (larger objects take a multipart upload)


class Dispatcher:
    """WSGI app routing each request to the SageMaker API, SageMaker Runtime, or moto."""

    def __init__(self, sagemaker: Any, runtime: Any, moto: Any, access: AccessPolicy | None = None,
                 console: Any = None):
        self.sagemaker = sagemaker
        self.runtime = runtime
        self.moto = moto
        self.access = access
        self.console = console

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.access is not None:
            try:
                self.access.check(environ)
            except AccessRefused as error:
                return _refuse(environ, start_response, error)
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            # moto's admin API (e.g. /moto-api/reset) would wipe the saved S3 and Logs state.
            return _not_available(start_response)
        if self.console is not None:
            if is_console_path(environ):
                return self.console(environ, start_response)
            if wants_console(environ):
                return redirect_to_console(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target is not None and (target.startswith("SageMaker.") or not target.strip()
                                   or target[:9].lower() == "sagemaker"):
            return self.sagemaker(environ, start_response)  # a malformed SageMaker target is its 400
        if target is None and environ.get("CONTENT_TYPE", "").startswith("application/x-amz-json") \
                and environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "/") == "/":
            return self.sagemaker(environ, start_response)  # a JSON-protocol call without its operation
        service = signing_service(environ)
        if service == "sagemaker":
            return self.runtime(environ, start_response)
        path = environ.get("PATH_INFO", "")
        if service is None and environ.get("REQUEST_METHOD") == "POST" and \
                path.startswith("/endpoints/") and path.endswith("/invocations"):
            return self.runtime(environ, start_response)  # malformed names get the runtime's 400
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_MOTO_BODY:
            return _refuse(environ, start_response, AccessRefused(
                f"Content-Length {length[:40]!r} is not a number of bytes up to {MAX_MOTO_BODY} (S3's limit of "
                "one PUT): use a multipart upload for larger objects."), status="400 Bad Request",
                code="EntityTooLarge" if length.isdigit() else "InvalidContentLength")
        try:
            return self.moto(environ, start_response)
        except Exception as error:  # noqa: BLE001 - moto raises on requests it cannot parse
            logger.warning("moto could not answer %s %s: %s: %s", environ.get("REQUEST_METHOD"), path[:200],
                           type(error).__name__, error)
            return _refuse(environ, start_response, AccessRefused(
                f"The request could not be parsed ({type(error).__name__}): check its method, path and "
                "parameters against the service's API reference."), status="400 Bad Request", code="InvalidRequest")


class LocalRuntime:
    """The local runtime, serving in a background thread.

    Args:
        state_dir: folder of all state (created if missing).
        host: interface to bind; 127.0.0.1 by default.
        port: TCP port; 0 picks a free one (see :attr:`url` after :meth:`start`).
        region_name: region of the ARNs and of the runtime's own clients.
        executors: executor factories for the SageMaker backend (tests substitute doubles).
        deployment_timeout: seconds an endpoint deployment may take to start.
        allowed_hosts: Host names answered besides loopback ones (``--allow-host``; see
            :mod:`smflow.local.services.access`).
        signature_keys: access key id -> secret; when given, every request must be signed
            (SigV4) with one of them (``--check-signatures``).

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
        allowed_hosts: Iterable[str] = (),
        signature_keys: dict[str, str] | None = None,
    ):
        self.state_dir = Path(state_dir)
        self.allowed_hosts = tuple(allowed_hosts)
        self.signature_keys = dict(signature_keys) if signature_keys is not None else None
        self.host = host
        self.port = port
        self.region_name = region_name
        self.executors = executors
        self.deployment_timeout = deployment_timeout
        self.url: str | None = None
        self.backend: SageMakerBackend | None = None
        self.invocation_stats: InvocationStats | None = None
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
            own_credentials = None
            checker = None
            if self.signature_keys is not None:
                # the runtime's own clients (executors, training jobs, model servers) sign with a
                # key pair made for this run
                own_credentials = {"aws_access_key_id": "SMFLOWLOCAL" + secrets.token_hex(6).upper(),
                                   "aws_secret_access_key": secrets.token_urlsafe(30)}
                checker = SignatureChecker({**self.signature_keys,
                                            own_credentials["aws_access_key_id"]: own_credentials["aws_secret_access_key"]})
            dispatcher.access = AccessPolicy(port, self.host, self.allowed_hosts, checker)
            self._server.smflow_access = dispatcher.access  # type: ignore[attr-defined]
            self.backend = SageMakerBackend(
                self.state_dir, LocalAws(_own_url(self.host, port), self.region_name, own_credentials),
                region_name=self.region_name,
                executors=self.executors, deployment_timeout=self.deployment_timeout,
            )
            dispatcher.sagemaker = SageMakerApi(self.backend)
            # the console's invocation counters, recorded around the backend's InvokeEndpoint
            self.invocation_stats = InvocationStats()
            self.backend.invoke_endpoint = self.invocation_stats.wrap(self.backend.invoke_endpoint)  # type: ignore[method-assign]
            dispatcher.console = Console(self.backend, self.invocation_stats)
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
        warning = exposure_warning(self.host, self.signature_keys is not None)
        if warning:
            logger.warning("%s", warning)
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


def exposure_warning(host: str, checks_signatures: bool) -> str | None:
    """The warning printed when the runtime listens beyond loopback (None when it does not)."""
    if is_loopback(host):
        return None
    if checks_signatures:
        return (f"WARNING: the smflow local runtime listens on {host}, beyond this machine; requests must be "
                "signed with one of the configured keys (--check-signatures).")
    return (f"WARNING: the smflow local runtime listens on {host}, beyond this machine, and requests are NOT "
            "authenticated: anyone who can reach it can run code on this machine. Use --check-signatures "
            "KEYS_FILE on shared hosts.")


def _refuse(environ: dict[str, Any], start_response: Any, error: AccessRefused, *,
            status: str = "403 Forbidden", code: str | None = None) -> list[bytes]:
    if code is not None:
        error.code = code
    json_protocol = "HTTP_X_AMZ_TARGET" in environ or INVOCATIONS_PATH.match(environ.get("PATH_INFO", "")) is not None
    content_type, body = refusal_body(error, json_protocol)
    start_response(status, [
        ("Content-Type", content_type), ("Content-Length", str(len(body))),
        ("x-amzn-ErrorType", error.code), ("Connection", "close"),
    ])
    return [body]


def _not_available(start_response: Any) -> list[bytes]:
    body = json.dumps({"message": "moto's /moto-api is not available on the smflow local runtime"}).encode()
    start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _own_url(host: str, port: int) -> str:
    """The URL of the runtime's own clients: a wildcard address is reached through loopback (the
    only Host names answered without --allow-host)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{_url_host(host)}:{port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    state_dir: str | Path = DEFAULT_STATE_DIR,
    on_ready: Callable[[str], None] | None = None,
    *,
    region_name: str = DEFAULT_REGION,
    allowed_hosts: Iterable[str] = (),
    signature_keys: dict[str, str] | None = None,
) -> None:
    """Run the runtime in the foreground until SIGTERM or SIGINT.

    ``on_ready(url)`` is called once the port is bound and all saved state (S3 objects, log
    events, SageMaker resources, restarted endpoints) is back. Signal handlers are installed only
    when called from the main thread (elsewhere, use :class:`LocalRuntime`).
    """
    runtime = LocalRuntime(state_dir, host, port, region_name=region_name, allowed_hosts=allowed_hosts,
                           signature_keys=signature_keys)
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
    add_access_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(args.host, args.port, args.state_dir,
          on_ready=lambda url: print(f"smflow local runtime ready at {url}", flush=True),
          region_name=args.region, allowed_hosts=args.allow_host,
          signature_keys=load_signature_keys(parser, args.check_signatures))


def add_access_arguments(parser: argparse.ArgumentParser) -> None:
    """``--allow-host`` and ``--check-signatures`` (shared by ``smflow local up/serve``)."""
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME[:PORT]",
        help="also answer requests whose Host is NAME (repeatable; '*' for any). By default only "
             "loopback names (localhost, 127.0.0.1, [::1]) with the runtime's port are answered",
    )
    parser.add_argument(
        "--check-signatures", metavar="KEYS_FILE", default=None,
        help="refuse requests not signed (AWS SigV4) with a key pair of KEYS_FILE, a file in the AWS "
             "shared-credentials format ([name] sections with aws_access_key_id and aws_secret_access_key)",
    )


def load_signature_keys(parser: argparse.ArgumentParser, path: str | None) -> dict[str, str] | None:
    """The key pairs of ``--check-signatures`` (None without it); exits with the parser's error."""
    if path is None:
        return None
    from smflow.local.services.access import read_keys

    try:
        return read_keys(path)
    except (OSError, ValueError, KeyError) as error:
        parser.error(f"--check-signatures {path}: {error}")


if __name__ == "__main__":
    main()
