"""smflow.recordio against the published byte layout: dmlc-core's RecordIO framing (little-endian
magic 0xced7230a, a length word whose top 3 bits are the continuation flag, zero padding to 4 bytes)
around ``aialgs.data.Record`` messages (record.proto: Value fields float32_tensor=2,
float64_tensor=3, int32_tensor=7; Float32Tensor values=1, keys=2, shape=3, packed). The expected
bytes below are written out field by field from those specs, not by smflow.
(tests/sdk/test_recordio_parity.py compares with the SageMaker Python SDK's own writer.)"""

import struct

import numpy as np
import pytest
from smflow import codecs, recordio

MAGIC = struct.pack("<I", 0xCED7230A)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:  # length-delimited (wire type 2)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _float32_tensor(values, keys=(), shape=()) -> bytes:
    out = _field(1, struct.pack(f"<{len(values)}f", *values)) if len(values) else b""  # empty: absent
    if keys:
        out += _field(2, b"".join(_varint(k) for k in keys))
    if shape:
        out += _field(3, b"".join(_varint(s) for s in shape))
    return out


def _map_entry(number: int, key: str, value_field: int, tensor: bytes) -> bytes:
    # map<string, Value> entry: key=1, value=2; Value: oneof field value_field
    return _field(number, _field(1, key.encode()) + _field(2, _field(value_field, tensor)))


def _record(features: bytes, label: bytes = b"", value_field: int = 2) -> bytes:
    data = _map_entry(1, "values", value_field, features) + (_map_entry(2, "values", 2, label) if label else b"")
    return MAGIC + struct.pack("<I", len(data)) + data + b"\0" * (-len(data) % 4)


def test_dense_float32_rows_with_labels_match_the_layout():
    features = np.array([[1.5, -2.0, 0.25], [0.0, 3.0, 4.5]], dtype=np.float32)
    labels = np.array([1.0, 0.0], dtype=np.float32)
    expected = b"".join(_record(_float32_tensor(row), _float32_tensor([label])) for row, label in zip(features, labels))
    assert recordio.write_records(features, labels) == expected


def test_dense_rows_without_labels_match_the_layout():
    features = np.array([[7.0], [8.0], [9.0]], dtype=np.float32)
    assert recordio.write_records(features) == b"".join(_record(_float32_tensor(row)) for row in features)


def test_sparse_rows_hold_values_keys_and_shape():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    matrix = scipy_sparse.csr_matrix(np.array([[0, 2.5, 0, 0, 1], [0, 0, 0, 0, 0], [3, 0, 0, 0, 0]], dtype=np.float32))
    labels = np.array([1, 0, 1], dtype=np.float32)
    expected = _record(_float32_tensor([2.5, 1], keys=[1, 4], shape=[5]), _float32_tensor([1.0]))
    expected += _record(_float32_tensor([], shape=[5]), _float32_tensor([0.0]))
    expected += _record(_float32_tensor([3], keys=[0], shape=[5]), _float32_tensor([1.0]))
    assert recordio.write_records(matrix, labels) == expected
    records = recordio.read_records(expected)
    assert records[0].features["values"].keys.tolist() == [1, 4] and records[0].features["values"].shape == (5,)
    features, read_labels = recordio.records_to_numpy(records)
    assert np.array_equal(features, matrix.toarray()) and read_labels.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("dtype, field_number, tensor", [
    (np.float64, 3, _field(1, struct.pack("<2d", 1, 2))),  # Float64Tensor: packed doubles
    (np.int32, 7, _field(1, _varint(1) + _varint(2))),  # Int32Tensor: packed varints
])
def test_the_tensor_type_follows_the_dtype(dtype, field_number, tensor):
    body = recordio.write_records(np.array([[1, 2]], dtype=dtype))
    assert body == _record(tensor, value_field=field_number)
    (record,) = recordio.read_records(body)
    assert record.features["values"].values.dtype == dtype
    assert record.features["values"].values.tolist() == [1, 2]


def test_round_trip_keeps_values_and_types():
    rng = np.random.default_rng(7)
    features = rng.normal(size=(30, 9)).astype(np.float32)
    labels = rng.integers(0, 4, 30).astype(np.float32)
    read_features, read_labels = recordio.records_to_numpy(recordio.read_records(recordio.write_records(features, labels)))
    assert read_features.dtype == np.float32 and np.array_equal(read_features, features)
    assert np.array_equal(read_labels, labels)
    assert recordio.records_to_numpy(recordio.read_records(recordio.write_records(features)))[1] is None


