"""Plain-text output shared by the CLI, the reports and the panel: aligned tables and short name lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["first_few", "text_table"]


def first_few(names: Sequence[str], limit: int, more: str = ", ...") -> str:
    """The first `limit` names joined by commas, then `more` if any were left out."""
    return ", ".join(names[:limit]) + (more if len(names) > limit else "")


def text_table(
    rows: Sequence[Sequence[object]],
    *,
    right: frozenset[int] | set[int] = frozenset(),
    widths: Mapping[int, int] | None = None,
) -> list[str]:
    """`rows` (the first is the header) as lines of columns two spaces apart, each as wide as its widest cell.

    Columns in `right` are right-aligned; `widths` gives columns a minimum width. Trailing spaces
    are dropped, so the last column is never padded.
    """
    cells = [[str(cell) for cell in row] for row in rows]
    count = max(len(row) for row in cells)
    sizes = [
        max([len(row[i]) for row in cells if i < len(row)] + [(widths or {}).get(i, 0)]) for i in range(count)
    ]
    return [
        "  ".join(
            cell.rjust(sizes[i]) if i in right else cell.ljust(sizes[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in cells
    ]
