"""``application/x-recordio-protobuf``: the data format of Amazon SageMaker's built-in algorithms.

A body (or a training file) is a sequence of RecordIO records, each holding one serialized
``aialgs.data.Record`` protobuf message: maps ``features`` and ``label`` from a name (``"values"``
by convention) to a ``Value``, which holds one ``Float32Tensor``, ``Float64Tensor``, ``Int32Tensor``
(``values``; ``keys`` and ``shape`` for sparse rows) or ``Bytes``. Sources of the layout:

- the message: ``record.proto`` as the SageMaker Python SDK ships it (``sagemaker/amazon/
  record.proto``) and AWS's "Common Data Formats for Training" page ("Protobuf recordIO format");
- the framing: dmlc-core's ``RecordIOWriter``, which the algorithm containers
  read: little-endian ``uint32`` magic ``0xced7230a``, then a ``uint32`` whose top 3 bits are the
  continuation flag (0 whole record, 1 first part, 2 middle part, 3 last part) and lower 29 bits
  the part's length, then the bytes, zero-padded to a multiple of 4. A writer splits a record where
  the magic number appears at a 4-byte-aligned offset of its data (so that a reader scanning for
  the magic never starts inside a record) and drops that occurrence; a reader puts it back between
  the parts.

The writers produce the bytes of the SDK's ``write_numpy_to_dense_tensor`` and
``write_spmatrix_to_sparse_tensor`` (``sagemaker.amazon.common``); the SDK writes every record
whole, which is the same bytes unless a record's data holds the magic number at an aligned offset
(then this module splits it as dmlc-core does, and both read back the same record).

Why our own module: the message classes come from the protobuf library (the descriptor is built
here with ``descriptor_pb2``, in a private descriptor pool, so that it never clashes with the
SDK's generated ``record_pb2`` in one process), but no maintained library outside the SageMaker SDK
(too heavy a dependency: ~130 packages) writes this framing or maps numpy arrays to the message.
protobuf is imported on first use: ``pip install 'smflow[local]'`` (or ``pip install protobuf``)
installs it; the core install does not need it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from smflow.errors import SmflowError

CONTENT_TYPE = "application/x-recordio-protobuf"
MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1
_WHOLE, _FIRST, _MIDDLE, _LAST = 0, 1, 2, 3
_TENSOR_FIELDS = {"float32_tensor": np.float32, "float64_tensor": np.float64, "int32_tensor": np.int32}
_INT32 = np.iinfo(np.int32)


class RecordIOError(SmflowError, ValueError):
    """RecordIO-protobuf data is corrupt: a bad magic number, a truncated record, a record that is
    not an ``aialgs.data.Record`` message. ``offset`` is the byte offset of the record's header."""

    def __init__(self, message: str, offset: int):
        self.offset = offset
        super().__init__(f"Invalid RecordIO-protobuf data at byte offset {offset}: {message}")


class ProtobufMissingError(SmflowError, ImportError):
    """The protobuf library is not installed."""

    def __init__(self):
        super().__init__(
            "application/x-recordio-protobuf needs the protobuf library: "
            "pip install 'smflow[local]' (or pip install protobuf)"
        )


