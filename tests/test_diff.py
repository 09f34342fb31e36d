from ckptkit.diff import diff

import numpy as np
import pytest


def test_statuses_and_magnitudes():
    a = {"same": np.ones(3), "moved": np.array([0.0, 1.0]), "gone": np.zeros(1), "shape": np.zeros(2)}
    b = {"same": np.ones(3), "moved": np.array([0.5, 3.0]), "new": np.zeros(1), "shape": np.zeros(3)}
    d = diff(a, b)
    assert d.names("unchanged") == ["same"]
    assert d.names("changed") == ["moved"]
    assert d.names("only in A") == ["gone"]
    assert d.names("only in B") == ["new"]
    assert d.names("shape changed") == ["shape"]
    assert d["moved"].max_abs == pytest.approx(2.0)
    assert d["moved"].mean_abs == pytest.approx(1.25)
    assert not d.identical
    assert "1 unchanged, 1 changed, 1 shape changed, 1 only in A, 1 only in B" in d.summary()


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
