"""Encoding and decoding of inference payloads: NPY, JSON, CSV and RecordIO-protobuf.

One implementation serves both sides of InvokeEndpoint: the client's serializers (the SageMaker
Python SDK's ``NumpySerializer``, the default of its framework predictors, sends
``application/x-npy``) and the local model servers' default ``input_fn`` / ``output_fn`` (the
SDK's framework docs, "Process Input" and "Process Output": JSON holds a single list, CSV holds one
row per line of numbers, NPY is NumPy's format). ``application/x-recordio-protobuf`` is the format
of Amazon's built-in algorithms (:mod:`smflow.recordio`; it needs the protobuf library, imported
on first use).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

import numpy as np

from smflow.errors import SmflowError

NPY = "application/x-npy"
JSON = "application/json"
CSV = "text/csv"
RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
SUPPORTED_CONTENT_TYPES = (NPY, JSON, CSV, RECORDIO_PROTOBUF)


class UnsupportedContentTypeError(SmflowError, ValueError):
    """The content type is none of ``application/x-npy``, ``application/json``, ``text/csv``,
    ``application/x-recordio-protobuf``.

    An :class:`smflow.errors.SmflowError`, and a ``ValueError`` as in earlier releases."""

    def __init__(self, content_type: str | None, role: str = "content type"):
        self.content_type = content_type
        super().__init__(
            f"Unsupported {role} {content_type!r}: use one of {', '.join(SUPPORTED_CONTENT_TYPES)}"
        )


def base_type(content_type: str | None) -> str:
    """``"text/csv; charset=utf-8"`` -> ``"text/csv"`` (lower case, parameters dropped)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def encode(data, content_type: str) -> bytes:
    """Serialize a NumPy array, list or scalar as ``content_type``.

    RecordIO-protobuf: a 2-D array (or a scipy.sparse matrix) is one record per row, a 1-D array
    one record, as the SageMaker Python SDK's ``RecordSerializer``.

    Raises:
        UnsupportedContentTypeError: for any other content type.
        smflow.recordio.ProtobufMissingError: RecordIO-protobuf without the protobuf library.
    """
    kind = base_type(content_type)
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(data), allow_pickle=False)
        return buffer.getvalue()
    if kind == JSON:
        return json.dumps(_to_jsonable(data)).encode("utf-8")
    if kind == CSV:
        return _encode_csv(data).encode("utf-8")
    if kind == RECORDIO_PROTOBUF:
        from smflow import recordio

        return recordio.encode(data)
    raise UnsupportedContentTypeError(content_type)


def decode(body: bytes | str, content_type: str | None) -> np.ndarray:
    """Deserialize a request or response body into a NumPy array.

    RecordIO-protobuf: the records' ``features["values"]`` as rows of a 2-D array (what a
    ``RecordSerializer`` sent); :func:`smflow.recordio.read_records` reads every field.

    Raises:
        UnsupportedContentTypeError: for an unsupported content type.
        ValueError: for a body that is not valid for its content type
            (:class:`smflow.recordio.RecordIOError` for RecordIO-protobuf, naming the byte offset).
    """
    kind = base_type(content_type)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if kind == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    if kind == JSON:
        try:
            return np.array(json.loads(body))
        except json.JSONDecodeError as exc:
            raise ValueError(f"body is not valid JSON: {exc}") from None
    if kind == CSV:
        return _decode_csv(body.decode("utf-8"))
    if kind == RECORDIO_PROTOBUF:
        from smflow import recordio

        return recordio.decode(body)
    raise UnsupportedContentTypeError(content_type)


def _to_jsonable(data):
    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, np.generic):
        return data.item()
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return [_to_jsonable(item) for item in data]
    return data


