"""Notebook 08's exercise check: the reference passes; cheats, wrong answers and placeholders get a hint."""

from __future__ import annotations

from ckptkit.exercises.nb08 import check_restore_best

import math
import re
import tempfile
from pathlib import Path

import pytest

from helpers import spells_out

# Calls the reference solution makes: no ❌ may spell one of them out.
SOLUTION_CALLS = ("lab.restore(", "lab.checkpoints()", "lab.loss()", "min(", "key=")


def _measured(lab, paths, load):
    """The loss of each path's values, each put into the lab by `load(path)` first."""
    losses = {}
    for path in paths:
        load(path)
        losses[path] = lab.loss()
    return losses


def _finite_best(losses):
    """The path whose loss is lowest among the finite ones."""
    return min((p for p in losses if math.isfinite(losses[p])), key=losses.get)


def _quietly(lab):
    """A load straight into the lab's checkpoint: the lab's history never hears of it."""
    return lambda path: lab.checkpoint.read(path).expect_partial()


def restore_best(lab):
    """The reference: restore every checkpoint on disk through the lab, measure its loss, end on the best."""
    lab.restore(_finite_best(_measured(lab, lab.checkpoints(), lab.restore)))


def measure_quietly(lab):
    """Also right: measure each file's values behind the lab's back, restore the best through it."""
    lab.restore(_finite_best(_measured(lab, lab.checkpoints(), _quietly(lab))))


def blind_to_nan(lab):
    """Every value measured, but a loss that is nan compared as if it were a number."""
    losses = _measured(lab, lab.checkpoints(), lab.restore)
    lab.restore(min(losses, key=losses.get))


def blind_oldest_first(lab):
    """As `blind_to_nan`, measured oldest first, so the newest save's nan comes last and is never picked."""
    losses = _measured(lab, lab.checkpoints()[::-1], lab.restore)
    lab.restore(min(losses, key=losses.get))


def lowest_recorded(lab):
    """The loss the lab recorded at each save: the loss before that save's last update."""
    lab.restore(min(lab.checkpoints(), key=lab.loss_of))


def newest(lab):
    lab.restore(lab.checkpoints()[0])


def oldest(lab):
    lab.restore(lab.checkpoints()[-1])


def latest_step(lab):
    lab.restore(max(lab.checkpoints(), key=lab.step_of))


def from_the_history(lab):
    """Every save the history recorded, deleted files included, measured."""
    lab.restore(_finite_best(_measured(lab, [event.path for event in lab.history.saves()], lab.restore)))


def behind_the_labs_back(lab):
    """The right file, restored straight into the lab's checkpoint: the lab's history never hears of it."""
    _quietly(lab)(_finite_best(_measured(lab, lab.checkpoints(), _quietly(lab))))


def placeholder(lab): ...


def not_implemented(lab):
    raise NotImplementedError


def restore_then_save(lab):
    """Right, then one more save: the lab's save_counter moves, its values stay the best file's."""
    restore_best(lab)
    lab.save()


def test_right_answers():
    for answer in (restore_best, measure_quietly, restore_then_save):
        feedback = check_restore_best(answer)
        assert feedback, (answer.__name__, feedback.message)
        assert "whose values fit best" in feedback.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (newest, "never fits best"),
        (oldest, "the lab holds ckpt-2, whose values give nan"),
        (blind_to_nan, "never fits best"),
        (blind_oldest_first, "never fits best"),
        (latest_step, "the lab holds ckpt-"),  # the bad step's save or the diverged one: the draw decides
        (from_the_history, "files are gone"),
        (behind_the_labs_back, "started no branch"),
        (lowest_recorded, "comes before its step's update"),
        (placeholder, "still the placeholder"),
        (not_implemented, "still the placeholder"),
        (lambda lab: lab.restore("ckpt-99"), "files are gone"),
        (lambda lab: lab.train(-1), "raised"),
    ],
)
def test_wrong_answers(answer, words):
    feedback = check_restore_best(answer)
    assert not feedback and words in feedback.message, feedback.message
    assert "\n" not in feedback.message
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message


def test_a_wrong_pick_is_told_which_checkpoint_fits_better():
    # The lowest recorded loss is the loss of the values one step earlier: the hint names whose values
    # give the lower loss, so the two numbers it prints read as two checkpoints, not one.
    message = check_restore_best(lowest_recorded).message
    found = re.search(r"the lab holds (ckpt-\d+),.* but (ckpt-\d+)'s values give a lower loss", message)
    assert found and found[1] != found[2], message


def test_a_right_answer_passes_where_the_temporary_folder_is_a_link(tmp_path, monkeypatch):
    # macOS's temporary folder is a link (/var -> /private/var): paths an answer resolves name the same files
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "link"))

    def resolved(lab):
        lab.restore(
            _finite_best(_measured(lab, [str(Path(p).resolve()) for p in lab.checkpoints()], lab.restore))
        )

    assert check_restore_best(resolved)


def test_not_a_function():
    assert "must be a function" in check_restore_best(None).message
