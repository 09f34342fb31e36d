"""The exercise check of notebook 00_start_here.ipynb."""

from __future__ import annotations

from ckptkit.exercises.feedback import (
    Feedback,
    is_placeholder,
    placeholder_or_error,
)
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.snapshot import brief

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_save_x"]

KEY = "x/.ATTRIBUTES/VARIABLE_VALUE"
# Values the notebook never shows, of two lengths, so a function that saves fixed numbers fails.
TRIALS = ((0.25, -4.0, 7.5), (3.0, 1.5, -0.5, 10.0, 2.25))


def _one(save_x: Callable, root: Path, values: tuple[float, ...]) -> Feedback | None:
    """Run `save_x` on one new folder; None when its checkpoint holds `values` as float `x`."""
    folder = root / "folder"
    try:
        path = save_x(folder, list(values))
    except Exception as err:
        return placeholder_or_error("save_x(folder, values)", err)
    if path is None:
        return Feedback(
            False,
            "save_x returned None: it is still the placeholder, or it does not return the path that "
            "saving gave back",
        )
    if not isinstance(path, str | os.PathLike):
        return Feedback(False, f"save_x returned a {type(path).__name__}, not the path of a checkpoint")
    prefix = os.fspath(path)
    if not os.path.exists(prefix + ".index"):
        return Feedback(
            False, f"save_x returned {os.path.basename(prefix)!r}, but no checkpoint has that path"
        )
    parent = Path(prefix).resolve().parent
    if parent == folder.resolve().parent:
        return Feedback(
            False, "the checkpoint landed beside the folder, not in it: save under a name inside it"
        )
    if parent != folder.resolve():
        return Feedback(False, "save_x returned a checkpoint outside the folder it was given")
    with captured_tf_logs():
        reader = tf.train.load_checkpoint(prefix)  # TensorFlow's own reader is the truth here
        dtypes, shapes = reader.get_variable_to_dtype_map(), reader.get_variable_to_shape_map()
    if KEY not in dtypes:
        return Feedback(
            False,
            "the checkpoint holds no value named x: a checkpoint names each value by the keyword it was "
            "given (section 'Save and restore one variable')",
        )
    if dtypes[KEY] != tf.float32:
        return Feedback(False, f"x is stored as {dtypes[KEY].name}: keep the values as floats")
    if shapes[KEY] != [len(values)]:
        return Feedback(False, f"x has shape {shapes[KEY]}, but the check passed {len(values)} values")
    fresh = tf.Variable(tf.zeros([len(values)]))
    tf.train.Checkpoint(x=fresh).read(prefix).expect_partial()
    if not np.array_equal(fresh.numpy(), np.array(values, dtype=np.float32)):
        return Feedback(
            False, f"x came back as {brief(fresh.numpy())}, but the check passed {brief(values)}: save those"
        )
    return None


def check_save_x(save_x: object) -> Feedback:
    """Notebook 00, exercise: `save_x(folder, values)` saves `values` as float variable `x`, returns the path.

    The check calls it on two new folders of its own with values of its own (3 and 5 numbers), then
    reads each returned path back into a fresh variable with `tf.train.Checkpoint(x=...).read`.
    """
    if not callable(save_x):
        return Feedback(False, "save_x must be a function of (folder, values)")
    if is_placeholder(save_x):
        return placeholder_or_error("save_x", None)
    for values in TRIALS:
        with tempfile.TemporaryDirectory(prefix="ckptkit-nb00-") as root:
            wrong = _one(save_x, Path(root), values)
        if wrong is not None:
            return wrong
    return Feedback(
        True,
        f"right: {len(TRIALS)} checkpoints saved by your function "
        f"({' and '.join(str(len(v)) for v in TRIALS)} values) came back whole into fresh variables",
    )
