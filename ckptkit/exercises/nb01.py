"""The exercise checks of notebook 01_linear_model.ipynb."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.exercises.feedback import Feedback, fails
from ckptkit.exercises.feedback import tracked as tracked_paths
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import brief, snapshot

import itertools
import os
from collections.abc import Callable

import numpy as np

tf = import_tensorflow()

__all__ = ["check_checkpoint", "check_restored", "check_save_schedule"]


def check_checkpoint(ckpt: object, w: tf.Variable, b: tf.Variable, optimizer: object) -> Feedback:
    """Notebook 01, exercise 1: `ckpt` is a `tf.train.Checkpoint` of a step counter, `w`, `b`, optimizer."""
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(
            False,
            f"this is a {type(ckpt).__name__}, not a tf.train.Checkpoint: name what to save as keywords",
        )
    step = getattr(ckpt, "step", None)
    if not isinstance(step, tf.Variable) or step.shape != () or not step.dtype.is_integer:
        return Feedback(
            False, "your checkpoint has no integer step counter: the training loop counts in ckpt.step"
        )
    tracked = tracked_paths(ckpt)
    for name, var in (("w", w), ("b", b)):
        if id(var) not in tracked:
            return Feedback(False, f"your checkpoint does not reach {name}: save the model's variables too")
    if id(optimizer) not in tracked:
        return Feedback(
            False, "your checkpoint does not track the optimizer, so its iteration count would not be saved"
        )
    return Feedback(True, f"right: it tracks step, w, b and the optimizer ({len(tracked)} objects in all)")


def check_save_schedule(should_save: Callable[[int], bool], epochs: int = 20, every: int = 10) -> Feedback:
    """Notebook 01, exercise 2: `should_save(epoch)` (from 0) saves every `every` epochs and after the last.

    Any rule that saves after the last epoch, at regular `every`-epoch intervals before it and
    within the first `every` epochs is right, e.g. `(epoch + 1) % 10 == 0` or
    `epoch % 10 == 0 or epoch == 19`.
    """
    try:
        saved = [e for e in range(epochs) if should_save(e)]
    except Exception as err:
        return fails("should_save", err)
    shown = [e + 1 for e in saved]
    if not saved:
        return Feedback(False, "it never saves: the rule is false for every epoch")
    if saved[-1] != epochs - 1:
        return Feedback(
            False,
            f"it saves after epochs {shown} (counting from 1), so the last {epochs - 1 - saved[-1]} epochs "
            f"are never saved: make the rule true for the final epoch as well (epochs count from 0)",
        )
    if saved[0] >= every:
        return Feedback(
            False,
            f"it saves only after epochs {shown}: a crash before that loses all {saved[0] + 1} epochs; "
            f"save every {every} from the start too",
        )
    regular = [b - a for a, b in itertools.pairwise(saved[:-1])]
    if any(gap != every for gap in regular) or (len(saved) > 1 and saved[-1] - saved[-2] > every):
        return Feedback(False, f"it saves after epochs {shown}, not every {every} epochs")
    return Feedback(True, f"right: it saves after epochs {shown}, the last one included")


def check_restored(w: object, b: object, path: str | os.PathLike[str]) -> Feedback:
    """Notebook 01, exercise 3: new variables `w` and `b` hold the values stored in checkpoint `path`."""
    try:
        stored = snapshot(path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    for name, var, key in (("w", w, "model_variables/0"), ("b", b, "model_variables/1")):
        if not isinstance(var, tf.Variable):
            return Feedback(False, f"{name} is a {type(var).__name__}: make it a tf.Variable")
        if key not in stored:
            return Feedback(
                False, f"{os.fspath(path)} has no {key}: pick a checkpoint of this notebook's model"
            )
        want, have = stored[key], var.numpy()
        if have.shape != want.shape:
            return Feedback(False, f"{name} has shape {have.shape} but the checkpoint stores {want.shape}")
        if not np.array_equal(have, want):
            return Feedback(
                False,
                f"{name} = {brief(have)} but the checkpoint stores {brief(want)}: restore that file through "
                "a checkpoint shaped like the one that saved it, over the new variables",
            )
    return Feedback(True, "right: both new variables hold the checkpoint's values")
