"""Notebook 08 runs with each model it offers, not only the one its committed outputs show."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "08_playground.ipynb"


# "your own" is a Sequential: Keras 3 stores its weights under optimizer/_trainable_variables/N, the
# first path a breadth-first walk finds, and the panel must still show them as the model's.
@pytest.mark.parametrize("choice", ["linear", "your own"])
def test_every_choice_runs_the_whole_playground(choice, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the notebook writes under ./workspace/
    cells = [c.source for c in nbformat.read(NOTEBOOK, 4).cells if c.cell_type == "code"]
    picked = [i for i, source in enumerate(cells) if source.startswith('choice = "keras"')]
    assert len(picked) == 1
    cells[picked[0]] = cells[picked[0]].replace('choice = "keras"', f"choice = {choice!r}", 1)
    namespace: dict = {}
    for source in cells:
        exec(compile(source, str(NOTEBOOK), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "is gone from disk" in printed and "learning rate restored: True" in printed
    assert namespace["lab"].history.current != "run 1"  # the restores above started branches
