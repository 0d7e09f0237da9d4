"""What the local runtime's SageMaker API and SageMaker Runtime wire protocols share.

- botocore's service models of ``sagemaker`` and ``sagemaker-runtime`` (:func:`service_model`),
  the single source of the operations' shapes;
- the checks of a request against those shapes' constraints (string length and pattern, enum
  values, numeric ranges, list sizes), reported the way AWS words them
  (:func:`check_constraints`, :func:`constraint_message`); the models' Java patterns are
  translated to Python;
- request bodies read in bounded chunks and refused early over a limit (:func:`read_body`);
- the ``x-amzn-RequestId`` of every answer (:func:`new_request_id`) and the service a SigV4
  request was signed for (:func:`signing_service`), by which the server routes requests.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape

logger = logging.getLogger(__name__)


def signing_service(environ: dict[str, Any]) -> str | None:
    """The service of a SigV4 request's credential scope (``.../<region>/<service>/aws4_request``),
    lower-cased, or None for an unsigned (or otherwise signed) request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/aws4_request", auth)
    return match.group(1).lower() if match else None


BODY_CHUNK = 65536  # bytes read at a time


def read_body(environ: dict[str, Any], limit: int, too_large: Any = None) -> bytes:
    """The WSGI request's body, read ``BODY_CHUNK`` bytes at a time, never more than ``limit``.

    A ``Content-Length`` over ``limit`` is refused before anything is read; a chunked body is
    refused as soon as it passes ``limit``.

    Raises (all :class:`smflow.local.services.sagemaker.exceptions.SageMakerError`):
        RequestEntityTooLarge (or ``too_large(size_text)``, an exception to raise instead): over ``limit``.
        IncompleteBody: the body ended (or timed out) before its Content-Length, or its
            chunked encoding is malformed.
        InvalidContentLength: Content-Length is not a number.
    """
    from smflow.local.services.sagemaker.exceptions import IncompleteBody, InvalidContentLength, RequestEntityTooLarge

    def refuse(size: str) -> Exception:
        if too_large is not None:
            return too_large(size)
        return RequestEntityTooLarge(f"The request body ({size}) is over this operation's limit of {limit} bytes.")

    stream = environ.get("wsgi.input")
    length_text = (environ.get("CONTENT_LENGTH") or "").strip()
    chunked = bool(environ.get("wsgi.input_terminated")) and not length_text
    if stream is None or (not length_text and not chunked):
        return b""
    parts: list[bytes] = []
    received = 0
    try:
        if not chunked:
            if not length_text.isdigit():
                raise InvalidContentLength(f"Content-Length {length_text[:40]!r} is not a number of bytes.")
            length = int(length_text)
            if length > limit:
                raise refuse(f"Content-Length {length}")
            while received < length:
                part = stream.read(min(BODY_CHUNK, length - received))
                if not part:
                    raise IncompleteBody(
                        f"The request body ended after {received} of its Content-Length {length} bytes."
                    )
                parts.append(part)
                received += len(part)
        else:
            while True:
                part = stream.read(BODY_CHUNK)
                if not part:
                    break
                received += len(part)
                if received > limit:
                    raise refuse(f"over {limit} bytes, chunked")
                parts.append(part)
    except (OSError, ValueError) as error:  # a malformed chunk header, a reset or timed-out connection
        environ["smflow.close_connection"] = True
        raise IncompleteBody(
            f"The request body could not be read after {received} bytes: {str(error)[:200] or type(error).__name__}."
        ) from None
    return b"".join(parts)


@functools.lru_cache(maxsize=None)
def service_model(name: str) -> ServiceModel:
    """botocore's model of ``sagemaker`` or ``sagemaker-runtime`` (cached)."""
    return botocore.session.get_session().get_service_model(name)


def new_request_id() -> str:
    """A random (version 4) UUID, as AWS's x-amzn-RequestId; formatted directly, since
    ``uuid.uuid4()`` costs a tenth of the runtime's time per InvokeEndpoint call."""
    value = _RANDOM.getrandbits(128)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{_UUID_VARIANT[value >> 62 & 3]}{text[17:20]}-{text[20:]}"


