"""Committed notebooks show their panels without a kernel: each widget output's state is in the file."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
REFERENCE = re.compile(r"^IPY_MODEL_([0-9a-f]+)$")
# A notebook that builds a panel or the app must show it, with its plot, when read on GitHub or nbviewer.
PANEL_CODE = re.compile(r"\b(CheckpointPanel|CheckpointApp)\(")


def _notebooks_with_panels() -> list[Path]:
    found = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if any(c.cell_type == "code" and PANEL_CODE.search(c.source) for c in nb.cells):
            found.append(path)
    return found


def _references(value: object) -> list[str]:
    """Model ids a widget's state points at (`IPY_MODEL_<id>`, also inside lists and dicts)."""
    if isinstance(value, str):
        match = REFERENCE.match(value)
        return [match.group(1)] if match else []
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _references(item)]
    return []


def missing_state(nb: nbformat.NotebookNode) -> list[str]:
    """Every reason a renderer without a kernel could not draw this notebook's widget outputs and plots."""
    views = [
        output["data"][VIEW]["model_id"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if VIEW in output.get("data", {})
    ]
    state = nb.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    problems = []
    for root in views:
        seen, todo, images = set(), [root], 0
        while todo:
            model_id = todo.pop()
            if model_id in seen:
                continue
            seen.add(model_id)
            model = state.get(model_id)
            if model is None:
                problems.append(f"model {model_id} (reached from output {root}) has no stored state")
                continue
            todo += _references(model["state"])
            if model["model_name"] == "ImageModel":
                images += 1
                problems += _image_problems(model_id, model)
        if images == 0 and root in state:
            problems.append(f"output {root} shows no image: the loss plot is missing")
    return problems


def _image_problems(model_id: str, model: dict) -> list[str]:
    buffers = {tuple(b["path"]): b for b in model.get("buffers", [])}
    stored = buffers.get(("value",))
    if stored is None:
        return [f"image {model_id} has no stored picture"]
    data = base64.b64decode(stored["data"]) if stored.get("encoding") == "base64" else b""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return [f"image {model_id} does not hold a PNG"]
    return []


def test_the_panel_notebooks_are_found():
    names = {p.name for p in _notebooks_with_panels()}
    assert {"01_linear_model.ipynb", "08_playground.ipynb", "app.ipynb"} <= names


@pytest.mark.parametrize("path", _notebooks_with_panels(), ids=lambda p: p.name)
def test_every_panel_renders_without_a_kernel(path):
    nb = nbformat.read(path, as_version=4)
    views = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if VIEW in o.get("data", {})]
    assert views, f"{path.name} builds a panel but its committed outputs show none"
    assert nb.metadata.get("widgets", {}).get(STATE, {}).get("version_major") == 2
    assert missing_state(nb) == []


def test_the_check_finds_what_a_renderer_would_miss():
    nb = nbformat.read(NOTEBOOKS / "08_playground.ipynb", as_version=4)
    state = nb.metadata["widgets"][STATE]["state"]
    assert missing_state(nb) == []
    image = next(k for k, m in state.items() if m["model_name"] == "ImageModel")
    picture = state[image].pop("buffers")
    assert missing_state(nb) == [f"image {image} has no stored picture"]
    state[image]["buffers"] = picture
    child = next(k for k, m in state.items() if m["model_name"] == "HTMLModel")
    del state[child]
    assert [p.split(" (")[0] for p in missing_state(nb)] == [f"model {child}"]
    del nb.metadata["widgets"]
    assert len(missing_state(nb)) == 1 and "has no stored state" in missing_state(nb)[0]
