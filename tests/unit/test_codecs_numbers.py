"""CSV encoding of 1-D numeric arrays (predictions, one number per line).

``codecs._encode_numbers`` formats large arrays of class labels through a lookup table of the
distinct values; its text must be exactly what formatting each number gives:
``"\\n".join(map(str, array.tolist())) + "\\n"`` (what the encoder wrote before the fast path).
"""

from __future__ import annotations

import numpy as np
import pytest

from smflow import codecs

BIG = codecs._LOOKUP_MIN_SIZE * 3 + 7  # above the size where the lookup table is used
SMALL = codecs._LOOKUP_MIN_SIZE - 1  # just below it
RANGE = codecs._LOOKUP_MAX_RANGE


def reference(array: np.ndarray) -> bytes:
    """One number per line, each formatted on its own."""
    return ("\n".join(map(str, array.tolist())) + "\n").encode()


def tiled(values, dtype, size: int = BIG) -> np.ndarray:
    """``values`` repeated (in a shuffled order, fixed seed) up to ``size`` elements."""
    base = np.array(values, dtype=dtype)
    array = np.resize(base, size)
    np.random.default_rng(7).shuffle(array)
    return array


INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]

# (id, array, whether the lookup table applies): the flag keeps the cases honest, so that the
# equivalence below is checked on the fast path, not only on the per-number fallback.
CASES = [
    *[(f"{np.dtype(d).name}-labels", tiled([0, 1, 2], d), True) for d in INT_DTYPES],
    *[(f"{np.dtype(d).name}-labels-small", tiled([0, 1, 2], d, SMALL), False) for d in INT_DTYPES],
    *[(f"{np.dtype(d).name}-one-value", np.full(BIG, 5, dtype=d), True) for d in INT_DTYPES],
    *[(f"{np.dtype(d).name}-float-labels", tiled([0.0, 1.0, 2.0], d), True) for d in FLOAT_DTYPES],
    *[(f"{np.dtype(d).name}-float-labels-small", tiled([0.0, 1.0, 2.0], d, SMALL), False) for d in FLOAT_DTYPES],
    ("int8-nonnegative-span", tiled([0, 127], np.int8), True),
    ("int8-span-127", tiled([-64, 63], np.int8), True),
    ("int8-whole-range", tiled([-128, 127, 0, -1], np.int8), True),
    ("int16-negative", tiled([-3, -1, 0, 7], np.int16), True),
    ("int64-range-at-limit", tiled([-RANGE // 2, RANGE - RANGE // 2], np.int64), True),
    ("int64-range-over-limit", tiled([0, RANGE + 1], np.int64), False),
    ("int64-near-max", tiled([2**63 - 1, 2**63 - 1 - RANGE], np.int64), True),
    ("int64-near-min", tiled([-(2**63), -(2**63) + RANGE], np.int64), True),
    ("int64-extremes", tiled([-(2**63), 2**63 - 1], np.int64), False),
    ("uint64-near-max", tiled([2**64 - 1, 2**64 - 1 - RANGE], np.uint64), True),
    ("uint8-whole-range", tiled([0, 255], np.uint8), True),
    ("int32-big-endian", tiled([1, 2, 300], ">i4"), True),
    ("int64-strided-view", tiled([4, 9, 1], np.int64, BIG * 2)[::2], True),
    ("float64-negative-labels", tiled([-3.0, -1.0, 0.0, 7.0], np.float64), True),
    ("float64-range-at-limit", tiled([0.0, float(RANGE)], np.float64), True),
    ("float64-range-over-limit", tiled([0.0, float(RANGE + 1)], np.float64), False),
    ("float64-at-2**53", tiled([2.0**53, 2.0**53 - RANGE], np.float64), True),
    ("float64-above-2**53", tiled([2.0**53 + 2, 2.0**53 + 4], np.float64), False),
    ("float64-below-minus-2**53", tiled([-(2.0**53) - 2, -(2.0**53) - 4], np.float64), False),
    ("float64-large-labels", tiled([1e15, 1e15 + 1], np.float64), True),
    ("float32-large-integers", tiled([2.0**30, 2.0**30 + 128], np.float32), True),
    ("float32-one-huge-value", np.full(BIG, 2.0**40, dtype=np.float32), True),
    ("float16-large-integers", tiled([60000, 62016], np.float16), True),
    ("float64-negative-zero", tiled([0.0, -0.0, 1.0], np.float64), False),
    ("float32-negative-zero", tiled([0.0, -0.0, 1.0], np.float32), False),
    ("float64-only-negative-zero", np.full(BIG, -0.0), False),
    ("float64-nan", tiled([0.0, 1.0, np.nan], np.float64), False),
    ("float64-inf", tiled([0.0, 1.0, np.inf], np.float64), False),
    ("float64-minus-inf", tiled([0.0, 1.0, -np.inf], np.float64), False),
    ("float32-nan", tiled([0.0, np.nan], np.float32), False),
    ("float64-fractions", tiled([0.5, 1.0, 2.25], np.float64), False),
    ("float32-fractions", tiled([0.1, 1.0, 2.0], np.float32), False),
    ("float64-tiny", tiled([0.0, 5e-324, 1.0], np.float64), False),
    ("bool", tiled([True, False], np.bool_), False),
    ("bool-small", tiled([True, False], np.bool_, SMALL), False),
    ("int64-empty", np.array([], dtype=np.int64), False),
    ("float64-empty", np.array([], dtype=np.float64), False),
    ("int64-one", np.array([3], dtype=np.int64), False),
    ("float64-exactly-min-size", tiled([0.0, 1.0], np.float64, codecs._LOOKUP_MIN_SIZE), True),
]


@pytest.mark.parametrize("array, uses_table", [pytest.param(a, t, id=i) for i, a, t in CASES])
def test_csv_of_a_1d_numeric_array_is_each_number_formatted_on_its_own(array, uses_table):
    assert codecs.encode(array, codecs.CSV) == reference(array)
    # the case exercises the path it is meant to
    table = codecs._integer_table(array) if array.size >= codecs._LOOKUP_MIN_SIZE else None
    assert (table is not None) == uses_table


@pytest.mark.parametrize("values", [[-100, 100], [-1, 127], [-128, 0], [-128, 126]],
                         ids=["-100..100", "-1..127", "-128..0", "-128..126"])
def test_csv_of_int8_labels_spanning_more_than_127(values):
    array = tiled(values, np.int8)
    assert codecs.encode(array, codecs.CSV) == reference(array)


RANDOM = np.random.default_rng(20240601)


def _random_cases():
    cases = []
    for dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        span = min(int(info.max) - int(info.min), 2 * RANGE)
        for size in (SMALL, BIG):
            low = int(RANDOM.integers(int(info.min), int(info.max) - span, endpoint=True, dtype=dtype))
            values = RANDOM.integers(low, low + span, size=size, endpoint=True, dtype=dtype)
            cases.append(pytest.param(values, id=f"{np.dtype(dtype).name}-{size}-span{span}"))
    for dtype in FLOAT_DTYPES:
        for size in (SMALL, BIG):
            labels = RANDOM.integers(-50, 50, size=size).astype(dtype)
            cases.append(pytest.param(labels, id=f"{np.dtype(dtype).name}-{size}-labels"))
            noisy = (RANDOM.standard_normal(size) * 1000).astype(dtype)
            cases.append(pytest.param(noisy, id=f"{np.dtype(dtype).name}-{size}-normal"))
            mixed = labels.copy()
            mixed[RANDOM.integers(0, size, size=5)] = [np.nan, np.inf, -np.inf, -0.0, 0.5]
            cases.append(pytest.param(mixed, id=f"{np.dtype(dtype).name}-{size}-specials"))
    wide = RANDOM.integers(-(10**12), 10**12, size=BIG)
    cases.append(pytest.param(wide, id="int64-wide"))
    cases.append(pytest.param(wide.astype(np.float64), id="float64-wide-integers"))
    return cases


@pytest.mark.parametrize("array", _random_cases())
def test_csv_of_random_arrays_is_each_number_formatted_on_its_own(array):
    assert codecs.encode(array, codecs.CSV) == reference(array)


def test_prediction_lists_and_2d_columns_encode_as_before():
    labels = [0, 1, 2] * 500
    assert codecs.encode(labels, codecs.CSV) == ("\n".join(map(str, labels)) + "\n").encode()
    column = np.array(labels, dtype=np.float64).reshape(-1, 1)  # 2-D: not the 1-D fast path
    assert codecs.encode(column, codecs.CSV) == codecs.encode(column.ravel(), codecs.CSV)


def test_encoding_leaves_the_array_unchanged():
    array = tiled([3.0, -0.0, 7.0, 1.0], np.float64)
    before = array.copy()
    codecs.encode(array, codecs.CSV)
    np.testing.assert_array_equal(array, before)
    assert np.signbit(array).tolist() == np.signbit(before).tolist()
