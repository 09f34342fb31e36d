from ckptkit.files.diff import diff

import numpy as np
import pytest


def test_statuses_and_magnitudes():
    a = {"same": np.ones(3), "moved": np.array([0.0, 1.0]), "gone": np.zeros(1), "shape": np.zeros(2)}
    b = {"same": np.ones(3), "moved": np.array([0.5, 3.0]), "new": np.zeros(1), "shape": np.zeros(3)}
    d = diff(a, b)
    assert d.names("unchanged") == ["same"]
    assert d.names("changed") == ["moved", "shape"]
    assert d.names("only in A") == ["gone"]
    assert d.names("only in B") == ["new"]
    assert d["shape"].reason == "shape (2,) -> (3,)" and d["moved"].reason == "values"
    assert d["moved"].max_abs == pytest.approx(2.0)
    assert d["moved"].mean_abs == pytest.approx(1.25)
    assert not d.identical
    assert "1 unchanged, 2 changed, 1 only in A, 1 only in B" in d.summary()


def test_bitwise_equality_decides_unchanged():
    a = {"x": np.float32([1.0])}
    b = {"x": np.nextafter(np.float32([1.0]), np.float32(2.0))}
    assert diff(a, b)["x"].status == "changed"
    assert diff(a, dict(a)).identical


def test_strings_compare_by_equality():
    d = diff({"s": np.array(b"abc")}, {"s": np.array(b"abd")})
    assert d["s"].status == "changed" and d["s"].max_abs is None


def test_table_lists_every_row_rounded():
    d = diff({"w": np.array([0.123456789])}, {"w": np.array([0.0])}, "saved", "live")
    text = repr(d)
    assert text.startswith("saved vs live: 0 unchanged, 1 changed")
    assert "0.1235" in text and "0.123456" not in text


def test_dtype_change_is_a_change_with_its_reason():
    d = diff({"x": np.arange(3, dtype=np.int64)}, {"x": np.arange(3, dtype=np.float32)})
    assert d["x"].status == "changed" and d["x"].reason == "dtype int64 -> float32"
    assert d["x"].max_abs == 0 and "dtype int64 -> float32" in d.table()
    assert diff({"x": np.float32([1])}, {"x": np.float64([1])})["x"].status == "changed"


def test_nan_equals_nan_at_the_same_position_and_signed_zero_only_bitwise():
    nan = np.float32([np.nan, 1.0])
    assert diff({"x": nan}, {"x": nan.copy()}).identical
    assert not diff({"x": nan}, {"x": np.float32([1.0, np.nan])}).identical
    zeros = {"x": np.float32([-0.0])}, {"x": np.float32([0.0])}
    assert diff(*zeros).identical and "-0.0 equals 0.0" in diff(*zeros).header()
    bitwise = diff(*zeros, bitwise=True)
    assert not bitwise.identical and bitwise["x"].reason.startswith("bits only")
    assert bitwise.header().startswith("rule: bitwise")


def test_wide_shapes_keep_the_columns_aligned():
    d = diff({"kernel": np.zeros((3, 3, 64, 128))}, {"kernel": np.ones((3, 3, 64, 128))})
    head, row = d.table().splitlines()
    # the right edge of each number sits under the right edge of its heading
    assert row.index("1 ") + 1 == head.index("max |Δ|") + len("max |Δ|")
    assert len(row) == len(head) and "(3, 3, 64, 128)" in row
