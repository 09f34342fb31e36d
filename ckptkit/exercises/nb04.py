"""The exercise checks of notebook 04_inside_a_checkpoint.ipynb."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.exercises.feedback import Feedback
from ckptkit.files.reader import open_checkpoint
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import brief, value_of

import os
from collections.abc import Callable

import numpy as np

tf = import_tensorflow()

__all__ = ["check_status_method", "check_step_reader", "check_written_key"]


STATUS_METHODS = {
    "assert_consumed": "it also fails on the head and optimizer values you chose to leave in the file",
    "expect_partial": "it silences the warnings but checks nothing: a backbone that got no value would pass",
    "assert_existing_objects_matched": "",
}


def check_status_method(answer: object) -> Feedback:
    """Check the status method that fails if a built object got nothing, yet accepts unused file values."""
    if answer == "assert_existing_objects_matched":
        return Feedback(True, "right: every object you built must match; extra values in the file are fine")
    if answer in STATUS_METHODS:
        return Feedback(False, f"not {answer}: {STATUS_METHODS[answer]}")
    return Feedback(False, f"{answer!r} is not a status method: pick one of {', '.join(STATUS_METHODS)}")


def check_written_key(path: str | os.PathLike[str], key: str, variable: object) -> Feedback:
    """Check the learner's checkpoint at `path` stores `variable`'s value under `key` (notebook 04)."""
    try:
        with open_checkpoint(path) as stored:
            keys = stored.stored_keys()
            value = stored.get(key) if stored.has(key) else None
    except CheckpointError:
        return Feedback(False, "no checkpoint there yet: write one with tf.train.Checkpoint(...).write(path)")
    if value is None:
        near = [k for k in keys if k.endswith(key.split("/", 1)[1])] or keys
        return Feedback(
            False,
            f"it stores {near[0]!r} but not {key!r}: a key starts with the keyword you pass to "
            "tf.train.Checkpoint, then the attribute names below it",
        )
    if np.shape(value) != tuple(variable.shape) or not np.array_equal(value, value_of(variable)):
        return Feedback(
            False, f"{key!r} holds other values than the variable asked for: track the right layer"
        )
    return Feedback(True, f"right: {key} = {brief(value)}")


def check_step_reader(read_step: Callable[[str], object], steps: tuple[int, ...] = (7, 4711)) -> Feedback:
    """Run `read_step(prefix)` on checkpoints written here, with steps it cannot know (notebook 04)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for number, step in enumerate(steps):
            prefix = tf.train.Checkpoint(
                step=tf.Variable(step, dtype=tf.int64), w=tf.Variable([0.5] * 3)
            ).write(os.path.join(folder, f"probe-{number}"))
            try:
                got = read_step(prefix)
            except Exception as err:  # the learner's code: any failure is feedback, not a crash
                return Feedback(
                    False, f"read_step raised {type(err).__name__}: {str(err).splitlines()[0][:80]}"
                )
            if got is None:
                return Feedback(
                    False, "read_step returned None: tf.train.load_variable(path, key) reads a value"
                )
            if np.size(got) != 1 or int(np.asarray(got).item()) != step:
                return Feedback(
                    False,
                    f"read_step gave {got!r} for a checkpoint whose step is {step}: "
                    "read the path it is given",
                )
    return Feedback(
        True, f"right: read_step read steps {', '.join(map(str, steps))} from checkpoints it had never seen"
    )
