import numpy as np
import pytest

from smflow import codecs


@pytest.mark.parametrize("content_type", codecs.SUPPORTED_CONTENT_TYPES)
def test_round_trip_2d(content_type):
    data = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]])
    assert np.allclose(codecs.decode(codecs.encode(data, content_type), content_type), data)


def test_json_is_a_single_list_and_csv_one_row_per_line():
    assert codecs.encode([[1, 2], [3, 4]], "application/json") == b"[[1, 2], [3, 4]]"
    assert codecs.encode(np.array([[1.5, 2], [3, 4]]), "text/csv") == b"1.5,2.0\n3.0,4.0\n"
    assert codecs.encode(np.array([0, 1, 2]), "text/csv") == b"0\n1\n2\n"  # predictions: one per line


def test_content_type_parameters_are_ignored():
    assert codecs.decode(b"1,2\n", "text/csv; charset=utf-8").tolist() == [[1.0, 2.0]]


def test_unsupported_types_name_the_supported_ones():
    with pytest.raises(codecs.UnsupportedContentTypeError, match="application/x-npy, application/json, text/csv"):
        codecs.decode(b"x", "application/xml")
    with pytest.raises(codecs.UnsupportedContentTypeError):
        codecs.encode([1], "image/png")


def test_invalid_json_is_a_value_error():
    with pytest.raises(ValueError, match="not valid JSON"):
        codecs.decode(b"[1, 2", "application/json")


def test_npy_refuses_pickles():
    payload = codecs.encode(np.array([1, 2]), codecs.NPY)
    assert codecs.decode(payload, codecs.NPY).tolist() == [1, 2]
    import io
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        codecs.decode(buffer.getvalue(), codecs.NPY)


@pytest.mark.parametrize(
    "text",
    [
        "5.1,3.5,1.4,0.2\n" * 1000,
        "1\n2\n" * 2000,
        "1,2\n\n3,4\r\n" * 1000,
        "nan,inf,-1e-3\n" * 1000,
    ],
)
def test_numeric_csv_fast_path_equals_field_by_field_parsing(text):
    from smflow.codecs import _decode_csv_fields

    expected = _decode_csv_fields(text)
    expected = expected.reshape(-1) if expected.shape[1] == 1 else expected
    decoded = codecs.decode(text, "text/csv")
    assert decoded.dtype == expected.dtype and decoded.shape == expected.shape
    assert np.array_equal(decoded, expected, equal_nan=True)


def test_text_and_quoted_csv_fields():
    assert codecs.decode('"a",b\nc,"d"\n', "text/csv").tolist() == [["a", "b"], ["c", "d"]]
    assert codecs.decode('"1",2\n', "text/csv").tolist() == [["1", "2"]]


def test_ragged_csv_rows_name_the_problem():
    with pytest.raises(ValueError, match=r"different numbers of fields \(1, 2\)"):
        codecs.decode("1,2\n3\n", "text/csv")
    with pytest.raises(ValueError, match="CSV body is empty"):
        codecs.decode("\n\n", "text/csv")


@pytest.mark.parametrize("array", [np.arange(5000), np.linspace(0, 1, 3000).reshape(1000, 3),
                                   np.linspace(0, 1, 3000, dtype=np.float32)])
def test_large_csv_encoding_round_trips(array):
    decoded = codecs.decode(codecs.encode(array, "text/csv"), "text/csv")
    assert np.array_equal(decoded.astype(float), array.astype(float))


def test_unsupported_content_type_is_an_smflow_error_and_a_value_error():
    from smflow.errors import SmflowError

    with pytest.raises(SmflowError) as caught:
        codecs.decode(b"x", "application/xml")
    assert isinstance(caught.value, ValueError)
    assert caught.value.content_type == "application/xml"
