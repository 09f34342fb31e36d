from ckptkit.files.diff import diff
from ckptkit.lab.plots import PlotFigure, branch_label, plot_diff, plot_history
from ckptkit.runs.history import History

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from IPython.core.formatters import DisplayFormatter

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def _restored_twice() -> History:
    h = History()
    for step in range(1, 21):
        h.record(step, 1.0 / step)
        if step in (10, 20):
            h.mark_save(f"lab/ckpt-{step // 10}", step)
    h.mark_restore("lab/ckpt-1", 10)
    for step in range(11, 16):
        h.record(step, 1.0 / step)
    h.mark_restore("lab/ckpt-1", 10)
    h.record(11, 0.5)
    return h


def test_a_figure_displays_as_a_png_in_a_plain_kernel():
    """IPython's formatters, with no pyplot imported, give an image beside the stable text repr."""
    fig = plot_history(_restored_twice())
    assert isinstance(fig, PlotFigure)
    bundle, _ = DisplayFormatter().format(fig)
    assert bundle["image/png"][:4] == b"\x89PNG"
    assert re.fullmatch(r"<Figure size 840x360 with 1 Axes>", bundle["text/plain"])
    d = diff({"a": np.ones(2), "b": np.zeros(1)}, {"a": np.zeros(2)})
    assert "image/png" in DisplayFormatter().format(plot_diff(d))[0]
    assert len(plot_diff(d).axes[0].patches) == 2


def test_branches_are_named_by_their_parent_checkpoint():
    h = _restored_twice()
    ax = plot_history(h).axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "first run",
        "from ckpt-1 at step 10",
        "from ckpt-1 at step 10 (2)",
        "save",
        "branch starts here",
    ]
    assert not ax.texts  # no floating "restore" labels to overlap
    branch = next(line for line in ax.get_lines() if line.get_label() == "from ckpt-1 at step 10")
    assert branch.get_xdata().tolist()[:2] == [10, 11]  # a short link from the restored step


def test_named_runs_keep_their_name_and_say_where_they_grew_from():
    h = History("pretrain")
    for step in range(1, 4):
        h.record(step, 1.0 / step)
    h.mark_save("pre/pretrain-3", 3)
    h.branch("finetune", checkpoint="pre/pretrain-3")
    h.record(4, 0.9)
    assert branch_label(h, h.runs["pretrain"]) == "pretrain"
    assert branch_label(h, h.runs["finetune"]) == "finetune\nfrom pretrain-3 at step 3"
    ax = plot_history(h, boundaries={"fine-tune": 3}).axes[0]
    assert [t.get_text() for t in ax.texts] == [" fine-tune"]
    h.branch(at_step=4)
    assert branch_label(h, h.run) == "from finetune at step 4"


def test_a_diverged_run_is_clipped_and_marked():
    h = History()
    for step in range(1, 6):
        h.record(step, 1.0 / step)
    h.mark_save("c-1", 5)
    h.mark_restore("c-1", 5)
    for step, loss in zip(range(6, 10), [0.3, 40.0, 1e12, 1e24], strict=True):
        h.record(step, loss)
    ax = plot_history(h).axes[0]
    _low, high = ax.get_ylim()
    assert high < 100  # the axis stays on the sane losses, not 10^24
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "diverged (loss > 10)" in legend
    marks = next(c for c in ax.collections if c.get_label().startswith("diverged"))
    assert marks.get_offsets()[:, 0].tolist() == [7, 8, 9]


def test_a_history_on_the_scale_draws_no_diverged_mark():
    ax = plot_history(_restored_twice()).axes[0]
    assert not [c for c in ax.collections if c.get_label().startswith("diverged")]


def test_a_redraw_stays_cheap():
    """Not a budget (the benchmark holds the click budget); a guard against a slow redraw."""
    h = _restored_twice()
    plot_history(h)
    start = time.perf_counter()
    plot_history(h).savefig(__import__("io").BytesIO(), format="png", dpi=72)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stored_figure_is_text_only(notebook):
    """A stored output whose text is a figure's repr must carry the image too."""
    for i, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(data.get("text/plain", ""))
            if re.search(r"<\w*Figure size \d+x\d+ with \d+ Axes>", text):
                assert "image/png" in data, f"cell {i} stores a figure as text only"
