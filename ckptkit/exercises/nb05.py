"""The exercise checks of notebook 05_from_sessions_to_checkpoints.ipynb.

Each check writes its own TensorFlow 1 and TensorFlow 2 checkpoints (other widths, values and steps
than the notebook's) and runs the learner's function on them.
"""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, answer_of
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow

import os
import tempfile

import numpy as np

tf = import_tensorflow()

__all__ = ["check_convert", "check_latest_step", "tf1_checkpoint"]

# The TF1 names of notebook 05's network -> the keys a Keras 3 `MyModel` and a step write.
TF1_TO_TF2 = {
    "hidden/weights": "model/dense1/_kernel",
    "hidden/biases": "model/dense1/bias",
    "out/weights": "model/dense2/_kernel",
    "out/biases": "model/dense2/bias",
    "global_step": "step",
}


def tf1_checkpoint(folder: str, hidden: int, steps: tuple[int, ...], seed: int) -> dict[str, np.ndarray]:
    """Save a TF1 `Saver` checkpoint per global step in `steps` under `folder`; return the last values.

    The layout is notebook 05's: `hidden/weights` (4 x `hidden`), `hidden/biases`, `out/weights`,
    `out/biases` and `global_step`, written by a session as TensorFlow 1 wrote them.
    """
    rng = np.random.default_rng(seed)
    values = {
        "hidden/weights": rng.normal(size=(4, hidden)),
        "hidden/biases": rng.normal(size=hidden),
        "out/weights": rng.normal(size=(hidden, 1)),
        "out/biases": rng.normal(size=1),
    }
    values = {name: value.astype(np.float32) for name, value in values.items()}
    graph = tf.Graph()
    with graph.as_default():
        for name, value in values.items():
            scope, variable = name.split("/")
            with tf.compat.v1.variable_scope(scope):
                tf.compat.v1.get_variable(variable, initializer=value)
        global_step = tf.compat.v1.train.get_or_create_global_step()
        at = tf.compat.v1.placeholder(tf.int64, [])
        assign = global_step.assign(at)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for step in steps:
                sess.run(assign, feed_dict={at: step})
                saver.save(sess, os.path.join(folder, "model"), global_step=step)
    return values | {"global_step": np.int64(steps[-1])}


def _written(path: str) -> dict[str, object]:
    """Key (without the suffix) -> (dtype name, value) of every value TensorFlow's reader finds at `path`."""
    reader = tf.train.load_checkpoint(path)
    dtypes = reader.get_variable_to_dtype_map()
    return {
        key.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE"): (dtypes[key].name, reader.get_tensor(key))
        for key in dtypes
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }


def check_convert(convert: object) -> Feedback:
    """05 exercise 1: `convert(tf1_path, prefix)` writes the TF1 file's values as a `MyModel` and a step."""
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as folder:
        truth = tf1_checkpoint(os.path.join(folder, "tf1"), hidden=24, steps=(37,), seed=505)
        tf1_path = tf.train.latest_checkpoint(os.path.join(folder, "tf1"))
        with captured_tf_logs():
            path, problem = answer_of(convert, "convert", tf1_path, os.path.join(folder, "tf2", "model"))
        if problem is not None:
            return problem
        if not isinstance(path, str | os.PathLike):
            return Feedback(False, "convert must return the path its save (or write) returned")
        try:
            written = _written(os.fspath(path))
        except (tf.errors.OpError, ValueError):
            return Feedback(False, "there is no checkpoint at the path convert returned")
        if "global_step" in written or "hidden/weights" in written:
            return Feedback(
                False, "it wrote TF1 names again: a TF2 checkpoint keys each value by object path"
            )
        for name, key in TF1_TO_TF2.items():
            if key not in written:
                return Feedback(
                    False,
                    f"nothing is stored at {key}, where a fresh MyModel and step look for {name}: "
                    "reread 'Convert it with a name map, once'",
                )
            dtype, value = written[key]
            if np.shape(value) != np.shape(truth[name]):
                return Feedback(
                    False,
                    f"{key} has shape {np.shape(value)}, but the TF1 file's {name} has "
                    f"{np.shape(truth[name])}: build the model to the shapes in the file you convert",
                )
            if dtype != truth[name].dtype.name:
                return Feedback(False, f"{key} is {dtype}, but TF1 stored {name} as {truth[name].dtype.name}")
            if not np.array_equal(value, truth[name]):
                return Feedback(False, f"{key} does not hold the value the TF1 file stores as {name}")
        extra = sorted(set(written) - set(TF1_TO_TF2.values()) - {"save_counter"})
        if extra:
            return Feedback(False, f"it also stores {extra[0]}, which the TF1 file has no value for")
    return Feedback(
        True,
        "right: a width-24 TF1 file the check wrote became a TF2 checkpoint with every value where a fresh "
        f"MyModel(hidden=24) and step look for it, and step = {int(truth['global_step'])}",
    )


def _tf2_folder(folder: str, steps: tuple[int, ...], by_step: bool) -> None:
    """Save a TF2 checkpoint per step with a `CheckpointManager`, numbered by step or by save count."""
    ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), w=tf.Variable([0.5, -1.0]))
    manager = tf.train.CheckpointManager(ckpt, folder, max_to_keep=2)
    for step in steps:
        ckpt.step.assign(step)
        manager.save(checkpoint_number=step if by_step else None)


def check_latest_step(latest_step: object) -> Feedback:
    """05 exercise 2: `latest_step(folder)` is the training step of the newest checkpoint, TF1 or TF2."""
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as root:
        cases = {  # folder -> (who wrote it, the newest step)
            "tf1": ("a TF1 Saver", 26),
            "tf2-count": ("a TF2 CheckpointManager numbering its saves", 31),
            "tf2-step": ("a TF2 CheckpointManager numbering by step", 44),
        }
        tf1_checkpoint(os.path.join(root, "tf1"), hidden=3, steps=(13, 26), seed=5)
        _tf2_folder(os.path.join(root, "tf2-count"), (9, 31), by_step=False)
        _tf2_folder(os.path.join(root, "tf2-step"), (20, 44), by_step=True)
        for name, (writer, step) in cases.items():
            with captured_tf_logs():
                got, problem = answer_of(latest_step, "latest_step", os.path.join(root, name))
            if problem is not None and "placeholder" in problem.message:
                return problem
            if problem is not None:
                return Feedback(False, f"{problem.message} (on a folder {writer} wrote)")
            if got is None:
                return Feedback(False, "latest_step returned None: return the step as a number")
            if np.size(got) != 1 or int(np.asarray(got).item()) != step:
                return Feedback(
                    False,
                    f"on a folder {writer} wrote, it says {np.asarray(got).item()!r}; the newest "
                    "checkpoint there holds another step (reread 'Train and save the TensorFlow 2 way')",
                )
    return Feedback(True, "right: steps 26 (TF1 Saver), 31 (saves numbered 1, 2) and 44 (numbered by step)")