@dataclass
class Tensor:
    """One ``Value`` of a record.

    Attributes:
        values: 1-D array of float32, float64 or int32 (the tensor's type); an object array of
            ``bytes`` for a ``Bytes`` value.
        keys: 1-D uint64 array: the flat positions of ``values`` in a sparse tensor; empty when dense.
        shape: the tensor's shape (``()`` when the record does not give one).
        content_type: a ``Bytes`` value's ``content_type``; None otherwise.
    """

    values: np.ndarray
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    shape: tuple[int, ...] = ()
    content_type: str | None = None

    @property
    def sparse(self) -> bool:
        return self.keys.size > 0

    def to_numpy(self) -> np.ndarray:
        """The tensor as a dense array of its type: ``values`` placed at ``keys`` in zeros of
        ``shape`` when sparse; ``values`` reshaped to ``shape`` when dense (flat without a shape).

        Raises:
            ValueError: a sparse tensor without a shape, or keys outside it.
        """
        if not self.sparse:
            if not self.shape:
                return self.values
            if int(np.prod(self.shape)) == self.values.size:
                return self.values.reshape(self.shape)
            if self.values.size:
                raise ValueError(f"a dense tensor of shape {self.shape} holds {self.values.size} values")
            return np.zeros(self.shape, dtype=self.values.dtype)  # a sparse row with no entries
        size = int(np.prod(self.shape))
        if self.keys.size and int(self.keys.max()) >= size:
            raise ValueError(f"sparse tensor key {int(self.keys.max())} is outside its shape {self.shape}")
        dense = np.zeros(size, dtype=self.values.dtype)
        dense[self.keys.astype(np.intp)] = self.values
        return dense.reshape(self.shape)

    def item(self):
        """The single value as a Python number (``values`` of size 1), else the list of values
        of the dense tensor."""
        array = self.to_numpy()
        return array.reshape(-1)[0].item() if array.size == 1 else array.tolist()


@dataclass
class Record:
    """One ``aialgs.data.Record``: ``features`` and ``label`` maps from a name to a :class:`Tensor`."""

    features: dict[str, Tensor] = field(default_factory=dict)
    label: dict[str, Tensor] = field(default_factory=dict)
    uid: str | None = None
    metadata: str | None = None
    configuration: str | None = None


# --- the message ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _message_class():
    """``aialgs.data.Record``, built from a descriptor written here (same names, numbers, types,
    packing and ``oneof`` as the SDK's ``record.proto``)."""
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError:
        raise ProtobufMissingError() from None
    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="smflow/aialgs_record.proto", package="aialgs.data",
                                               syntax="proto2")

    def add_field(message, name, number, kind, label=F.LABEL_OPTIONAL, type_name=None, packed=False, oneof=None):
        item = message.field.add(name=name, number=number, type=kind, label=label)
        if type_name:
            item.type_name = type_name
        if packed:
            item.options.packed = True
        if oneof is not None:
            item.oneof_index = oneof

    for name, kind in (("Float32Tensor", F.TYPE_FLOAT), ("Float64Tensor", F.TYPE_DOUBLE),
                       ("Int32Tensor", F.TYPE_INT32)):
        tensor = proto.message_type.add(name=name)
        add_field(tensor, "values", 1, kind, F.LABEL_REPEATED, packed=True)
        add_field(tensor, "keys", 2, F.TYPE_UINT64, F.LABEL_REPEATED, packed=True)
        add_field(tensor, "shape", 3, F.TYPE_UINT64, F.LABEL_REPEATED, packed=True)
    raw = proto.message_type.add(name="Bytes")
    add_field(raw, "value", 1, F.TYPE_BYTES, F.LABEL_REPEATED)
    add_field(raw, "content_type", 2, F.TYPE_STRING)
    value = proto.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    for name, number, type_name in (("float32_tensor", 2, "Float32Tensor"), ("float64_tensor", 3, "Float64Tensor"),
                                    ("int32_tensor", 7, "Int32Tensor"), ("bytes", 9, "Bytes")):
        add_field(value, name, number, F.TYPE_MESSAGE, type_name=f".aialgs.data.{type_name}", oneof=0)
    record = proto.message_type.add(name="Record")
    for entry_name, map_name, number in (("FeaturesEntry", "features", 1), ("LabelEntry", "label", 2)):
        entry = record.nested_type.add(name=entry_name)
        entry.options.map_entry = True
        add_field(entry, "key", 1, F.TYPE_STRING)
        add_field(entry, "value", 2, F.TYPE_MESSAGE, type_name=".aialgs.data.Value")
        add_field(record, map_name, number, F.TYPE_MESSAGE, F.LABEL_REPEATED,
                  type_name=f".aialgs.data.Record.{entry_name}")
    for name, number in (("uid", 3), ("metadata", 4), ("configuration", 5)):
        add_field(record, name, number, F.TYPE_STRING)

    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    descriptor = pool.FindMessageTypeByName("aialgs.data.Record")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)  # pragma: no cover - protobuf 3


