from ckptkit.lab.lab import LIVE, CheckpointLab
from ckptkit.lab.panel import CheckpointPanel

import os
import re
import time
from pathlib import Path

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
        f"ckpt-1 · step 6 · recorded loss {panel.lab.loss_of(panel.lab.checkpoints()[0]):.4g}"
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
    assert panel.call_text.splitlines() == [
        'lab.check_restore(f"{lab.manager.directory}/ckpt-1")  # ckptkit\'s own check; changes nothing',
        'lab.checkpoint.restore(f"{lab.manager.directory}/ckpt-1").assert_consumed()',
    ]
    assert "last call: lab.check_restore(" in panel.call.value and "\n" in panel.call.value  # one per line
    panel.compare_a.value, panel.compare_b.value = panel.lab.checkpoints()[0], LIVE
    panel.compare_button.click()
    assert panel.call_text == 'ckptkit.compare(f"{lab.manager.directory}/ckpt-1", lab.checkpoint)'
    panel.compare_a.value = LIVE
    panel.compare_button.click()  # A and B are both live: a wrong click runs no code
    assert panel.call_text == "" and panel.call.value == ""


def test_a_restore_click_runs_the_tensorflow_line_it_prints(panel, monkeypatch):
    import re

    import tensorflow as tf

    panel.train_button.click()
    panel.save_button.click()
    panel.train_button.click()
    calls, real = [], tf.train.Checkpoint.restore

    class Recorded:  # records each method the caller takes from the status (not its inner calls)
        def __init__(self, status):
            self.status = status

        def __getattr__(self, name):
            calls.append(name)
            return getattr(self.status, name)

    def restore(self, save_path, *args, **kwargs):
        calls.append(save_path)
        return Recorded(real(self, save_path, *args, **kwargs))

    monkeypatch.setattr(tf.train.Checkpoint, "restore", restore)
    panel.restore_button.click()
    assert panel.status_text.startswith("restored ckpt-1")
    shown = re.fullmatch(r"lab\.checkpoint\.restore\((.+)\)\.(\w+)\(\)", panel.call_text.splitlines()[-1])
    assert calls == [eval(shown[1], {"lab": panel.lab}), shown[2]]


def test_a_failed_restore_click_shows_the_call_and_changes_nothing(panel):
    panel.train_button.click()
    panel.save_button.click()
    panel.train_button.click()
    path = panel.restore_choice.value
    data = Path(path + ".data-00000-of-00001")
    damaged = bytearray(data.read_bytes())
    damaged[0] ^= 0xFF  # a value's bytes: TensorFlow finds it while restoring
    data.write_bytes(bytes(damaged))
    before = panel.table_text
    panel.restore_button.click()
    assert (
        panel.status_text.startswith("⚠ checkpoint") and "live variables left unchanged" in panel.status_text
    )
    assert panel.call_text.splitlines()[-1].endswith(".assert_consumed()") and panel.table_text == before


def test_a_training_run_in_the_background_locks_the_other_controls_until_it_ends(tmp_path):
    panel = CheckpointPanel(CheckpointLab.linear(seed=0, workdir=tmp_path / "lab"), background=True)
    panel.steps.value = panel.steps.max
    stopping = []
    panel.lab.predict = _slowed(panel.lab.predict, stopping)
    panel.train_button.click()
    assert panel.busy and panel.stop_button.disabled is False
    assert panel.status_text == "training 200 steps: Stop ends the run early" and panel.call_text == ""
    assert all(
        b.disabled for b in (panel.save_button, panel.restore_button, panel.compare_button, panel.steps)
    )
    panel.save_button.click()  # a disabled button still delivers a crafted click: refused in the kernel
    assert panel.status_text.startswith("⚠ a training run is going on") and panel.lab.checkpoints() == []
    assert panel.call_text == "" and panel.call.value == ""  # a refused click ran no call
    panel.train_button.click()
    assert panel.status_text.startswith("⚠ a training run is going on")
    stopping.append(True)
    panel.stop_button.click()
    panel.wait(30)
    assert not panel.busy and panel.stop_button.disabled and not panel.save_button.disabled
    assert re.fullmatch(r"stopped after (\d+) of 200 steps: step \1, loss .+", panel.status_text)
    assert panel.call_text.startswith("ckptkit.fit(")
    assert int(panel.lab.step) < 200 and len(panel.lab.history.run.steps) == int(panel.lab.step)


