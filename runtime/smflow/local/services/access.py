"""Who may talk to the local runtime: local clients only, unless told otherwise.

The runtime runs user code on request (CreateTrainingJob), so a web page must not be able to
reach it. Browsers let any page send requests to ``127.0.0.1``; two checks stop them:

- **Host** (DNS rebinding: a page whose name resolves first to its own server, then to
  127.0.0.1, sends ``Host: attacker.example:<port>``). Only a loopback name or address
  (``localhost``, ``*.localhost``, ``127.0.0.0/8``, ``::1``) with the runtime's own port, the
  address it was told to bind, or a name added with ``--allow-host`` is answered
  (:class:`HostNotAllowed`, 403). ``--allow-host '*'`` turns the check off.
- **Origin** (a cross-site ``<form>`` or ``fetch``: no preflight for ``multipart/form-data``
  POSTs). A request whose ``Origin`` is not the runtime's own (``http://<allowed host>``), or
  whose ``Sec-Fetch-Site`` says it comes from another site, is refused
  (:class:`CrossOriginRequestRefused`, 403); CORS preflights (``OPTIONS``) are answered 403 with
  no ``Access-Control-*`` header, so no browser ever lets a page read an answer. AWS SDKs send
  neither header.

With ``--check-signatures``, every request must also carry an AWS Signature Version 4
``Authorization`` header made with one of the configured key pairs (:class:`SignatureChecker`:
the signature is recomputed with botocore's own signer; :class:`SignatureRefused`, 403).
"""

from __future__ import annotations

import configparser
import datetime as dt
import hashlib
import hmac
import io
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_SAFE_FETCH_SITES = ("same-origin", "none")
MAX_SIGNED_BODY = 64 * 1024 * 1024  # bytes buffered to check a payload hash
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)  # AWS's RequestTimeTooSkewed limit


class AccessRefused(Exception):
    """A request the runtime does not answer: ``status``, AWS-style ``code``, ``message``."""

    status = 403
    code = "AccessDenied"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class HostNotAllowed(AccessRefused):
    code = "HostNotAllowed"


class CrossOriginRequestRefused(AccessRefused):
    code = "CrossOriginRequestRefused"