# --- framing ----------------------------------------------------------------------------------------------------


def frame(data: bytes) -> bytes:
    """One RecordIO record holding ``data`` (dmlc-core's ``RecordIOWriter::WriteRecord``).

    Raises:
        ValueError: ``data`` of 2**29 bytes or more (RecordIO's limit).
    """
    length = len(data)
    if length >= 1 << 29:
        raise ValueError(f"a RecordIO record holds less than 2**29 bytes, got {length}")
    parts: list[bytes] = []
    start = 0
    position = data.find(_MAGIC_BYTES)
    while position != -1 and position + 4 <= (length >> 2) << 2:
        if position % 4 == 0:
            parts.append(struct.pack("<II", MAGIC, ((_FIRST if start == 0 else _MIDDLE) << 29) | (position - start)))
            parts.append(data[start:position])
            start = position + 4
            position = data.find(_MAGIC_BYTES, start)
        else:
            position = data.find(_MAGIC_BYTES, position + 1)
    parts.append(struct.pack("<II", MAGIC, ((_LAST if start else _WHOLE) << 29) | (length - start)))
    parts.append(data[start:])
    parts.append(b"\0" * (-length % 4))
    return b"".join(parts)


def iter_frames(data: bytes | bytearray | memoryview) -> Iterator[tuple[int, bytes]]:
    """``(offset of the record's first header, record bytes)`` for each RecordIO record of
    ``data``, multi-part records joined (dmlc-core's ``RecordIOReader::NextRecord``).

    Raises:
        RecordIOError: a bad magic number, a truncated header or record, a part out of sequence.
    """
    view = memoryview(data).cast("B")
    end = len(view)
    offset = 0
    while offset < end:
        record_offset = offset
        pieces: list[bytes] = []
        expect_continuation = False
        while True:
            if end - offset < 8:
                raise RecordIOError(f"truncated record header ({end - offset} of 8 bytes)", offset)
            magic, word = struct.unpack_from("<II", view, offset)
            if magic != MAGIC:
                raise RecordIOError(f"bad magic number 0x{magic:08x} (expected 0x{MAGIC:08x})", offset)
            flag, length = word >> 29, word & _LENGTH_MASK
            if flag > _LAST or (flag in (_MIDDLE, _LAST)) != expect_continuation:
                raise RecordIOError(f"continuation flag {flag} out of sequence", offset)
            padded = (length + 3) & ~3
            if end - offset - 8 < length:
                raise RecordIOError(f"truncated record: {length} bytes announced, {end - offset - 8} present", offset)
            if end - offset - 8 < padded:
                raise RecordIOError(f"truncated record: its padding to 4 bytes is missing ({length} bytes "
                                    f"padded to {padded}, {end - offset - 8} present)", offset)
            pieces.append(bytes(view[offset + 8:offset + 8 + length]))
            offset += 8 + padded
            if flag in (_WHOLE, _LAST):
                break
            pieces.append(_MAGIC_BYTES)
            expect_continuation = True
        yield record_offset, b"".join(pieces)


# --- records <-> numpy -------------------------------------------------------------------------------------------


def _tensor_field(dtype: np.dtype) -> str:
    """The ``Value`` field for an array's dtype, as the SDK's ``_resolve_type`` (float32, float64;
    integers go to ``int32_tensor``)."""
    if dtype == np.float32:
        return "float32_tensor"
    if dtype == np.float64:
        return "float64_tensor"
    if dtype.kind in "iu":
        return "int32_tensor"
    raise ValueError(f"unsupported dtype {dtype} for RecordIO-protobuf: convert with .astype('float32') "
                     "(the built-in algorithms read float32)")


