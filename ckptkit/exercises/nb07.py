"""The exercise checks of notebook 07_checkpoint_performance.ipynb."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback
from ckptkit.live.quiet import import_tensorflow

import os

import numpy as np

tf = import_tensorflow()

__all__ = ["check_async_options", "check_save_interval"]


def check_async_options(options: object) -> Feedback:
    """Notebook 07, exercise 1: `options` is a `tf.train.CheckpointOptions` that saves in the background."""
    if not isinstance(options, tf.train.CheckpointOptions):
        return Feedback(False, f"this is a {type(options).__name__}: build tf.train.CheckpointOptions(...)")
    if not options.enable_async:
        return Feedback(
            False,
            "these options save synchronously: help(tf.train.CheckpointOptions) lists the argument "
            "that saves in a background thread",
        )
    import tempfile

    # Save with the learner's options and read the result back: the options must work, not just look right.
    value = tf.Variable(7.0)
    ckpt = tf.train.Checkpoint(v=value)
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = ckpt.save(os.path.join(folder, "ckpt"), options=options)
            ckpt.sync()
            value.assign(0.0)
            ckpt.restore(path).assert_consumed()
        except (tf.errors.OpError, ValueError, AssertionError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return Feedback(False, f"a save with these options failed: {first}")
    if float(value) != 7.0:
        return Feedback(False, "a checkpoint saved with these options did not restore its value")
    return Feedback(True, "right: ckpt.save(path, options=options) returns while the bytes are written")


def check_save_interval(
    interval: object, step_ms: float = 12.0, save_ms: float = 30.0, budget: float = 0.05
) -> Feedback:
    """Notebook 07, exercise 2: `interval` is the fewest steps between saves that keeps saving in `budget`.

    The time is training plus saving: `save_ms / (interval * step_ms + save_ms) <= budget`.
    """
    if isinstance(interval, bool) or not isinstance(interval, int | np.integer) or interval < 1:
        return Feedback(False, "the interval is a whole number of steps, 1 or more")
    interval = int(interval)

    def share(n: int) -> float:
        return save_ms / (n * step_ms + save_ms)

    smallest = 1
    while share(smallest) > budget + 1e-12:
        smallest += 1
    if interval < smallest:
        return Feedback(
            False,
            f"saving every {interval} steps spends {share(interval):.1%} of the time saving: save less often",
        )
    if interval > smallest:
        return Feedback(
            False,
            f"every {interval} steps fits the budget ({share(interval):.1%}), but a shorter interval would "
            "too and lose less work in a crash: the time is training plus saving",
        )
    return Feedback(True, f"right: every {interval} steps, saves take {share(interval):.2%} of the time")
