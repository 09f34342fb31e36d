"""The exercise checks of notebook 05_from_sessions_to_checkpoints.ipynb."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.exercises.feedback import Feedback
from ckptkit.files.reader import resolve_checkpoint
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import snapshot
from ckptkit.runs.models import MyModel

import os

import numpy as np

tf = import_tensorflow()

__all__ = ["check_converted", "check_saved_by_step"]


# The notebook's TF1 variable names -> the keys the Keras 3 model writes (the migration guide's map).
TF1_TO_TF2 = {
    "model/dense1/_kernel": "hidden/weights",
    "model/dense1/bias": "hidden/biases",
    "model/dense2/_kernel": "out/weights",
    "model/dense2/bias": "out/biases",
    "step": "global_step",
}


def check_converted(path: object, tf1_path: str | os.PathLike[str], model: object = None) -> Feedback:
    """05 exercise 1: `path` restores into a fresh `MyModel` and step with the TF1 run's values and step.

    With `model`, the learner's own model must hold those values too, so another file cannot stand in.
    """
    if not isinstance(path, str | os.PathLike):
        return Feedback(False, "no checkpoint yet: write one with tf.train.Checkpoint(model=..., step=...)")
    try:
        mine, tf1 = snapshot(path), snapshot(tf1_path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    if "global_step" in mine:
        return Feedback(False, "this is a name-based (TF1) checkpoint: write what you converted to a new one")
    missing = [key for key in TF1_TO_TF2 if key not in mine]
    if missing:
        what = "the step" if missing[0] == "step" else TF1_TO_TF2[missing[0]]
        return Feedback(False, f"nothing stored at {missing[0]}: your conversion leaves {what} behind")
    extra = sorted(set(mine) - set(TF1_TO_TF2) - {"save_counter"})
    if extra:
        return Feedback(
            False,
            f"it also holds {extra[0]} ({len(extra)} value(s) in all), which the TF1 checkpoint has no "
            "value for: write only the model and the step you converted",
        )
    for key, name in TF1_TO_TF2.items():
        if mine[key].shape != tf1[name].shape or mine[key].dtype != tf1[name].dtype:
            return Feedback(
                False,
                f"{key} is {mine[key].dtype} {mine[key].shape}, but TF1's {name} is "
                f"{tf1[name].dtype} {tf1[name].shape}: build each TF2 value from the TF1 one",
            )
    fresh = MyModel(hidden=tf1["hidden/weights"].shape[1])
    fresh(tf.zeros([1, tf1["hidden/weights"].shape[0]]))
    step = tf.Variable(0, dtype=tf.int64)
    fresh_ckpt = tf.train.Checkpoint(model=fresh, step=step)
    fresh_ckpt.restore(resolve_checkpoint(path)).assert_consumed()  # keys, shapes, dtypes compared above
    restored = snapshot(fresh_ckpt)
    if int(step) != int(tf1["global_step"]):
        return Feedback(
            False,
            f"step = {int(step)}, but the TF1 run ended at global step {int(tf1['global_step'])}: "
            "carry global_step over, or the resumed run counts from the wrong step",
        )
    for key, name in TF1_TO_TF2.items():
        if not np.array_equal(restored[key], tf1[name]):
            return Feedback(
                False,
                f"restored into a fresh model, {key} is not the TF1 run's value: assign each variable the "
                "tensor its TF1 name holds",
            )
    if model is not None:
        live = snapshot(tf.train.Checkpoint(model=model))
        if any(
            not np.array_equal(live.get(key), tf1[name]) for key, name in TF1_TO_TF2.items() if key != "step"
        ):
            return Feedback(
                False, "the file is right, but your model does not hold the TF1 values: convert into it"
            )
    return Feedback(
        True,
        f"right: a fresh model restores it with assert_consumed(), every value equals the TF1 run's, "
        f"and step = {int(step)}",
    )


def check_saved_by_step(save: object) -> Feedback:
    """05 exercise 2: `save(ckpt, folder)` saves `ckpt` into `folder` under a name ending in its step."""
    import re
    import tempfile

    if not callable(save):
        return Feedback(False, "pass your function itself (save_by_step), not what it returned")
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as folder:
        ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), w=tf.Variable([0.0]))
        for at in (7, 23):  # two steps your function cannot know in advance
            ckpt.step.assign(at)
            ckpt.w.assign([float(at)])
            try:
                path = save(ckpt, folder)
            except Exception as err:  # the learner's code: answer with its error, never raise
                return Feedback(False, f"your function raised {type(err).__name__}: {err}")
            if not isinstance(path, str | os.PathLike):
                return Feedback(False, "your function must return the path that the save wrote")
            name = os.path.basename(os.fspath(path))
            number = re.search(r"-(\d+)$", name)
            if number is None or int(number.group(1)) != at:
                return Feedback(
                    False,
                    f"at step {at} it wrote {name}: the number counts saves, not steps (Saver.save took "
                    "global_step=; find the CheckpointManager.save argument that does the same)",
                )
            if tf.train.latest_checkpoint(folder) != os.fspath(path):
                return Feedback(
                    False,
                    f"{name} is named right, but tf.train.latest_checkpoint(folder) does not find it: "
                    "save through a CheckpointManager so the state file lists it",
                )
    return Feedback(True, "right: saved at steps 7 and 23, the files are ...-7 and ...-23 and the latest")
