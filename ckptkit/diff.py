"""Per-variable comparison of two snapshots: unchanged, changed, only in A, only in B."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Change", "Diff", "diff"]

UNCHANGED, CHANGED, RESHAPED, ONLY_A, ONLY_B = (
    "unchanged",
    "changed",
    "shape changed",
    "only in A",
    "only in B",
)


@dataclass(frozen=True)
class Change:
    """How one variable differs between snapshot A and snapshot B."""

    name: str
    status: str
    shape_a: tuple[int, ...] | None
    shape_b: tuple[int, ...] | None
    max_abs: float | None = None
    mean_abs: float | None = None


def _compare(name: str, a: np.ndarray, b: np.ndarray) -> Change:
    if a.shape != b.shape:
        return Change(name, RESHAPED, a.shape, b.shape)
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":  # strings, e.g. iterator state
        return Change(name, UNCHANGED if np.array_equal(a, b) else CHANGED, a.shape, b.shape)
    gap = np.abs(a.astype(np.float64) - b.astype(np.float64))
    # Bitwise equality decides "unchanged": a tolerance would hide the tiny drifts that matter here.
    same = np.array_equal(a, b)
    max_abs = float(gap.max()) if gap.size else 0.0
    mean_abs = float(gap.mean()) if gap.size else 0.0
    return Change(name, UNCHANGED if same else CHANGED, a.shape, b.shape, max_abs, mean_abs)


@dataclass(frozen=True)
class Diff:
    """The changes between two snapshots, one row per variable, sorted by name."""

    rows: tuple[Change, ...]
    label_a: str = "A"
    label_b: str = "B"

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
        counts = {s: len(self.names(s)) for s in (UNCHANGED, CHANGED, RESHAPED, ONLY_A, ONLY_B)}
        parts = [f"{n} {s}" for s, n in counts.items() if n or s in (UNCHANGED, CHANGED)]
        return f"{self.label_a} vs {self.label_b}: " + ", ".join(parts)

    def table(self) -> str:
        """A fixed-width table: name, status, shape, max and mean absolute change (4 significant digits)."""
        width = max([len(r.name) for r in self.rows] + [8])
        lines = [f"{'variable':<{width}}  {'status':<13}  {'shape':<10}  {'max |Δ|':>10}  {'mean |Δ|':>10}"]
        for r in self.rows:
            shape = r.shape_a if r.shape_a is not None else r.shape_b
            shape_text = f"{r.shape_a}->{r.shape_b}" if r.status == RESHAPED else str(shape)
            mx = "" if r.max_abs is None else f"{r.max_abs:.4g}"
            mn = "" if r.mean_abs is None else f"{r.mean_abs:.4g}"
            lines.append(f"{r.name:<{width}}  {r.status:<13}  {shape_text:<10}  {mx:>10}  {mn:>10}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """The summary line then the table, so a notebook cell shows both."""
        return self.summary() + "\n" + self.table()


def diff(
    a: Mapping[str, np.ndarray],
    b: Mapping[str, np.ndarray],
    label_a: str = "A",
    label_b: str = "B",
) -> Diff:
    """Compare two snapshots variable by variable."""
    rows = []
    for name in sorted(set(a) | set(b)):
        if name not in b:
            rows.append(Change(name, ONLY_A, np.shape(a[name]), None))
        elif name not in a:
            rows.append(Change(name, ONLY_B, None, np.shape(b[name])))
        else:
            rows.append(_compare(name, np.asarray(a[name]), np.asarray(b[name])))
    return Diff(tuple(rows), label_a, label_b)
