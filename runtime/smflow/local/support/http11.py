"""Request heads parsed by llhttp (through ``httptools``) for ``http.server`` request handlers.

``BaseHTTPRequestHandler.parse_request`` reads headers with the email package's parser: about
45 us per request, more than half of what a model server or the runtime's InvokeEndpoint path
spends per one-row prediction. :func:`parse_request` parses the same head with llhttp, the
parser of Node.js and uvicorn (about 10 us, headers included), and gives the handler exactly
what the standard parser gives it: ``command``, ``path``, ``request_version``, ``requestline``,
``close_connection`` and ``headers`` as a genuine :class:`http.client.HTTPMessage`.

Anything unusual goes to the standard parser, with nothing read yet, so that its behaviour and
its error answers stay the standard ones: a request line other than ``METHOD target HTTP/1.x``,
a head that is not all in the stream's buffer, bare-LF line ends, more than 100 headers, a head
llhttp rejects or an ``Upgrade``.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any

import httptools

MAX_HEAD = 65536  # bytes looked at (the standard parser's limit for one header line)
MAX_HEADERS = 100  # http.client's limit


class _Head:
    """httptools callbacks: collects the header lines."""

    __slots__ = ("pairs", "complete")

    def __init__(self) -> None:
        self.pairs: list[tuple[bytes, bytes]] = []
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.pairs.append((name, value))

    def on_headers_complete(self) -> None:
        self.complete = True


def parse_request(handler: Any, standard: Callable[[], bool]) -> bool:
    """``handler.parse_request()`` for a ``BaseHTTPRequestHandler`` whose ``raw_requestline``
    has been read; ``standard`` is the handler's own ``parse_request``, used for anything but a
    plain HTTP/1.0 or HTTP/1.1 request (see the module docstring).

    Answers ``Expect: 100-continue`` with ``handle_expect_100`` as the standard parser does.
    Returns False when the request must not be handled further.
    """
    requestline = str(handler.raw_requestline, "iso-8859-1").rstrip("\r\n")
    words = requestline.split()
    if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0") or words[1].startswith("//"):
        return standard()
    peek = getattr(handler.rfile, "peek", None)
    if peek is None:
        return standard()
    buffered = peek(MAX_HEAD)
    if buffered.startswith(b"\r\n"):
        head_size = 2
    else:
        end = buffered.find(b"\r\n\r\n")
        if end < 0 or b"\n" in buffered[:end].replace(b"\r\n", b""):
            return standard()  # not all buffered yet, or bare-LF line ends
        head_size = end + 4
    head = _Head()
    parser = httptools.HttpRequestParser(head)
    try:
        parser.feed_data(handler.raw_requestline + buffered[:head_size])
    except (httptools.HttpParserError, httptools.HttpParserUpgrade):
        return standard()
    if not head.complete or len(head.pairs) >= MAX_HEADERS:
        return standard()
    handler.rfile.read(head_size)  # consumed only now: every fallback above read nothing

    headers = http.client.HTTPMessage()
    for name, value in head.pairs:
        headers[str(name, "iso-8859-1")] = str(value, "iso-8859-1")
    handler.requestline = requestline
    handler.command, handler.path, handler.request_version = words
    handler.headers = headers
    http11 = handler.protocol_version >= "HTTP/1.1"
    keep_alive = handler.request_version == "HTTP/1.1" and http11
    connection = (headers.get("Connection") or "").lower()
    if connection == "close":
        keep_alive = False
    elif connection == "keep-alive" and http11:
        keep_alive = True
    handler.close_connection = not keep_alive
    if (headers.get("Expect") or "").lower() == "100-continue" and http11 and handler.request_version == "HTTP/1.1":
        return handler.handle_expect_100()
    return True