def _check_int32(array: np.ndarray, what: str) -> None:
    if array.dtype.kind in "iu" and array.size and (array.min() < _INT32.min or array.max() > _INT32.max):
        raise ValueError(f"{what} hold integers outside int32, which RecordIO-protobuf's Int32Tensor cannot: "
                         "convert with .astype('float32')")


def _is_sparse(matrix) -> bool:
    # scipy.sparse duck-typed: smflow's core install has no scipy.
    return hasattr(matrix, "tocsr") and hasattr(matrix, "nnz")


def write_records(features, labels=None) -> bytes:
    """``features`` as RecordIO-protobuf: one record per row, in ``features["values"]``.

    Args:
        features: a 2-D numpy array (dense rows: ``values`` only, as the SDK's
            ``write_numpy_to_dense_tensor``) or a scipy.sparse matrix (``values``, ``keys`` = column
            indices, ``shape`` = [number of columns], as ``write_spmatrix_to_sparse_tensor``). The
            tensor type follows the dtype: float32, float64, integers -> Int32.
        labels: optional 1-D array, one per row, written to ``label["values"]``.

    Raises:
        ValueError: not 2-D, labels not 1-D or of another length, an unsupported dtype.
        ProtobufMissingError: protobuf is not installed.
    """
    message = _message_class()
    sparse = _is_sparse(features)
    if not sparse:
        features = np.asarray(features)
    if len(features.shape) != 2:
        raise ValueError(f"features must be a 2-D array (rows x columns), got shape {tuple(features.shape)}")
    rows, columns = features.shape
    feature_field = _tensor_field(np.dtype(features.dtype))
    label_field = None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be a 1-D array (one per row), got shape {labels.shape}")
        if labels.shape[0] != rows:
            raise ValueError(f"labels has {labels.shape[0]} values for {rows} rows of features")
        label_field = _tensor_field(labels.dtype)
        _check_int32(labels, "labels")
        label_values = labels.tolist()
    record = message()
    out: list[bytes] = []
    if sparse:
        matrix = features.tocsr()
        _check_int32(matrix.data, "features")
        indptr, indices, data = matrix.indptr, matrix.indices.astype(np.uint64), matrix.data
        for row in range(rows):
            record.Clear()
            tensor = getattr(record.features["values"], feature_field)
            tensor.values.extend(data[indptr[row]:indptr[row + 1]].tolist())
            tensor.keys.extend(indices[indptr[row]:indptr[row + 1]].tolist())
            if label_field:
                getattr(record.label["values"], label_field).values.append(label_values[row])
            tensor.shape.append(columns)
            out.append(frame(record.SerializeToString()))
    else:
        _check_int32(features, "features")
        for row, vector in enumerate(features.tolist()):
            record.Clear()
            getattr(record.features["values"], feature_field).values.extend(vector)
            if label_field:
                getattr(record.label["values"], label_field).values.append(label_values[row])
            out.append(frame(record.SerializeToString()))
    return b"".join(out)


def encode_record(features: dict[str, object] | None = None, label: dict[str, object] | None = None) -> bytes:
    """One RecordIO record from maps of name -> number or array-like (float32 tensors unless the
    array is float64 or integer), e.g. an algorithm's answer ``label={"closest_cluster": 3.0}``."""
    message = _message_class()
    record = message()
    for target, values in ((record.features, features or {}), (record.label, label or {})):
        for name, value in values.items():
            array = np.asarray(value)
            if array.dtype.kind not in "iuf":
                raise ValueError(f"{name!r}: RecordIO-protobuf tensors hold numbers, got {array.dtype}")
            if not isinstance(value, np.ndarray) and array.dtype.kind == "f":
                array = array.astype(np.float32)  # Python floats: the algorithms answer in float32
            kind = _tensor_field(array.dtype)
            _check_int32(array, repr(name))
            tensor = getattr(target[name], kind)
            tensor.values.extend(array.reshape(-1).tolist())
            if array.ndim > 1:
                tensor.shape.extend(array.shape)
    return frame(record.SerializeToString())


