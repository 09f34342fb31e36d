"""Per-variable comparison of two checkpoints or snapshots: unchanged, changed, only in A, only in B.

No TensorFlow: checkpoints are read by `ckptkit.files.reader`; `ckptkit.live.snapshot.compare` turns
live objects into snapshots first.
"""

from __future__ import annotations

from ckptkit.files.reader import StoredValues, open_checkpoint
from ckptkit.files.text import text_table

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["BITWISE_RULE", "EQUAL_RULE", "Change", "Diff", "compare", "diff", "dtype_name", "labels"]

UNCHANGED, CHANGED, ONLY_A, ONLY_B = "unchanged", "changed", "only in A", "only in B"
EQUAL_RULE = "equal values decide (NaN equals NaN at the same position, -0.0 equals 0.0)"
BITWISE_RULE = "bitwise: equal bytes decide (-0.0 differs from 0.0)"


@dataclass(frozen=True)
class Change:
    """How one variable differs between snapshot A and snapshot B (`reason` says what changed)."""

    name: str
    status: str
    shape_a: tuple[int, ...] | None
    shape_b: tuple[int, ...] | None
    max_abs: float | None = None
    mean_abs: float | None = None
    dtype_a: str | None = None
    dtype_b: str | None = None
    reason: str = ""


def dtype_name(value: np.ndarray) -> str:
    """The dtype as TensorFlow names it: `string` for arrays of bytes, NumPy's name otherwise."""
    return "string" if value.dtype.kind in "OSU" else value.dtype.name


def _as_float(value: np.ndarray) -> np.ndarray:
    """Exact widening for comparison: complex stays complex, every float (bfloat16 too) becomes float64."""
    return value.astype(np.complex128 if value.dtype.kind == "c" else np.float64)


def _compare(name: str, a: np.ndarray, b: np.ndarray, bitwise: bool) -> Change:
    dtype_a, dtype_b = dtype_name(a), dtype_name(b)
    kw = {"dtype_a": dtype_a, "dtype_b": dtype_b}
    if a.shape != b.shape:
        return Change(name, CHANGED, a.shape, b.shape, reason=f"shape {a.shape} -> {b.shape}", **kw)
    if dtype_a == dtype_b and a.dtype.kind not in "OSU" and a.tobytes() == b.tobytes():
        numeric = a.dtype.kind != "b"  # the same bytes: equal under either rule, nothing to measure
        return Change(name, UNCHANGED, a.shape, b.shape, *((0.0, 0.0) if numeric else (None, None)), **kw)
    if "string" in (dtype_a, dtype_b) or a.dtype.kind == "b" or b.dtype.kind == "b":
        same = dtype_a == dtype_b and np.array_equal(a, b)
        reason = "" if same else (f"dtype {dtype_a} -> {dtype_b}" if dtype_a != dtype_b else "values")
        return Change(name, UNCHANGED if same else CHANGED, a.shape, b.shape, reason=reason, **kw)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        equal = np.equal(a, b)  # exact for every integer width, where float64 would round large values
        x, y = a.astype(np.float64), b.astype(np.float64)
    else:
        x, y = _as_float(a), _as_float(b)
        both_nan = np.isnan(x) & np.isnan(y)
        equal = (x == y) | both_nan
        x, y = np.where(both_nan, 0, x), np.where(both_nan, 0, y)
    if dtype_a != dtype_b:
        same, reason = False, f"dtype {dtype_a} -> {dtype_b}"
    elif bitwise:
        same = a.tobytes() == b.tobytes()
        reason = "" if same else ("values" if not equal.all() else "bits only (e.g. -0.0 vs 0.0)")
    else:
        same, reason = bool(equal.all()), "" if equal.all() else "values"
    gap = np.abs(x - y)
    max_abs = float(gap.max()) if gap.size else 0.0
    mean_abs = float(gap.mean()) if gap.size else 0.0
    return Change(
        name, UNCHANGED if same else CHANGED, a.shape, b.shape, max_abs, mean_abs, reason=reason, **kw
    )


