"""The exercise check of notebook 08_playground.ipynb: restore, through the lab, the checkpoint whose values
fit best."""

from __future__ import annotations

from ckptkit.errors import CheckpointNotFoundError, DivergedError
from ckptkit.exercises.feedback import Feedback, placeholder_or_error
from ckptkit.files.reader import VALUE_SUFFIX
from ckptkit.lab.lab import CheckpointLab
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import live_variables

import contextlib
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_restore_best"]

SECTIONS = "sections 'Restore and branch' and 'Survive a checkpoint deleted behind the panel's back'"


def _trained_and_saved(lab: CheckpointLab, steps: int, losses: dict[str, float]) -> str:
    """Train `steps` steps, then save, noting the loss of the saved values (the check's own measure)."""
    with contextlib.suppress(DivergedError):  # a diverging run stops, its values not finite, and is saved
        lab.train(steps)
    path = lab.save()
    losses[path] = lab.loss()
    return path


def _keras_lab(root: Path, rng: np.random.Generator) -> tuple[CheckpointLab, dict[str, float], str]:
    """A Keras lab: a diverged save oldest on disk, 2 to 4 ever better saves, one bad step then a save, a
    branch, a diverged save newest."""
    lab, losses = CheckpointLab.keras(seed=4, workdir=root / "keras"), {}
    start = _trained_and_saved(lab, 0, losses)
    lab.optimizer.learning_rate.assign(1e6)  # diverges: the oldest checkpoint left on disk gives nan
    _trained_and_saved(lab, 50, losses)
    lab.restore(start)  # back to the start, learning rate too; then start's files go (the check's own)
    _deleted(start, losses)
    first = _trained_and_saved(lab, 5, losses)
    for _ in range(rng.integers(1, 4)):  # by step 20 at most: each last update lowered the loss
        _trained_and_saved(lab, 5, losses)
    # One step at a far too large rate: the lab records the loss before it (the lowest it ever recorded),
    # and saves the values after it (far worse).
    lab.optimizer.learning_rate.assign(0.3)
    _trained_and_saved(lab, 1, losses)
    lab.restore(first)  # brings the learning rate back too
    _trained_and_saved(lab, 2, losses)
    lab.optimizer.learning_rate.assign(1e6)  # diverges: the newest checkpoint's values give nan
    _trained_and_saved(lab, 50, losses)
    return lab, losses, "a Keras lab with a branch, a save right after one bad step and two diverged saves"


def _linear_lab(root: Path, rng: np.random.Generator) -> tuple[CheckpointLab, dict[str, float], str]:
    """A linear lab whose best checkpoint was deleted from disk before worse ones were saved."""
    lab, losses = CheckpointLab.linear(seed=2, workdir=root / "linear"), {}
    for _ in range(rng.integers(1, 3)):
        _trained_and_saved(lab, 10, losses)
    _deleted(_trained_and_saved(lab, 40, losses), losses)
    lab.optimizer.learning_rate.assign(6.0)  # far too large: the loss climbs by orders of magnitude
    _trained_and_saved(lab, 4, losses)
    return lab, losses, "a linear lab whose best checkpoint was deleted from disk"


def _deleted(path: str, losses: dict[str, float]) -> None:
    """Delete the files of `path`, a checkpoint the check saved, and forget its loss."""
    for file in Path(path).parent.glob(Path(path).name + ".*"):
        file.unlink()
    del losses[path]


def _holds(lab: CheckpointLab, path: str) -> bool:
    """True when every value the lab's checkpoint tracks, save_counter aside, equals what `path` stores."""
    # save_counter counts saves, not fit: a save right after a restore holds the same values under another.
    reader = tf.train.load_checkpoint(path)
    return all(
        np.array_equal(var.numpy(), reader.get_tensor(name + VALUE_SUFFIX), equal_nan=True)
        for name, var in live_variables(lab.checkpoint)
        if name != "save_counter"
    )