def _tensor(value) -> Tensor:
    kind = value.WhichOneof("value")
    if kind == "bytes":
        return Tensor(values=np.array(list(value.bytes.value), dtype=object),
                      content_type=value.bytes.content_type if value.bytes.HasField("content_type") else None)
    if kind is None:
        return Tensor(values=np.zeros(0, dtype=np.float32))
    tensor = getattr(value, kind)
    return Tensor(values=np.array(tensor.values, dtype=_TENSOR_FIELDS[kind]),
                  keys=np.array(tensor.keys, dtype=np.uint64),
                  shape=tuple(int(size) for size in tensor.shape))


def read_records(data: bytes | bytearray | memoryview) -> list[Record]:
    """Every record of a RecordIO-protobuf body or file.

    Raises:
        RecordIOError: corrupt framing, or a record that is not an ``aialgs.data.Record``
            (the message names the byte offset).
        ProtobufMissingError: protobuf is not installed.
    """
    message_class = _message_class()
    from google.protobuf.message import DecodeError

    records = []
    for offset, payload in iter_frames(data):
        message = message_class()
        try:
            message.ParseFromString(payload)
        except DecodeError as exc:
            raise RecordIOError(f"the record is not an aialgs.data.Record protobuf message ({exc})", offset) from None
        records.append(Record(
            features={name: _tensor(value) for name, value in message.features.items()},
            label={name: _tensor(value) for name, value in message.label.items()},
            uid=message.uid if message.HasField("uid") else None,
            metadata=message.metadata if message.HasField("metadata") else None,
            configuration=message.configuration if message.HasField("configuration") else None,
        ))
    return records


def records_to_numpy(records: list[Record], key: str = "values") -> tuple[np.ndarray, np.ndarray | None]:
    """``(features, labels)``: the rows' ``features[key]`` stacked into a 2-D array (sparse rows
    made dense) and ``label[key]`` as a 1-D array, or None when no record has a label.

    Raises:
        ValueError: a record without ``features[key]``, rows of different lengths, labels on
            only some records.
    """
    rows = []
    labels = []
    for index, record in enumerate(records):
        if key not in record.features:
            raise ValueError(f"record {index} has no features[{key!r}] (it has {sorted(record.features)})")
        rows.append(record.features[key].to_numpy().reshape(-1))
        if key in record.label:
            labels.append(record.label[key].to_numpy().reshape(-1))
    if labels and len(labels) != len(records):
        raise ValueError(f"only {len(labels)} of {len(records)} records have label[{key!r}]")
    lengths = sorted({row.size for row in rows})
    if len(lengths) > 1:
        raise ValueError(f"records have different numbers of features ({', '.join(map(str, lengths))})")
    features = np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    if not labels:
        return features, None
    label_array = np.concatenate(labels) if all(label.size == 1 for label in labels) else np.stack(labels)
    return features, label_array


def records_to_dicts(records: list[Record]) -> list[dict]:
    """Each record's ``label`` map as a dict of name -> Python number (one value) or list: the
    shape of the algorithms' JSON answers (``{"closest_cluster": 3.0, "distance_to_cluster": 1.2}``).
    A record without labels gives its ``features`` instead."""
    return [{name: tensor.item() for name, tensor in (record.label or record.features).items()}
            for record in records]


def encode(data) -> bytes:
    """The codec's encoder: a 2-D array (a 1-D array is one row) or scipy.sparse matrix ->
    records, as the SDK's ``RecordSerializer``."""
    if _is_sparse(data):
        return write_records(data)
    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    return write_records(array)


def decode(body: bytes) -> np.ndarray:
    """The codec's decoder: the records' ``features["values"]`` as a 2-D array (the rows sent)."""
    return records_to_numpy(read_records(body))[0]