def test_a_record_holding_the_magic_number_is_split_and_joined_as_dmlc_core_does():
    # float32 bits of 0xced7230a at an aligned offset of the serialized record
    magic_float = struct.unpack("<f", MAGIC)[0]
    features = np.array([[magic_float, 1.0, magic_float, magic_float, 2.0]], dtype=np.float32)
    body = recordio.write_records(features)
    data = _map_entry(1, "values", 2, _float32_tensor(features[0]))
    position = data.find(MAGIC)
    assert position % 4 == 0  # the test's premise: an aligned occurrence
    headers = []
    offset = 0
    while offset < len(body):
        assert body[offset:offset + 4] == MAGIC
        word = struct.unpack_from("<I", body, offset + 4)[0]
        headers.append((word >> 29, word & (2**29 - 1)))
        offset += 8 + ((word & (2**29 - 1)) + 3) // 4 * 4
    assert headers[0] == (1, position) and headers[-1][0] == 3  # first part ... last part
    assert sum(length for _, length in headers) + 4 * (len(headers) - 1) == len(data)
    (record,) = recordio.read_records(body)
    np.testing.assert_array_equal(record.features["values"].values, features[0])


def test_an_answer_record_reads_as_a_dict():
    body = recordio.encode_record(label={"closest_cluster": 3.0, "distance_to_cluster": 1.25})
    body += recordio.encode_record(label={"closest_cluster": 1.0, "distance_to_cluster": 0.5})
    assert recordio.records_to_dicts(recordio.read_records(body)) == [
        {"closest_cluster": 3.0, "distance_to_cluster": 1.25}, {"closest_cluster": 1.0, "distance_to_cluster": 0.5}]


@pytest.mark.parametrize("corrupt, offset, message", [
    (lambda body: b"\0\0\0\0" + body[4:], 0, "bad magic number 0x00000000"),
    (lambda body: body[:-6], 36, "truncated record: 28 bytes announced, 22 present"),
    (lambda body: body[:-1] + b"\0" + MAGIC[:3], 72, "truncated record header"),
    (lambda body: body[:36] + MAGIC + struct.pack("<I", 2 << 29 | 4) + b"\0" * 4, 36, "continuation flag 2"),
])
def test_corrupt_data_names_the_byte_offset(corrupt, offset, message):
    body = recordio.write_records(np.ones((2, 3), dtype=np.float32))
    assert len(body) == 72  # 2 records: 8-byte header + 28 bytes of message (no padding needed)
    with pytest.raises(recordio.RecordIOError, match=f"byte offset {offset}: {message}") as raised:
        recordio.read_records(corrupt(body))
    assert raised.value.offset == offset and isinstance(raised.value, ValueError)


def test_a_frame_that_is_not_a_record_message_is_named():
    with pytest.raises(recordio.RecordIOError, match="byte offset 0: the record is not an aialgs.data.Record"):
        recordio.read_records(recordio.frame(b"\xff\xff\xff\xff"))


def test_bad_shapes_and_types_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="2-D array"):
        recordio.write_records(np.ones(3))
    with pytest.raises(ValueError, match="labels has 2 values for 3 rows"):
        recordio.write_records(np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"astype\('float32'\)"):
        recordio.write_records(np.array([["a"]]))
    with pytest.raises(ValueError, match="outside int32"):
        recordio.write_records(np.array([[2**40]]))


def test_codecs_speak_recordio_protobuf():
    data = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    body = codecs.encode(data, "application/x-recordio-protobuf")
    assert body == recordio.write_records(data)
    assert codecs.decode(body, "application/x-recordio-protobuf").tolist() == data.tolist()
    assert codecs.encode(np.array([1.0, 2.0], dtype=np.float32), codecs.RECORDIO_PROTOBUF) == recordio.write_records(data[:1])


def test_protobuf_missing_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_protobuf(name, *args, **kwargs):
        if name.startswith("google.protobuf"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    recordio._message_class.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_protobuf)
    try:
        with pytest.raises(recordio.ProtobufMissingError, match=r"pip install 'smflow\[local\]'"):
            recordio.write_records(np.ones((1, 1), dtype=np.float32))
    finally:
        monkeypatch.undo()
        recordio._message_class.cache_clear()
