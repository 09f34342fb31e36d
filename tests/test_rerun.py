"""Learners re-run cells: every notebook cell runs twice in a row without raising."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("[0-9]*.ipynb")))
def test_every_cell_survives_running_twice(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    failures = []
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, index)  # the first run must pass: nbval checks it too
            try:
                client.execute_cell(cell, index)  # at once again, as a learner pressing Shift+Enter twice
            except CellExecutionError as err:
                failures.append(f"cell {index}: {str(err).strip().splitlines()[-1]}")
    assert not failures, f"{name}: cells that fail when run again:\n" + "\n".join(failures)