def _encode_csv(data) -> str:
    array = np.asarray(data)
    if array.ndim == 0:
        return f"{array.item()}\n"
    if array.ndim == 1 and array.dtype.kind in "biuf":  # predictions: one number per line
        return _encode_numbers(array)
    if array.ndim == 1:  # one value per line, as numpy.savetxt (and the model server) writes it
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"CSV holds 1- or 2-dimensional data, got shape {array.shape}")
    if array.dtype.kind in "biuf":  # numbers never need quoting: one pass over the values
        lines = (",".join(map(str, row)) for row in array.tolist())
    else:
        lines = (",".join(_csv_field(value) for value in row) for row in array.tolist())
    return "\n".join(lines) + "\n"


_LOOKUP_MIN_SIZE = 1024  # below this, formatting each number is as fast
_LOOKUP_MAX_RANGE = 4096  # distinct integers a lookup table may hold
_EXACT_FLOAT_INTEGERS = 2.0**53


def _encode_numbers(array: np.ndarray) -> str:
    """One number per line, exactly as ``"\\n".join(map(str, array.tolist()))`` writes it.

    Class labels (integers, or integer-valued floats, in a small range) are formatted once per
    distinct value and looked up, several times faster on multi-MB batch-transform answers.
    """
    table = _integer_table(array) if array.size >= _LOOKUP_MIN_SIZE else None
    if table is None:
        return "\n".join(map(str, array.tolist())) + "\n"
    low, strings = table
    if array.dtype.kind == "i":  # in 64 bits: an int8 difference such as 100 - (-100) would wrap
        offsets = array.astype(np.int64) - np.int64(low)
    else:  # unsigned values are all >= low; integer-valued floats subtract exactly
        offsets = (array - array.dtype.type(low)).astype(np.intp)
    return "\n".join(strings[offsets].tolist()) + "\n"


def _integer_table(array: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``(lowest value, str of each value from the lowest to the highest)`` when the values
    are integers spanning at most ``_LOOKUP_MAX_RANGE``; None otherwise (and for floats that
    are not all finite integers, or hold -0.0, whose text differs from 0.0's)."""
    kind = array.dtype.kind
    if kind not in "iuf":
        return None
    if kind == "f":
        if not np.isfinite(array).all():
            return None
        low, high = float(array.min()), float(array.max())
        if low < -_EXACT_FLOAT_INTEGERS or high > _EXACT_FLOAT_INTEGERS or high - low > _LOOKUP_MAX_RANGE:
            return None
        if not (array == np.floor(array)).all() or (np.signbit(array) & (array == 0)).any():
            return None
        low_int, count = int(low), int(high - low) + 1
        values = [array.dtype.type(low_int + i).item() for i in range(count)]
    else:
        low_int, high_int = int(array.min()), int(array.max())
        if high_int - low_int > _LOOKUP_MAX_RANGE:
            return None
        values = [array.dtype.type(low_int + i).item() for i in range(high_int - low_int + 1)]
    return low_int, np.array([str(value) for value in values], dtype=object)


def _csv_field(value) -> str:
    text = str(value)
    if any(char in text for char in ',"\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def _decode_csv(text: str) -> np.ndarray:
    """Numeric CSV through NumPy's C reader (multi-MB batch payloads); anything else (quoted
    fields, text) field by field. One column comes back 1-D."""
    # Empty input only warns in loadtxt: checked here rather than with warnings.catch_warnings(),
    # which is not thread-safe (model servers decode requests on several threads).
    if not text.strip():
        array = _decode_csv_fields(text)
    else:
        try:
            array = np.loadtxt(io.StringIO(text), delimiter=",", comments=None, ndmin=2, dtype=float)
        except ValueError:
            array = _decode_csv_fields(text)
    return array.reshape(-1) if array.shape[1] == 1 else array


def _decode_csv_fields(text: str) -> np.ndarray:
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    if not rows:
        raise ValueError("CSV body is empty")
    lengths = sorted({len(row) for row in rows})
    if len(lengths) > 1:
        raise ValueError(f"CSV rows have different numbers of fields ({', '.join(map(str, lengths))}); "
                         "every row must have the same number of values")
    try:
        return np.array([[float(field) for field in row] for row in rows])
    except ValueError:
        return np.array([[field.strip().strip('"') for field in row] for row in rows], dtype=object)
