"""The local runtime's HTTP request handler, which answers SageMaker Runtime InvokeEndpoint
straight from the HTTP request: the runtime's hot path.

An InvokeEndpoint request is routed as :class:`smflow.local.server.Dispatcher` routes it and
answered by the same :meth:`.responses.RuntimeApi.answer`, without building WSGI request and
response objects; its headers are parsed by :func:`smflow.local.support.http11.parse_request` rather than
the email package, and the connection stays open for the client's next request. Every other
request (and an InvokeEndpoint request with a query string, a percent-encoded path, a chunked
body or ``Expect: 100-continue``) goes through werkzeug's WSGI handling unchanged. The previous
measurement of this path was about 600 us per call (``bench/invoke.py``); keep work off it.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any

from werkzeug.serving import WSGIRequestHandler

from smflow.local.support import http11
from smflow.local.services.protocol import signing_service
from smflow.local.services.runtime.responses import INVOCATIONS_PATH, MAX_BODY, RuntimeApi, body_too_large

_WERKZEUG_LOG = logging.getLogger("werkzeug")


def request_handler(base: type[WSGIRequestHandler]) -> type[WSGIRequestHandler]:
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

    Routing is :class:`smflow.local.server.Dispatcher`'s: a request carrying ``X-Amz-Target`` or
    signed for another service is not InvokeEndpoint.
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
    access = getattr(handler.server, "smflow_access", None)
    if access is not None and not access.fast_path_allowed(view):
        return False  # the WSGI path answers the refusal

    def header(name: str) -> str | None:
        return view.get(name.lower())

    service = signing_service({"HTTP_AUTHORIZATION": header("Authorization") or ""})
    if service not in (None, "sagemaker"):
        return False
    length_text = view.get("content-length") or "0"
    if not length_text.isdigit():
        return False

    length = int(length_text)
    if length > MAX_BODY:  # refused unread: the connection closes after the answer
        handler.close_connection = True
        error = body_too_large(f"Content-Length {length}")

        def refuse() -> bytes:
            raise error

        status, response_headers, body = runtime.answer("POST", path, header, refuse)
    else:
        if length <= _ONE_READ:
            request_body = handler.rfile.read(length) if length else b""
        else:  # read as it arrives: memory follows the bytes received, not the bytes announced
            parts = []
            left = length
            while left:
                part = handler.rfile.read1(min(left, _ONE_READ))
                if not part:
                    break
                parts.append(part)
                left -= len(part)
            request_body = b"".join(parts)
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


_ONE_READ = 262144  # bytes of a body read in one call; larger bodies are read as they arrive

_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The HTTP Date header value, computed once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]