@dataclass(frozen=True)
class Diff:
    """The changes between two snapshots, one row per variable, sorted by name."""

    rows: tuple[Change, ...]
    label_a: str = "A"
    label_b: str = "B"
    rule: str = EQUAL_RULE
    notes: tuple[str, ...] = ()

    def names(self, status: str) -> list[str]:
        """Names of the variables with this status ("unchanged", "changed", "only in A", ...)."""
        return [r.name for r in self.rows if r.status == status]

    @property
    def identical(self) -> bool:
        """True when every variable is in both snapshots with the same value."""
        return all(r.status == UNCHANGED for r in self.rows)

    def __getitem__(self, name: str) -> Change:
        """The row for one variable."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no variable {name!r} in this diff: it has {[r.name for r in self.rows]}")

    def summary(self) -> str:
        """One line: how many variables are unchanged, changed, and only on one side."""
        counts = {s: len(self.names(s)) for s in (UNCHANGED, CHANGED, ONLY_A, ONLY_B)}
        parts = [f"{n} {s}" for s, n in counts.items() if n or s in (UNCHANGED, CHANGED)]
        return f"{self.label_a} vs {self.label_b}: " + ", ".join(parts)

    def header(self) -> str:
        """Which equality rule decided, and notes such as "the two sides use different key formats"."""
        return "\n".join([f"rule: {self.rule}", *(f"note: {n}" for n in self.notes)])

    def table(self) -> str:
        """A fixed-width table: name, status, shape, max and mean absolute change (4 significant digits).

        A `why` column appears when some value changed dtype or shape.
        """
        why = any(r.reason.startswith(("dtype", "shape", "bits")) for r in self.rows)
        rows = [["variable", "status", "shape", "max |Δ|", "mean |Δ|", *(["why"] if why else [])]]
        for r in self.rows:
            mx = "" if r.max_abs is None else f"{r.max_abs:.4g}"
            mn = "" if r.mean_abs is None else f"{r.mean_abs:.4g}"
            reason = [r.reason] if why and r.reason not in ("", "values") else []
            rows.append([r.name, r.status, self._shape_text(r), mx, mn, *reason])
        widths = {0: 8, 1: 13, 2: 10, 3: 10, 4: 10}
        return "\n".join(text_table(rows, right={3, 4}, widths=widths, strip=False))

    @staticmethod
    def _shape_text(r: Change) -> str:
        if r.shape_a is not None and r.shape_b is not None and r.shape_a != r.shape_b:
            return f"{r.shape_a}->{r.shape_b}"
        return str(r.shape_a if r.shape_a is not None else r.shape_b)

    def __repr__(self) -> str:
        """The summary line then the table, so a notebook cell shows both."""
        return self.summary() + "\n" + self.table()


def diff(
    a: Mapping[str, np.ndarray],
    b: Mapping[str, np.ndarray],
    label_a: str = "A",
    label_b: str = "B",
    bitwise: bool = False,
    notes: tuple[str, ...] = (),
) -> Diff:
    """Compare two snapshots variable by variable: equal values decide, or equal bytes when `bitwise`."""
    rows = []
    for name in sorted(set(a) | set(b)):
        if name not in b:
            value = np.asarray(a[name])
            rows.append(Change(name, ONLY_A, value.shape, None, dtype_a=dtype_name(value)))
        elif name not in a:
            value = np.asarray(b[name])
            rows.append(Change(name, ONLY_B, None, value.shape, dtype_b=dtype_name(value)))
        else:
            rows.append(_compare(name, np.asarray(a[name]), np.asarray(b[name]), bitwise))
    return Diff(tuple(rows), label_a, label_b, BITWISE_RULE if bitwise else EQUAL_RULE, notes)


def _values(source: object, only: str) -> tuple[Mapping[str, np.ndarray], str | None]:
    """Values to compare (read one at a time from a checkpoint) and the checkpoint's key format."""
    if isinstance(source, str | os.PathLike):
        checkpoint = open_checkpoint(source)
        kind = "object-based (TF2)" if checkpoint.object_based else "name-based (TF1)"
        return StoredValues(checkpoint, only), kind
    return {k: v for k, v in source.items() if k.startswith(only)}, None


def labels(a: object, b: object) -> tuple[str, str]:
    """Short names for two sources, with enough of each path to tell them apart."""
    if not isinstance(a, str | os.PathLike) or not isinstance(b, str | os.PathLike):
        return tuple(
            os.path.basename(os.fspath(s).rstrip("/")) or os.fspath(s)
            if isinstance(s, str | os.PathLike)
            else "live"
            for s in (a, b)
        )
    parts_a = os.path.normpath(os.path.abspath(a)).split(os.sep)
    parts_b = os.path.normpath(os.path.abspath(b)).split(os.sep)
    if parts_a == parts_b:
        return parts_a[-1], parts_b[-1]
    keep = 1
    while keep < min(len(parts_a), len(parts_b)) and parts_a[-keep:] == parts_b[-keep:]:
        keep += 1
    return "/".join(parts_a[-keep:]), "/".join(parts_b[-keep:])


def compare(
    a: str | os.PathLike[str] | Mapping[str, np.ndarray],
    b: str | os.PathLike[str] | Mapping[str, np.ndarray],
    only: str = "",
    label_a: str | None = None,
    label_b: str | None = None,
    bitwise: bool = False,
) -> Diff:
    """Diff two checkpoints (paths) or snapshots (name -> array), keeping the keys that start with `only`.

    Checkpoint values are read one at a time, so two large checkpoints never sit in memory together.
    """
    (values_a, format_a), (values_b, format_b) = _values(a, only), _values(b, only)
    notes = ()
    if format_a and format_b and format_a != format_b:
        notes = (
            f"A is {format_a}, B is {format_b}: keys are compared without TF2's "
            "'/.ATTRIBUTES/VARIABLE_VALUE', so TF1 'w' and TF2 'w/.ATTRIBUTES/VARIABLE_VALUE' "
            "count as one variable",
        )
    default_a, default_b = labels(a, b)
    try:
        return diff(values_a, values_b, label_a or default_a, label_b or default_b, bitwise, notes)
    finally:
        for values in (values_a, values_b):
            if isinstance(values, StoredValues):
                values.checkpoint.close()
