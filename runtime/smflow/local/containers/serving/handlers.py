"""The serving functions of a SageMaker model server, independent of HTTP and of any framework.

As the SageMaker inference toolkit's transformer (aws/sagemaker-inference-toolkit) does:

- the user's entry point (``SAGEMAKER_PROGRAM``) is imported from the code directory, and its
  ``model_fn(model_dir)`` loads the model once;
- ``POST /invocations`` runs ``transform_fn(model, body, content_type, accept)`` if the script
  defines it, otherwise ``output_fn(predict_fn(input_fn(body, content_type), model), accept)``
  with the script's functions or the framework's defaults (:class:`ServingDefaults`, given by
  the framework module in ``smflow.local.containers.frameworks``);
- the request content type defaults to ``application/json``; a missing or ``*/*`` Accept means
  ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (default ``application/json``);
- JSON and CSV bodies reach ``input_fn`` as ``str`` (UTF-8 decoded), other types as ``bytes``;
- an exception raised while handling a request answers 500 with the exception's message (the
  traceback goes to stderr, the instance log); :class:`ServingError` answers its own status.

A function may return ``(body, content_type)``; bodies may be ``bytes`` or ``str``. Functions
written for the newer inference toolkit that take one more ``context`` argument receive None.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smflow import codecs
from smflow.local.containers import contract

ANY = "*/*"
TEXT_TYPES = (codecs.JSON, codecs.CSV)  # decoded to str before input_fn, as the inference toolkit does


class ServingError(Exception):
    """A request failed; ``status`` is the HTTP status to answer and ``str(self)`` the body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ModelLoadError(Exception):
    """The entry point or its model could not be loaded. ``str(e)`` says why and how to fix it."""


@dataclass(frozen=True)
class ServingDefaults:
    """What a framework's model server does where the entry point defines nothing:
    ``input_fn(body, content_type)``, ``predict_fn(data, model)``, ``output_fn(prediction,
    accept)``; ``model_fn(model_dir)``: the framework's default model loader, or None where the
    container has none (``missing_model_fn`` is then the sentence that tells how to add one);
    ``install_import_hooks``: called before the entry point is imported.

    ``load_handlers``: for a container that does not follow the inference toolkit's contract:
    ``load_handlers(model_dir, code_dir, program) -> Handlers`` replaces :func:`load_handlers`
    wholesale; ``program`` is None when no entry point is set or found
    (such a container serves without one), and the entry point is not imported for it."""

    input_fn: Callable
    predict_fn: Callable
    output_fn: Callable
    missing_model_fn: str
    install_import_hooks: Callable[[], None] | None = None
    model_fn: Callable | None = None
    load_handlers: Callable[[str, str, str | None], "Handlers"] | None = None


def decode_request(request_body: bytes | str, content_type: str, owner: str = "default"):
    """NPY, JSON or CSV -> NumPy array, JSON and CSV numbers as float32: the default input_fn of
    the inference toolkit's framework containers that read arrays (``owner`` names it in
    messages, e.g. ``"default <framework>"``).

    Raises:
        ServingError(415): the content type is none of the three.
    """
    try:
        array = codecs.decode(request_body, content_type)
    except codecs.UnsupportedContentTypeError:
        raise ServingError(
            415,
            f"Content type {content_type!r} is not supported by the {owner} input_fn: send one of "
            f"{', '.join(codecs.SUPPORTED_CONTENT_TYPES)}, or define input_fn(request_body, "
            "request_content_type) in the entry point to deserialize it.",
        ) from None
    if codecs.base_type(content_type) in TEXT_TYPES and array.dtype.kind in "biuf":
        array = array.astype("float32")
    return array


def encode_answer(prediction, accept: str, owner: str = "default") -> tuple[bytes, str]:
    """A prediction as NPY, JSON or CSV: the default output_fn of those containers.

    Raises:
        ServingError(406): the accept type is none of the three.
    """
    try:
        return codecs.encode(prediction, accept), codecs.base_type(accept)
    except codecs.UnsupportedContentTypeError:
        raise ServingError(
            406,
            f"Accept type {accept!r} is not supported by the {owner} output_fn: ask for one of "
            f"{', '.join(codecs.SUPPORTED_CONTENT_TYPES)}, or define output_fn(prediction, "
            "content_type) in the entry point to serialize it.",
        ) from None


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
    """The serving functions in use: the script's, or the defaults.

    ``invoke(data, content_type, accept, custom_attributes)``, when set, answers every request
    instead of ``transform_fn`` / ``input_fn`` -> ``predict_fn`` -> ``output_fn``; it receives the
    ``X-Amzn-SageMaker-Custom-Attributes`` header (or None) and returns what ``output_fn`` may
    return (``bytes``/``str``, or ``(body, content_type)``), or raises :class:`ServingError`."""

    model: Any
    transform_fn: Callable | None
    input_fn: Callable
    predict_fn: Callable
    output_fn: Callable
    execution_parameters_fn: Callable | None
    default_accept: str
    invoke: Callable[[bytes | str, str, str, str | None], Any] | None = None


