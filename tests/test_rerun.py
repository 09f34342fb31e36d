"""Learners re-run cells: every notebook cell runs twice in a row, and Run All runs again, without raising."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# Each notebook runs three times here (~3 min of CPU in all): `pytest --nbval` leaves this file out
# (pyproject's addopts) and .ci/run runs it with the browser tests, a step of its own, spread over both
# processes: `pytest -m "rerun or browser" --dist load`.
pytestmark = pytest.mark.rerun


def _error(client: NotebookClient, cell: dict, index: int) -> str | None:
    """Run one cell; return its error's last line, or None if it ran cleanly."""
    try:
        client.execute_cell(cell, index)
    except CellExecutionError as err:
        return str(err).strip().splitlines()[-1]
    return None


# One test per notebook, each in a copy of the notebooks folder (below), so no two runs share a workspace.
@pytest.mark.parametrize("name", [p.name for p in sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))])
def test_every_cell_survives_running_twice(name, tmp_path):
    """Each cell runs, then at once again, as a learner pressing Shift+Enter twice; then Run All again.

    The second run of a cell must not raise. A later cell's first run may fail an assertion, since
    the state it checks was changed by the re-runs before it (a step trained twice), but it must not
    crash in any other way. The final Run All in the same kernel (a learner pressing Run All twice)
    starts from the setup cell, so every cell must then run cleanly, assertions included.
    """
    # In a copy of the repository's files, so this run's workspace never meets nbval's run of the
    # same notebook on the other xdist worker.
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns("workspace", ".ipynb_checkpoints"))
    shutil.copytree(NOTEBOOKS.parent / "binder", tmp_path / "binder")  # the start page compares the pins
    shutil.copy(NOTEBOOKS.parent / "requirements.txt", tmp_path)
    notebook = nbformat.read(folder / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    failures = []
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            first = _error(client, cell, index)
            if first is not None:
                if "AssertionError" not in first:
                    failures.append(f"cell {index}, after the re-runs above it: {first}")
                continue
            again = _error(client, cell, index)
            if again is not None:
                failures.append(f"cell {index}, run twice: {again}")
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and (error := _error(client, cell, index)) is not None:
                failures.append(f"cell {index}, in Run All again: {error}")
    assert not failures, f"{name}: cells that fail when run again:\n" + "\n".join(failures)
