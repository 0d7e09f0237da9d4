"""The NDArray file format (``mx.nd.save`` / ``mx.nd.load``), written and read with NumPy.

AWS's KMeans and PCA containers leave their parameters in ``model_algo-1`` inside
``model.tar.gz`` in this format, and AWS's documentation and examples read them back with
``mx.ndarray.load('model_algo-1')`` (KMeans: a list holding the centroids, shape
``(k, feature_dim)``; PCA: a dict ``{"mean", "v", "s"}``). The deep-learning library that writes
the format is not a dependency of the runtime (it does not install on Python 3.11 with NumPy 2),
hence this module: the layout is its 1.x ``NDArray::Save`` (apache ``src/ndarray/ndarray.cc``)
for dense arrays:

- list header: uint64 ``0x112``, uint64 reserved (0);
- uint64 count, then per array: uint32 magic ``0xF993FAC9`` (V2), int32 storage type (0 = dense),
  shape (uint32 ndim, then ndim int64 dims), context (int32 device type 1 = CPU, int32 device
  id 0), int32 type flag (0 float32, 1 float64, 2 float16, 3 uint8, 4 int32, 5 int8, 6 int64),
  then the data, C order, little endian;
- uint64 count of names, then per name: uint64 length and the UTF-8 bytes (no names: a list).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

import numpy as np

LIST_MAGIC = 0x112
V2_MAGIC = 0xF993FAC9
V1_MAGIC = 0xF993FAC8
_TYPE_FLAGS = {
    np.dtype("float32"): 0, np.dtype("float64"): 1, np.dtype("float16"): 2, np.dtype("uint8"): 3,
    np.dtype("int32"): 4, np.dtype("int8"): 5, np.dtype("int64"): 6,
}
_DTYPES = {flag: dtype for dtype, flag in _TYPE_FLAGS.items()}


class NDArrayFormatError(ValueError):
    """The bytes are not an NDArray file of dense arrays."""


def dumps(arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> bytes:
    """Serialize a list (``mx.nd.load`` returns a list) or a dict of arrays (it returns a dict).

    Raises:
        TypeError: an array's dtype has no NDArray type flag (use float32).
    """
    names: list[str] = []
    if isinstance(arrays, Mapping):
        names = [str(name) for name in arrays]
        values = [np.asarray(value) for value in arrays.values()]
    else:
        values = [np.asarray(value) for value in arrays]
    parts = [struct.pack("<QQ", LIST_MAGIC, 0), struct.pack("<Q", len(values))]
    for value in values:
        flag = _TYPE_FLAGS.get(value.dtype)
        if flag is None:
            raise TypeError(f"dtype {value.dtype} has no NDArray type flag: use float32")
        parts.append(struct.pack("<Ii", V2_MAGIC, 0))
        parts.append(struct.pack("<I", value.ndim) + struct.pack(f"<{value.ndim}q", *value.shape))
        parts.append(struct.pack("<iii", 1, 0, flag))
        parts.append(np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False).tobytes())
    parts.append(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        parts.append(struct.pack("<Q", len(encoded)) + encoded)
    return b"".join(parts)


def save(path, arrays: Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as ``mx.nd.save`` would."""
    with open(path, "wb") as handle:
        handle.write(dumps(arrays))


def loads(data: bytes) -> list[np.ndarray] | dict[str, np.ndarray]:
    """Parse an NDArray file: a list of arrays, or a dict when the file names them.

    Raises:
        NDArrayFormatError: not an NDArray list file, a sparse array, or truncated data.
    """
    view = memoryview(data)
    offset = 0

    def take(fmt: str):
        nonlocal offset
        size = struct.calcsize(fmt)
        if offset + size > len(view):
            raise NDArrayFormatError("the NDArray file is truncated")
        values = struct.unpack_from(fmt, view, offset)
        offset += size
        return values

    header, _reserved = take("<QQ")
    if header != LIST_MAGIC:
        raise NDArrayFormatError(f"not an NDArray file (header {header:#x}, expected {LIST_MAGIC:#x})")
    (count,) = take("<Q")
    arrays: list[np.ndarray] = []
    for _ in range(count):
        (magic,) = take("<I")
        if magic == V2_MAGIC:
            (storage,) = take("<i")
            if storage != 0:
                raise NDArrayFormatError("sparse NDArrays are not supported")
        elif magic != V1_MAGIC:
            raise NDArrayFormatError(f"unsupported NDArray version magic {magic:#x}")
        (ndim,) = take("<I")
        shape = take(f"<{ndim}q") if ndim else ()
        _device_type, _device_id, flag = take("<iii")
        dtype = _DTYPES.get(flag)
        if dtype is None:
            raise NDArrayFormatError(f"unsupported NDArray type flag {flag}")
        size = int(np.prod(shape)) * dtype.itemsize if ndim else dtype.itemsize
        if offset + size > len(view):
            raise NDArrayFormatError("the NDArray file is truncated")
        array = np.frombuffer(view[offset: offset + size], dtype=dtype.newbyteorder("<")).astype(dtype)
        arrays.append(array.reshape(shape))
        offset += size
    (name_count,) = take("<Q")
    if not name_count:
        return arrays
    names = []
    for _ in range(name_count):
        (length,) = take("<Q")
        names.append(bytes(view[offset: offset + length]).decode("utf-8"))
        offset += length
    if len(names) != len(arrays):
        raise NDArrayFormatError(f"{len(names)} names for {len(arrays)} arrays")
    return dict(zip(names, arrays))


def load(path) -> list[np.ndarray] | dict[str, np.ndarray]:
    """Read an NDArray file (see :func:`loads`)."""
    with open(path, "rb") as handle:
        return loads(handle.read())