def import_entry_point(code_dir: str, program: str, defaults: ServingDefaults | None = None):
    """Import ``program`` (``name.py`` or a module name) from ``code_dir``, after the framework's
    import hooks (``defaults.install_import_hooks``), if any.

    Raises:
        ModelLoadError: the script is missing; its import error is re-raised as is.
    """
    module_name = program[:-3] if program.endswith(".py") else program
    script = os.path.join(code_dir, *module_name.split(".")) + ".py"
    package = os.path.join(code_dir, *module_name.split("."), "__init__.py")
    if not (os.path.isfile(script) or os.path.isfile(package)):
        present = sorted(os.listdir(code_dir)) if os.path.isdir(code_dir) else []
        raise ModelLoadError(
            f"Entry point {program!r} ({contract.SAGEMAKER_PROGRAM}) was not found in the model's code "
            f"directory {code_dir} (it holds: {', '.join(present) or 'nothing'}). Put the script "
            "in the source_dir / sourcedir.tar.gz (SAGEMAKER_SUBMIT_DIRECTORY) or in model.tar.gz "
            f"under code/, and set {contract.SAGEMAKER_PROGRAM} to its file name."
        )
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    if defaults is not None and defaults.install_import_hooks is not None:
        defaults.install_import_hooks()
    return importlib.import_module(module_name)


def load_handlers(module, model_dir: str, program: str, defaults: ServingDefaults) -> Handlers:
    """Resolve the serving functions of ``module`` (the framework's ``defaults`` for those it
    does not define) and load the model with its ``model_fn``.

    Raises:
        ModelLoadError: ``model_fn`` is missing, or ``transform_fn`` is combined with
            ``input_fn`` / ``predict_fn`` / ``output_fn`` (AWS's container refuses both).
        Exception: whatever ``model_fn`` raises, unchanged.
    """
    model_fn = getattr(module, "model_fn", None) or defaults.model_fn
    if model_fn is None:
        raise ModelLoadError(
            f"The entry point {program!r} does not define model_fn(model_dir). {defaults.missing_model_fn}"
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
        input_fn=_adapt(getattr(module, "input_fn", defaults.input_fn), 2),
        predict_fn=_adapt(getattr(module, "predict_fn", defaults.predict_fn), 2),
        output_fn=_adapt(getattr(module, "output_fn", defaults.output_fn), 2),
        execution_parameters_fn=(_adapt(execution_parameters_fn, 0) if execution_parameters_fn else None),
        default_accept=os.environ.get(contract.SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT) or codecs.JSON,
    )


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
    handlers: Handlers,
    body: bytes,
    content_type: str | None,
    accept_header: str | None,
    custom_attributes: str | None = None,
) -> Reply:
    """Run one InvokeEndpoint request through the serving functions (``custom_attributes``: the
    ``X-Amzn-SageMaker-Custom-Attributes`` header, given to ``handlers.invoke`` only).

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
            return error_reply(400, f"The {content_type} request body is not UTF-8: {exc}")
    try:
        if handlers.invoke is not None:
            result = handlers.invoke(data, content_type, accept, custom_attributes)
        elif handlers.transform_fn is not None:
            result = handlers.transform_fn(handlers.model, data, content_type, accept)
        else:
            features = handlers.input_fn(data, content_type)
            prediction = handlers.predict_fn(features, handlers.model)
            result = handlers.output_fn(prediction, accept)
        return _as_reply(result, accept)
    except ServingError as exc:
        return error_reply(exc.status, str(exc))
    except Exception as exc:  # noqa: BLE001 - any user error becomes a 500, as in the container
        traceback.print_exc(file=sys.stderr)
        return error_reply(500, f"{type(exc).__name__}: {exc}")


def error_reply(status: int, message: str) -> Reply:
    return Reply(status, message.encode("utf-8"), "text/plain; charset=utf-8")


def execution_parameters(handlers: Handlers) -> Reply:
    """``GET /execution-parameters``: the script's ``execution_parameters_fn()`` as JSON."""
    if handlers.execution_parameters_fn is None:
        return error_reply(404, "The entry point does not define execution_parameters_fn.")
    try:
        result = handlers.execution_parameters_fn()
        if isinstance(result, dict):
            result = json.dumps(result)
        return _as_reply(result, codecs.JSON)
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        return error_reply(500, f"{type(exc).__name__}: {exc}")
