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
    strip: bool = True,
) -> list[str]:
    """`rows` (the first is the header) as lines of columns two spaces apart, each as wide as its widest cell.

    Columns in `right` are right-aligned (always padded); `widths` gives columns a minimum width. A
    row's last cell, if left-aligned, is not padded, so rows may have a ragged last column; `strip`
    drops trailing spaces (an empty last cell's separator among them).
    """
    cells = [[str(cell) for cell in row] for row in rows]
    count = max(len(row) for row in cells)
    minimum = widths or {}
    sizes = [max([len(row[i]) for row in cells if i < len(row)] + [minimum.get(i, 0)]) for i in range(count)]

    def line(row: list[str]) -> str:
        last = len(row) - 1
        text = "  ".join(
            cell.rjust(sizes[i]) if i in right else cell if i == last else cell.ljust(sizes[i])
            for i, cell in enumerate(row)
        )
        return text.rstrip() if strip else text

    return [line(row) for row in cells]
