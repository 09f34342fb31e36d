"""The exercise checks of notebook 00_start_here.ipynb."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow

import os
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_first_checkpoint"]

FIRST_VALUES = (1.0, 2.0, 3.0)


def check_first_checkpoint(ckpt_dir: str | os.PathLike[str]) -> Feedback:
    """Check that the newest checkpoint in `ckpt_dir` stores a float variable `x` holding 1, 2, 3."""
    latest = tf.train.latest_checkpoint(str(ckpt_dir)) if os.path.isdir(ckpt_dir) else None
    if latest is None:
        return Feedback(
            False, f"no checkpoint in {Path(ckpt_dir).name}/ yet: call ckpt.save(...) on a path in it"
        )
    key = "x/.ATTRIBUTES/VARIABLE_VALUE"
    try:
        with captured_tf_logs():
            reader = tf.train.load_checkpoint(latest)
            dtypes = reader.get_variable_to_dtype_map()
            if key not in dtypes:
                return Feedback(
                    False,
                    "the checkpoint holds no `x`: give the variable that name, tf.train.Checkpoint(x=x)",
                )
            shape = reader.get_variable_to_shape_map()[key]
            if shape != [len(FIRST_VALUES)]:
                return Feedback(False, f"x has shape {shape}: it should hold three values")
            if dtypes[key] != tf.float32:
                return Feedback(
                    False, f"x is stored as {dtypes[key].name}: make it float32 (write 1.0, not 1)"
                )
            fresh = tf.Variable(tf.zeros([len(FIRST_VALUES)]))
            tf.train.Checkpoint(x=fresh).read(latest).expect_partial()
    except (tf.errors.OpError, ValueError) as err:
        return Feedback(False, f"the checkpoint could not be read back ({type(err).__name__}): save it again")
    if not np.array_equal(fresh.numpy(), np.array(FIRST_VALUES, dtype=np.float32)):
        return Feedback(False, f"x came back as {fresh.numpy().tolist()}: assign the values before you save")
    return Feedback(True, "right: a fresh variable restored from your checkpoint holds [1.0, 2.0, 3.0]")
