"""Automatic checks for the notebooks' exercises: each answers in one sentence what is right or wrong."""

from __future__ import annotations

from ckptkit.env import import_tensorflow
from ckptkit.errors import CheckpointError
from ckptkit.snapshot import live_variables, snapshot

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

tf = import_tensorflow()

__all__ = ["Feedback", "check_checkpoint", "check_restored", "check_save_schedule"]


@dataclass(frozen=True)
class Feedback:
    """The verdict of a check: passed or not, and one sentence saying why."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        """True when the answer is right."""
        return self.passed

    def __repr__(self) -> str:
        """A tick or a cross, then the sentence."""
        return ("✅ " if self.passed else "❌ ") + self.message


def _tracked(ckpt: tf.train.Checkpoint) -> dict[int, str]:
    """Map `id(object)` to its path for every object and variable the checkpoint would save."""
    paths = {id(v): p for p, v in live_variables(ckpt)}
    view = tf.train.TrackableView(ckpt)
    for name, child in view.children(ckpt).items():
        paths.setdefault(id(child), name)
    return paths


def check_checkpoint(ckpt: object, w: tf.Variable, b: tf.Variable, optimizer: object) -> Feedback:
    """Check that `ckpt` is a `tf.train.Checkpoint` tracking a step counter, `w`, `b` and the optimizer."""
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(
            False,
            f"this is a {type(ckpt).__name__}, not a checkpoint: create "
            "tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b), optimizer=optimizer)",
        )
    step = getattr(ckpt, "step", None)
    if not isinstance(step, tf.Variable) or step.shape != () or not step.dtype.is_integer:
        return Feedback(False, "your checkpoint has no step counter: add step=tf.Variable(0)")
    tracked = _tracked(ckpt)
    for name, var in (("w", w), ("b", b)):
        if id(var) not in tracked:
            return Feedback(False, f"your checkpoint does not track {name}: add model_variables=(w, b)")
    if id(optimizer) not in tracked:
        return Feedback(
            False,
            "your checkpoint does not track the optimizer: add optimizer=optimizer so its "
            "iteration count is saved too",
        )
    return Feedback(True, f"right: it tracks step, w, b and the optimizer ({len(tracked)} objects in all)")


def check_save_schedule(should_save: Callable[[int], bool], epochs: int = 20, every: int = 10) -> Feedback:
    """Check that `should_save(epoch)`, epochs from 0, saves after every `every`-th epoch and the last."""
    saved = [e for e in range(epochs) if should_save(e)]
    wanted = [e for e in range(epochs) if (e + 1) % every == 0]
    if saved == wanted:
        return Feedback(True, f"right: it saves after epochs {[e + 1 for e in saved]}, the last one included")
    if epochs - 1 not in saved:
        return Feedback(
            False,
            f"it saves after epochs {[e + 1 for e in saved]} (counting from 1), so the last "
            f"{epochs - 1 - max(saved, default=-1)} epochs are never saved: test (epoch + 1) % {every} == 0",
        )
    return Feedback(
        False,
        f"it saves after epochs {[e + 1 for e in saved]}, not every {every} epochs: "
        f"test (epoch + 1) % {every} == 0",
    )


def _short(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in np.ravel(values)) + "]"


def check_restored(w: object, b: object, path: str | os.PathLike[str]) -> Feedback:
    """Check that new variables `w` and `b` hold the values stored in checkpoint `path`."""
    try:
        stored = snapshot(path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    for name, var, key in (("w", w, "model_variables/0"), ("b", b, "model_variables/1")):
        if not isinstance(var, tf.Variable):
            return Feedback(False, f"{name} is a {type(var).__name__}: make it a tf.Variable")
        if key not in stored:
            return Feedback(False, f"{path} has no {key}: pick one saved with model_variables=(w, b)")
        want, have = stored[key], var.numpy()
        if have.shape != want.shape:
            return Feedback(False, f"{name} has shape {have.shape} but the checkpoint stores {want.shape}")
        if not np.array_equal(have, want):
            return Feedback(
                False,
                f"{name} = {_short(have)} but the checkpoint stores {_short(want)}: restore with "
                "tf.train.Checkpoint(model_variables=(w, b)).restore(path)",
            )
    return Feedback(True, "right: both new variables hold the checkpoint's values")
