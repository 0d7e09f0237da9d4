"""smflow.local.support.http11: request heads parsed by llhttp give a handler exactly what the standard
``BaseHTTPRequestHandler.parse_request`` gives it, and anything unusual is left to the standard
parser with nothing consumed."""

from __future__ import annotations

import http.server
import io

import pytest

from smflow.local.support import http11


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002
        return None


def _parse(data: bytes, fast: bool) -> dict:
    handler = _Handler.__new__(_Handler)
    handler.client_address = ("127.0.0.1", 0)
    handler.rfile = io.BufferedReader(io.BytesIO(data))
    handler.wfile = io.BytesIO()
    handler.close_connection = True
    handler.raw_requestline = handler.rfile.readline(65537)
    fallbacks = []
    parse_standard = super(_Handler, handler).parse_request

    def standard():
        fallbacks.append(1)
        return parse_standard()

    ok = http11.parse_request(handler, standard) if fast else parse_standard()
    headers = getattr(handler, "headers", None)
    return {
        "ok": ok,
        "written": handler.wfile.getvalue().split(b"\r\n")[0],  # status line of an error or 100 Continue
        "rest": handler.rfile.read(),
        "command": handler.command if ok else None,
        "path": handler.path if ok else None,
        "version": handler.request_version if ok else None,
        "close": handler.close_connection,
        "headers": list(headers.items()) if ok else None,
        "header_type": type(headers).__name__ if ok else None,
    }, bool(fallbacks)


BOTO3_LIKE = (
    b"POST /endpoints/iris/invocations HTTP/1.1\r\nHost: 127.0.0.1:9510\r\nAccept-Encoding: identity\r\n"
    b"Content-Type: text/csv\r\nAccept: text/csv\r\nX-Amz-Date: 20261121T130000Z\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=test/20261121/us-east-1/sagemaker/aws4_request, "
    b"SignedHeaders=accept;content-type;host;x-amz-date, Signature=0123\r\nContent-Length: 7\r\n\r\n5.1,3.5"
)

SAME_AS_STANDARD = {
    "boto3-like": BOTO3_LIKE,
    "no headers": b"GET /ping HTTP/1.1\r\n\r\n",
    "repeated header": b"POST /x HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n",
    "connection close": b"GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n",
    "http/1.0": b"GET /ping HTTP/1.0\r\n\r\n",
    "http/1.0 keep-alive": b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "empty value": b"GET /ping HTTP/1.1\r\nX-Empty:\r\n\r\n",
    "latin-1 value": b"GET /ping HTTP/1.1\r\nX-Name: caf\xe9\r\n\r\n",
    "expect 100-continue": b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "pipelined": b"GET /ping HTTP/1.1\r\n\r\nGET /ping HTTP/1.1\r\n\r\n",
}
LEFT_TO_STANDARD = {
    # left to the standard parser, which answers or accepts them as it always has
    "folded header": b"GET /ping HTTP/1.1\r\nX-Folded: a\r\n b\r\n\r\n",
    "bare LF line ends": b"GET /ping HTTP/1.1\nHost: x\n\n",
    "HTTP/2.0": b"GET /ping HTTP/2.0\r\n\r\n",
    "HTTP/0.9 style": b"GET /ping\r\n",
    "double slash target": b"GET //ping HTTP/1.1\r\n\r\n",
    "space in header name": b"GET /ping HTTP/1.1\r\nBad Name: x\r\n\r\n",
    "too many headers": b"GET /ping HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(120)) + b"\r\n",
    "head not finished": b"GET /ping HTTP/1.1\r\nHost: x\r\n",
}


@pytest.mark.parametrize("data", SAME_AS_STANDARD.values(), ids=SAME_AS_STANDARD.keys())
def test_plain_requests_are_parsed_by_llhttp_as_the_standard_parser_would(data):
    (fast, fell_back), (standard, _) = _parse(data, fast=True), _parse(data, fast=False)
    assert not fell_back
    assert fast == standard


@pytest.mark.parametrize("data", LEFT_TO_STANDARD.values(), ids=LEFT_TO_STANDARD.keys())
def test_unusual_requests_are_left_to_the_standard_parser_with_nothing_consumed(data):
    (fast, fell_back), (standard, _) = _parse(data, fast=True), _parse(data, fast=False)
    assert fell_back
    assert fast == standard


def test_a_plain_request_gives_a_genuine_http_message_and_leaves_the_body_unread():
    parsed, fell_back = _parse(BOTO3_LIKE, fast=True)
    assert parsed["ok"] and not fell_back and parsed["header_type"] == "HTTPMessage"
    assert dict(parsed["headers"])["Content-Type"] == "text/csv"
    assert parsed["rest"] == b"5.1,3.5"