def _held(lab: CheckpointLab, losses: dict[str, float]) -> tuple[str, str]:
    """What the lab holds after a wrong answer, and the advice that fits how an answer may have chosen it."""
    held = [p for p in losses if _holds(lab, p)]
    if not held:
        return "the values of no checkpoint on disk", "restore one of the lab's checkpoints"
    name, recorded = os.path.basename(held[0]), lab.loss_of(held[0])
    if not math.isfinite(losses[held[0]]):
        return (
            f"{name}, whose values give {losses[held[0]]}",
            "a loss that is not a finite number never fits best",
        )
    if recorded == min(r for p in losses if math.isfinite(r := lab.loss_of(p))):  # the lab's record chose it
        return (
            f"{name}, saved with the lowest recorded loss, {recorded:.4g}, though its values give "
            f"{losses[held[0]]:.4g}",
            "a recorded loss comes before its step's update, so measure each checkpoint's values",
        )
    return f"{name}, whose values give {losses[held[0]]:.4g}", "compare the losses of values, not ages"


def _judge(restore_best: Callable, lab: CheckpointLab, losses: dict[str, float], what: str) -> Feedback | str:
    """Run `restore_best` on one scripted lab; the checkpoint it rightly restored, or a verdict."""
    best = min((p for p in losses if math.isfinite(losses[p])), key=losses.get)
    events = len(lab.history.events)
    before = {name: var.numpy().copy() for name, var in live_variables(lab.checkpoint)}
    try:
        restore_best(lab)
    except CheckpointNotFoundError:
        return Feedback(
            False,
            f"in {what}, restore_best tried a checkpoint whose files are gone: choose among the "
            f"checkpoints still on disk ({SECTIONS})",
        )
    except Exception as err:
        return placeholder_or_error("restore_best(lab)", err)
    now = {name: var.numpy() for name, var in live_variables(lab.checkpoint)}
    unchanged = all(np.array_equal(now[k], before[k], equal_nan=True) for k in before if k != "save_counter")
    if unchanged and len(lab.history.events) == events:  # no value moved, no restore recorded
        return placeholder_or_error("restore_best", None)
    name = os.path.basename(best)
    if not _holds(lab, best):  # the best is not named: the labs differ from run to run, so must answers
        held, advice = _held(lab, losses)
        return Feedback(
            False,
            f"in {what}, the lab holds {held}, but {name}'s values give a lower loss, {losses[best]:.4g}: "
            f"{advice} ({SECTIONS})",
        )
    if os.path.realpath(str(lab.history.run.start_checkpoint)) != os.path.realpath(best):  # links resolved
        return Feedback(
            False,
            f"in {what}, the values are {name}'s, but the lab's history started no branch from it: "
            f"restore through the lab, so it knows ({SECTIONS})",
        )
    return name


def check_restore_best(restore_best: object) -> Feedback:
    """Notebook 08, exercise 1: `restore_best(lab)` restores, through the lab, the checkpoint on disk whose
    values give the lowest loss.

    The check scripts two labs of its own, with a number of saves drawn at random on each run (clicks the
    notebook never shows: other seeds, a branch, a bad step just before a save, diverged saves oldest
    and newest, a deleted file), measures the loss of every save's values itself, and after the call
    compares the lab's values, save_counter aside, with the best file's, read by TensorFlow.
    """
    if not callable(restore_best):
        return Feedback(False, "restore_best must be a function of one argument, the lab")
    restored, rng = [], np.random.default_rng()  # unseeded: an answer cannot learn the labs by heart
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb08-") as root:
        for script in (_keras_lab, _linear_lab):
            verdict = _judge(restore_best, *script(Path(root), rng))
            if isinstance(verdict, Feedback):
                return verdict
            restored.append(verdict)
    return Feedback(
        True,
        "right: in 2 labs the check scripted itself (a branch, a bad step before a save, diverged saves "
        f"oldest and newest; a deleted best file), restore_best restored {' and '.join(restored)}, "
        "whose values fit best, "
        "through the lab",
    )