def test_a_save_before_any_training_restores(tmp_path):
    # The linear lab's SGD has no slots, so its unbuilt state is no reason to refuse a step-0 file.
    panel = CheckpointPanel(CheckpointLab.linear(seed=0, workdir=tmp_path / "lab"))
    panel.save_button.click()
    panel.restore_choice.value = panel.lab.checkpoints()[-1]
    panel.restore_button.click()
    assert panel.status_text.startswith("restored ckpt-1: step 0"), panel.status_text


def test_a_refused_click_shows_no_call_not_the_one_before(tmp_path):
    panel = CheckpointPanel(CheckpointLab.linear(seed=0, workdir=tmp_path / "lab"), background=True)
    panel.save_button.click()
    assert panel.call_text == "lab.manager.save(checkpoint_number=1)"
    panel.stop_button.click()  # nothing is running: refused, so no call, not the save's line again
    assert panel.status_text.startswith("⚠ nothing is running") and panel.call_text == ""
    assert panel.call.value == ""


def _slowed(predict, flag):
    """The model, made to wait at each step until the test has clicked (so Stop lands mid-run)."""

    def slow(x):
        if not flag:
            time.sleep(0.01)
        return predict(x)

    return slow


def test_the_lab_refuses_what_the_sliders_cannot_stop_a_page_from_sending(panel):
    panel.steps.max = 10**6  # a crafted widget message can move a slider's bounds, then its value
    panel.steps.value = 10**6
    panel.train_button.click()
    assert (
        panel.status_text == "⚠ this lab trains at most 200 steps per run, got 1000000: train in shorter runs"
    )
    assert int(panel.lab.step) == 0
    rate = float(panel.lab.optimizer.learning_rate)
    panel.rate.max = 9
    panel.rate.value = 1e6
    assert panel.status_text.startswith("⚠ the learning rate must be above 0 and at most 10")
    assert float(panel.lab.optimizer.learning_rate) == rate


def test_the_learning_rate_control_sets_the_optimizer_and_a_restore_brings_it_back(panel):
    panel.save_button.click()
    panel.rate.value = 1.0
    assert panel.call_text == "lab.optimizer.learning_rate.assign(1)"
    assert float(panel.lab.optimizer.learning_rate) == 1.0
    panel.restore_button.click()
    assert panel.rate.value == pytest.approx(0.01) and panel.call_text.endswith(".assert_consumed()")


def test_after_a_save_compare_is_live_against_the_new_checkpoint(panel):
    panel.compare_button.click()
    assert panel.status_text.startswith("⚠ A and B are both live")
    for _ in range(2):
        panel.train_button.click()
        panel.save_button.click()
        assert (panel.compare_a.value, panel.compare_b.value) == (LIVE, panel.lab.checkpoints()[0])
    panel.compare_button.click()
    assert panel.status_text.startswith("live vs ckpt-2: ")


def test_delete_removes_one_checkpoint_and_its_state_file_line(panel):
    import tensorflow as tf

    for _ in range(3):
        panel.save_button.click()
    third = panel.lab.checkpoints()[0]
    panel.restore_choice.value = third
    panel.delete_button.click()
    assert panel.status_text.startswith("deleted ckpt-3") and panel.call_text.startswith("lab.delete(")
    assert not os.path.exists(third + ".index") and not os.path.exists(third + ".data-00000-of-00001")
    state = tf.train.get_checkpoint_state(panel.lab.workdir)
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == ["ckpt-1", "ckpt-2"]
    assert os.path.basename(state.model_checkpoint_path) == "ckpt-2"
    assert [label.split(" ·")[0] for label, _ in panel.restore_choice.options] == ["ckpt-2", "ckpt-1"]
    panel.save_button.click()  # numbering goes on past the deleted one: the history still names it
    assert panel.status_text.startswith("saved ckpt-4")
    panel.restore_choice.options = [("not the lab's", str(panel.lab.workdir / "ckpt-99"))]
    panel.delete_button.click()
    assert panel.status_text == "⚠ ckpt-99 is not a checkpoint this lab saved: ckptkit deletes only its own"


def test_a_restore_the_check_refuses_shows_only_the_check(panel, tmp_path):
    other = CheckpointLab.linear(seed=0, workdir=tmp_path / "other").save()
    panel.restore_choice.options = [("another model's", other)]
    panel.restore_choice.value = other
    panel.restore_button.click()
    assert panel.status_text.startswith("⚠") and "\n" not in panel.status_text
    assert panel.call_text == "lab.check_restore(" + repr(other) + ")  # ckptkit's own check; changes nothing"