_RANDOM = random.Random()  # seeded from the OS; re-seeded after fork (random's own hook)
_UUID_VARIANT = "89ab"


# ------------------------------------------------------------------------------------------
# Constraints of botocore's shapes
# ------------------------------------------------------------------------------------------
def constraint_message(errors: list[str]) -> str:
    count = len(errors)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors)


def check_constraints(shape: Shape, value: Any, path: str = "") -> list[str]:
    """AWS-worded constraint violations of ``value`` against ``shape`` (and its members).

    Paths name members the way AWS does (``productionVariants.1.member.modelName``).
    """
    errors: list[str] = []
    _check(shape, value, path, errors)
    return errors


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    meta = shape.metadata
    where = path or shape.name

    def fail(constraint: str) -> None:
        shown = "" if meta.get("sensitive") else f" {_show(value)}"  # formatted only on failure
        errors.append(f"Value{shown} at '{where}' failed to satisfy constraint: {constraint}")

    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                child = name[:1].lower() + name[1:]
                _check(member, value[name], f"{path}.{child}" if path else child, errors)
        return
    if kind == "list" and isinstance(value, list):
        _check_size(meta, len(value), fail)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{where}.{index}.member", errors)
        return
    if kind == "map" and isinstance(value, dict):
        _check_size(meta, len(value), fail)
        for key, item in value.items():
            _check(shape.key, key, f"{where}.{key}.key", errors)
            _check(shape.value, item, f"{where}.{key}.value", errors)
        return
    if kind == "string" and isinstance(value, str):
        if "min" in meta and len(value) < meta["min"]:
            fail(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        enum = meta.get("enum")
        if enum and value not in enum:
            fail(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = _pattern(meta.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            fail(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        return
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        if "max" in meta and len(value) > meta["max"]:
            fail(f"Member must have length less than or equal to {meta['max']}")
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            fail(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            fail(f"Member must have value less than or equal to {meta['max']}")


def _check_size(meta: dict[str, Any], size: int, fail: Any) -> None:
    if "min" in meta and size < meta["min"]:
        fail(f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        fail(f"Member must have length less than or equal to {meta['max']}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 100 else value[:100] + "..."
        return f"'{text}'"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    text = json.dumps(value, default=str)
    return text if len(text) <= 100 else text[:100] + "..."


# Java regular-expression classes used in the SageMaker models, as Python character-class parts.
_JAVA_CLASSES = {
    r"\p{ASCII}": r"\x00-\x7f",
    r"\p{Print}": r"\x20-\x7e",
    r"\p{Alnum}": r"a-zA-Z0-9",
    r"\p{L}": r"a-zA-Z\u00c0-\uffff",  # letters (approximation: Latin plus all non-ASCII)
    r"\p{N}": r"\d",
    r"\p{Z}": r"\s",
}


@functools.lru_cache(maxsize=None)
def _pattern(java: str | None) -> re.Pattern[str] | None:
    """Compile a Java pattern from the model as Python; None (= not checked) if impossible."""
    if not java:
        return None
    python = _translate_java(java)
    try:
        return re.compile(python, re.DOTALL)
    except re.error:
        logger.debug("pattern %r is not checked (no Python equivalent)", java)
        return None


def _translate_java(java: str) -> str:
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(java):
        char = java[index]
        if char == "\\" and index + 1 < len(java):
            two = java[index:index + 2]
            if two == r"\p":
                end = java.find("}", index)
                token = java[index:end + 1]
                if token in _JAVA_CLASSES:
                    part = _JAVA_CLASSES[token]
                else:
                    return "(?!)("  # unknown class: an invalid pattern, so it is not checked
                out.append(part if in_class else f"[{part}]")
                index = end + 1
                continue
            if two == r"\z":
                out.append(r"\Z")
                index += 2
                continue
            out.append(two)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)