class SignatureRefused(AccessRefused):
    code = "SignatureDoesNotMatch"


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``*.localhost`` and loopback addresses (brackets allowed)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host(value: str) -> tuple[str, int | None]:
    """``"name:port"``, ``"[::1]:port"`` or a bare name -> (lower-case name without brackets, port)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, _, port_text = value.partition(":")
    else:
        name, port_text = value, ""
    if not port_text:
        return name.rstrip("."), None
    if not port_text.isdigit() or len(port_text) > 5:
        raise ValueError(value)
    return name.rstrip("."), int(port_text)


class AccessPolicy:
    """The Host, Origin and (optionally) signature checks of one runtime.

    Args:
        port: the port the runtime listens on.
        bind_host: the address it binds (also accepted as a Host name unless it is a wildcard).
        allowed_hosts: extra names (``name`` for the runtime's own port, ``name:port`` for
            another one, as behind a proxy); ``"*"`` accepts any Host.
        signatures: a :class:`SignatureChecker`, or None to accept unsigned requests.
    """

    def __init__(self, port: int, bind_host: str = "127.0.0.1", allowed_hosts: Iterable[str] = (),
                 signatures: SignatureChecker | None = None):
        self.port = port
        self.signatures = signatures
        self.any_host = False
        self._names: set[tuple[str, int]] = set()
        for name in (*LOOPBACK_NAMES, bind_host):
            if name not in ("0.0.0.0", "::", ""):
                self._names.add((name.strip("[]").lower(), port))
        for entry in allowed_hosts:
            if entry.strip() == "*":
                self.any_host = True
                continue
            name, entry_port = _split_host(entry)
            self._names.add((name, entry_port or port))
        # exact header values accepted without parsing (the InvokeEndpoint hot path)
        self._exact_hosts = {f"[{n}]:{p}" if ":" in n else f"{n}:{p}" for n, p in self._names}
        if port == 80:
            self._exact_hosts |= {f"[{n}]" if ":" in n else n for n, p in self._names if p == 80}
        self._exact_origins = {f"http://{host}" for host in self._exact_hosts}

    def host_allowed(self, host: str | None) -> bool:
        if self.any_host:
            return True
        if not host:
            return False
        if host in self._exact_hosts:
            return True
        try:
            name, port = _split_host(host)
        except ValueError:
            return False
        port = 80 if port is None else port
        return (name, port) in self._names or (port == self.port and is_loopback(name))

    def origin_allowed(self, origin: str) -> bool:
        if origin in self._exact_origins:
            return True
        if not origin.startswith("http://") or "/" in origin[7:]:
            return False
        return self.host_allowed(origin[7:])

    def fast_path_allowed(self, headers: Mapping[str, str]) -> bool:
        """The InvokeEndpoint hot path's check (lower-case header names): True when the request
        may be answered there; False sends it to the WSGI path, which answers any refusal."""
        if self.signatures is not None:
            return False
        if not self.any_host and headers.get("host") not in self._exact_hosts:
            return False
        return "origin" not in headers and "sec-fetch-site" not in headers

    def check(self, environ: dict[str, Any]) -> None:
        """Raise an :class:`AccessRefused` unless the WSGI request may be answered."""
        host = environ.get("HTTP_HOST")
        if not self.host_allowed(host):
            raise HostNotAllowed(
                f"Host {_bounded(host)!r} is not one of this runtime's names; it answers loopback names "
                f"(localhost, 127.0.0.1, [::1]) on port {self.port}. To reach it by another name, start it "
                "with --allow-host NAME."
            )
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            raise CrossOriginRequestRefused(
                "CORS preflight requests are refused: the smflow local runtime answers no cross-origin "
                "browser request."
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self.origin_allowed(origin):
            raise CrossOriginRequestRefused(
                f"Origin {_bounded(origin)!r} is not this runtime's own: cross-origin browser requests are "
                "refused. AWS SDKs send no Origin header."
            )
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if site is not None and site not in _SAFE_FETCH_SITES:
            raise CrossOriginRequestRefused(f"Sec-Fetch-Site {_bounded(site)!r}: cross-site browser requests are refused.")
        if self.signatures is not None:
            self.signatures.check(environ)


def _bounded(value: str | None, limit: int = 200) -> str:
    text = value or ""
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------------------------------
# SigV4
# ------------------------------------------------------------------------------------------
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)


def read_keys(path: str | Path) -> dict[str, str]:
    """Access key id -> secret access key, from a file in the AWS shared-credentials format
    (``[profile]`` sections with ``aws_access_key_id`` and ``aws_secret_access_key``).

    Raises: ValueError when the file has no complete key pair; OSError when it cannot be read.
    """
    parser = configparser.ConfigParser(interpolation=None)
    with open(path, encoding="utf-8") as handle:
        parser.read_file(handle)
    keys = {
        parser[section]["aws_access_key_id"].strip(): parser[section]["aws_secret_access_key"].strip()
        for section in parser.sections()
        if parser[section].get("aws_access_key_id") and parser[section].get("aws_secret_access_key")
    }
    if not keys:
        raise ValueError(
            f"{path} holds no key pair: write sections such as [team] with aws_access_key_id and "
            "aws_secret_access_key"
        )
    return keys


class SignatureChecker:
    """Checks AWS Signature Version 4 ``Authorization`` headers against ``keys`` (access key id
    -> secret), recomputing the signature with botocore's own signer (``botocore.auth.SigV4Auth``,
    ``S3SigV4Auth`` for S3) over the request as received. The payload hash is checked too unless
    the client declared it unsigned (``UNSIGNED-PAYLOAD``, S3's streaming uploads, whose chunk
    signatures are not checked)."""

    def __init__(self, keys: Mapping[str, str]):
        self.keys = dict(keys)

    def check(self, environ: dict[str, Any]) -> None:
        from botocore.auth import S3SigV4Auth, SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        auth = environ.get("HTTP_AUTHORIZATION", "")
        match = _AUTH.match(auth)
        if match is None:
            raise SignatureRefused(
                "This runtime checks signatures: sign requests with AWS Signature Version 4 and a key "
                "pair it was started with (--check-signatures)."
            )
        secret = self.keys.get(match["key"])
        if secret is None:
            raise AccessRefused(f"The access key id {_bounded(match['key'], 40)!r} is not one of this runtime's keys.")
        timestamp = environ.get("HTTP_X_AMZ_DATE", "")
        try:
            when = dt.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise SignatureRefused("X-Amz-Date is missing or not YYYYMMDD'T'HHMMSS'Z'.") from None
        if abs(dt.datetime.now(dt.timezone.utc) - when) > MAX_CLOCK_SKEW or timestamp[:8] != match["date"]:
            raise SignatureRefused("The request's X-Amz-Date is more than 15 minutes from the runtime's clock.")
        signed = match["signed"].split(";")
        headers = {}
        for name in signed:
            key = "CONTENT_TYPE" if name == "content-type" else "CONTENT_LENGTH" if name == "content-length" \
                else "HTTP_" + name.upper().replace("-", "_")
            if key not in environ:
                raise SignatureRefused(f"The signed header {name!r} is missing.")
            headers[name] = environ[key]
        declared = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
        body = b""
        if declared is None or not (declared == "UNSIGNED-PAYLOAD" or declared.startswith("STREAMING-")):
            body = _buffer_body(environ)
            if declared is not None and hashlib.sha256(body).hexdigest() != declared:
                raise SignatureRefused("X-Amz-Content-SHA256 does not match the body.")
        url = "http://" + environ.get("HTTP_HOST", "") + (environ.get("RAW_URI") or environ.get("REQUEST_URI")
                                                         or environ.get("PATH_INFO", "/"))
        request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=url, headers=headers, data=body)
        request.context["timestamp"] = timestamp
        signer_class = S3SigV4Auth if match["service"] == "s3" else SigV4Auth
        signer = signer_class(Credentials(match["key"], secret), match["service"], match["region"])
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, match["signature"]):
            raise SignatureRefused(
                "The request signature we calculated does not match the signature you provided. Check "
                "your key and signing method."
            )


def _buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the WSGI body (at most MAX_SIGNED_BODY bytes) and put it back for the app."""
    text = environ.get("CONTENT_LENGTH") or "0"
    length = int(text) if text.isdigit() else 0
    if length > MAX_SIGNED_BODY:
        raise AccessRefused(f"Bodies over {MAX_SIGNED_BODY} bytes cannot be signature-checked.")
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def refusal_body(error: AccessRefused, json_protocol: bool) -> tuple[str, bytes]:
    """``(content type, body)`` of a refusal: AWS's JSON error shape for JSON protocols, S3's
    XML error otherwise."""
    if json_protocol:
        return "application/json", json.dumps({"__type": error.code, "message": error.message}).encode()
    from xml.sax.saxutils import escape

    return "application/xml", (
        f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{error.code}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
    ).encode()
