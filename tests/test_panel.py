from ckptkit.lab.lab import LIVE, CheckpointLab
from ckptkit.lab.panel import CheckpointPanel

import os
import time

import pytest


@pytest.fixture
def panel(tmp_path):
    return CheckpointPanel(CheckpointLab.keras(seed=0, workdir=tmp_path / "lab"), title="test")


def test_clicks_drive_the_lab(panel):
    panel.steps.value = 6
    panel.train_button.click()
    assert panel.status_text == f"trained 6 steps: step 6, loss {panel.lab.history.run.losses[-1]:.4g}"
    assert panel.progress.value == panel.progress.max == 6
    panel.save_button.click()
    assert panel.status_text == "saved ckpt-1 at step 6"
    assert [label for label, _ in panel.restore_choice.options] == [
        f"ckpt-1 · step 6 · loss {panel.lab.loss_of(panel.lab.checkpoints()[0]):.4g}"
    ]
    panel.train_button.click()
    panel.restore_button.click()
    assert panel.status_text.startswith("restored ckpt-1: step 6")
    assert int(panel.lab.step) == 6
    panel.train_button.click()
    assert panel.branches.value == "branches: run 1, run 2"
    assert "model/dense1/_kernel" in panel.table_text and "change since save" in panel.table_text


def test_compare_renders_a_diff_table(panel):
    panel.train_button.click()
    panel.save_button.click()
    panel.compare_a.value, panel.compare_b.value = panel.lab.checkpoints()[0], LIVE
    panel.compare_button.click()
    assert panel.status_text == "ckpt-1 vs live: 16 unchanged, 0 changed"
    assert panel.table_text.startswith("ckpt-1 vs live") and "optimizer/_variables/9" in panel.table_text
    assert "ckpt-1 vs live" in panel.table.value


@pytest.mark.parametrize("mistake", ["restore_nothing", "compare_same", "deleted_file", "diverged"])
def test_every_wrong_action_is_a_status_line(panel, mistake):
    if mistake == "restore_nothing":
        panel.restore_button.click()
        expected = "nothing to restore yet"
    elif mistake == "compare_same":
        panel.compare_button.click()
        expected = "A and B are both live"
    elif mistake == "deleted_file":
        panel.save_button.click()
        os.remove(panel.restore_choice.value + ".index")
        panel.restore_button.click()
        expected = "gone from disk"
    else:
        panel.save_button.click()
        panel.lab.optimizer.learning_rate.assign(1e6)
        panel.steps.value = 50
        panel.train_button.click()
        expected = "the loss became"
    assert panel.status_text.startswith("⚠") and expected in panel.status_text
    # still usable afterwards (a diverged model needs its checkpoint back first)
    panel.lab.optimizer.learning_rate.assign(0.01)
    if mistake == "diverged":
        panel.restore_button.click()
        assert panel.status_text.startswith("restored ckpt-1")
    panel.steps.value = 2
    panel.train_button.click()
    assert panel.status_text.startswith("trained 2 steps")


def test_plot_redraws_only_when_history_changes(panel):
    panel.train_button.click()
    drawn = panel.plot.value
    assert bytes(drawn[:4]) == b"\x89PNG"
    panel.compare_button.click()
    assert panel.plot.value is drawn
    panel.save_button.click()
    assert panel.plot.value != drawn


def test_display_has_a_stable_text_fallback(panel):
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == "CheckpointPanel('test')"
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_clicks_answer_quickly(panel):
    """Not a budget (the benchmark holds that); a guard against a click becoming seconds slow."""
    panel.train_button.click()
    start = time.perf_counter()
    panel.save_button.click()
    assert time.perf_counter() - start < 2.0


def test_an_unexpected_error_keeps_its_traceback(panel):
    def broken(*args, **kwargs):
        raise RuntimeError("the learner's layer failed")

    panel.lab.predict = broken
    panel.train_button.click()
    assert panel.status_text.startswith("⚠ unexpected RuntimeError: the learner's layer failed")
    assert "panel.last_traceback" in panel.status_text
    assert isinstance(panel.last_error, RuntimeError)
    assert "Traceback" in panel.last_traceback and "in broken" in panel.last_traceback


def test_expected_errors_stay_one_line_and_keep_no_traceback(panel):
    panel.restore_choice.options = [("gone", "/nowhere/ckpt-9")]
    panel.restore_button.click()
    assert panel.status_text.startswith("⚠") and "\n" not in panel.status_text
    assert panel.last_error is None and panel.last_traceback == ""


def test_each_click_shows_the_call_it_made(panel):
    panel.steps.value = 3
    panel.train_button.click()
    assert panel.call_text.startswith("ckptkit.fit(") and ", 3, step=" in panel.call_text
    assert "last call: ckptkit.fit(" in panel.call.value
    panel.save_button.click()
    assert panel.call_text == "lab.manager.save(checkpoint_number=1)"
    panel.restore_button.click()
    assert panel.call_text == 'lab.checkpoint.restore(f"{lab.manager.directory}/ckpt-1").assert_consumed()'
    panel.compare_a.value, panel.compare_b.value = panel.lab.checkpoints()[0], LIVE
    panel.compare_button.click()
    assert panel.call_text == 'ckptkit.compare(f"{lab.manager.directory}/ckpt-1", lab.checkpoint)'
    panel.compare_a.value = LIVE
    panel.compare_button.click()  # A and B are both live: a wrong click runs no code
    assert panel.call_text == "" and panel.call.value == ""


def test_demo_clicks_through_a_branch_and_saves_under_a_new_number(panel, capsys):
    panel.demo(steps=4)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == [
        "Train",
        "Save",
        "Train",
        "Save",
        "Restore",
        "Train",
        "Compare",
        "Save",
    ]
    assert "changed: save_counter" in lines[-3]
    assert lines[-1].strip() == "lab.manager.save(checkpoint_number=3)"
    assert [os.path.basename(p) for p in panel.lab.checkpoints()] == ["ckpt-3", "ckpt-2", "ckpt-1"]
