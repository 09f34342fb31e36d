"""The exercise checks of notebook 05_from_sessions_to_checkpoints.ipynb.

Each check writes its own TensorFlow 1 and TensorFlow 2 checkpoints (other widths, values and steps
than the notebook's) and runs the learner's function on them.
"""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, answer_without_helpers, judged
from ckptkit.live.quiet import import_tensorflow

import os
import tempfile

import numpy as np

tf = import_tensorflow()

__all__ = ["check_convert", "check_latest_step", "tf1_checkpoint"]

# The key a Keras 3 `MyModel` writes for each TF1 name, in the two layouts the check writes: notebook
# 05's variable scopes, and the names `tf.compat.v1.layers.dense` gave its layers (`dense`, `dense_1`).
LAYOUTS = {
    "notebook": ("hidden/weights", "hidden/biases", "out/weights", "out/biases"),
    "layers": ("dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"),
}
TF2_KEYS = ("model/dense1/_kernel", "model/dense1/bias", "model/dense2/_kernel", "model/dense2/bias")


def tf1_checkpoint(
    folder: str,
    hidden: int,
    steps: tuple[int, ...],
    seed: int,
    layout: str = "notebook",
    numbers: tuple[int, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Save a TF1 `Saver` checkpoint per global step in `steps` under `folder`; return the last values.

    The network is notebook 05's (4 -> `hidden` -> 1) plus `global_step`, written by a session as
    TensorFlow 1 wrote it. Layout "layers" names the weights as `tf.compat.v1.layers.dense` did and
    takes one momentum step first, so the file also holds a `<weight>/Momentum` slot per weight.
    Files are numbered by their step, or by `numbers` (a Saver names a file by any number it is given).
    """
    rng = np.random.default_rng(seed)
    shapes = ((4, hidden), (hidden,), (hidden, 1), (1,))
    graph = tf.Graph()
    with graph.as_default():
        weights = []
        for name, shape in zip(LAYOUTS[layout], shapes, strict=True):
            scope, variable = name.split("/")
            with tf.compat.v1.variable_scope(scope):
                value = rng.normal(size=shape).astype(np.float32)
                weights.append(tf.compat.v1.get_variable(variable, initializer=value))
        global_step = tf.compat.v1.train.get_or_create_global_step()
        at = tf.compat.v1.placeholder(tf.int64, [])
        assign = global_step.assign(at)
        loss = tf.add_n([tf.reduce_sum(tf.square(w)) for w in weights])
        momentum = (
            tf.compat.v1.train.MomentumOptimizer(0.01, 0.9).minimize(loss) if layout == "layers" else None
        )
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            if momentum is not None:
                sess.run(momentum)
            for step, number in zip(steps, numbers or steps, strict=True):
                sess.run(assign, feed_dict={at: step})
                saver.save(sess, os.path.join(folder, "model"), global_step=number)
            variables = tf.compat.v1.global_variables()
            return dict(zip([v.op.name for v in variables], sess.run(variables), strict=True))


def _written(path: str) -> dict[str, object]:
    """Key (without the suffix) -> (dtype name, value) of every value TensorFlow's reader finds at `path`."""
    reader = tf.train.load_checkpoint(path)
    dtypes = reader.get_variable_to_dtype_map()
    return {
        key.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE"): (dtypes[key].name, reader.get_tensor(key))
        for key in dtypes
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }


# The check's own TF1 files: (layout, hidden width, global step, file number, seed, how a hint names it).
CASES = (
    ("notebook", 24, 37, 37, 505, "a file laid out as this notebook's"),
    ("layers", 6, 12, 3, 506, "a file with dense/… names and Momentum slots, numbered 3 (its epoch)"),
    ("notebook", 10, 58, 58, 507, "a second file laid out as this notebook's"),
)


def _judge_converted(path: object, truth: dict[str, np.ndarray], layout: str) -> str:
    """What is wrong with the TF2 checkpoint `convert` wrote for a TF1 file of `layout`, or ""."""
    if not isinstance(path, str | os.PathLike):
        return "convert must return the path its save (or write) returned"
    try:
        written = _written(os.fspath(path))
    except (tf.errors.OpError, ValueError):
        return "there is no checkpoint at the path convert returned"
    if set(written) & set(truth):
        return "it wrote TF1 names again: a TF2 checkpoint keys each value by object path"
    pairs = [*zip(LAYOUTS[layout], TF2_KEYS, strict=True), ("global_step", "step")]
    for name, key in pairs:
        if key not in written:
            return f"nothing is stored at {key}, where a fresh MyModel and step look for {name}"
        dtype, value = written[key]
        if np.shape(value) != np.shape(truth[name]):
            return (
                f"{key} has shape {np.shape(value)}, but the TF1 file's {name} has "
                f"{np.shape(truth[name])}: build the model to the shapes in the file you convert"
            )
        if dtype != truth[name].dtype.name:
            return f"{key} is {dtype}, but TF1 stored {name} as {truth[name].dtype.name}"
        if np.array_equal(value, truth.get(f"{name}/Momentum")):
            return (
                f"{key} holds {name}/Momentum, the optimizer's slot of the same shape, not the weight "
                f"{name}: a slot is not a weight"
            )
        if not np.array_equal(value, truth[name]):
            return f"{key} does not hold the value the TF1 file stores as {name}"
    extra = sorted(set(written) - {key for _, key in pairs} - {"save_counter"})
    if extra:
        return f"it also stores {extra[0]}: the checkpoint asked for holds a model and a step only"
    return ""


@judged
def check_convert(convert: object) -> Feedback:
    """05 exercise 1: `convert(tf1_path, prefix)` writes a TF1 file's weights and step for a `MyModel`.

    The check writes three TF1 files of its own: two laid out as the notebook's, one named as
    `tf.compat.v1.layers.dense` named its layers, with momentum slots that the conversion leaves out
    and a file number apart from its global step.
    """
    for layout, hidden, step, number, seed, which in CASES:
        with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as folder:
            truth = tf1_checkpoint(os.path.join(folder, "tf1"), hidden, (step,), seed, layout, (number,))
            tf1_path = tf.train.latest_checkpoint(os.path.join(folder, "tf1"))
            prefix = os.path.join(folder, "tf2", "model")
            path, problem = answer_without_helpers(convert, "convert", tf1_path, prefix)
            if problem is not None and "placeholder" in problem.message:
                return problem
            wrong = problem.message if problem is not None else _judge_converted(path, truth, layout)
        if wrong:
            hint = (
                "list the file's keys before you map them"
                if layout == "layers"
                else "reread 'Convert it with a name map, once'"
            )
            return Feedback(False, f"on {which}: {wrong} ({hint})")
    return Feedback(
        True,
        "right: three TF1 files the check wrote (widths 24, 6 and 10, one with dense/… names, Momentum slots "
        "and a file number that is not its step) became TF2 checkpoints with every weight where a fresh "
        "MyModel looks for it, and the step",
    )


def _tf2_folder(folder: str, steps: tuple[int, ...], by_step: bool) -> None:
    """Save a TF2 checkpoint per step with a `CheckpointManager`, numbered by step or by save count."""
    ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), w=tf.Variable([0.5, -1.0]))
    manager = tf.train.CheckpointManager(ckpt, folder, max_to_keep=2)
    for step in steps:
        ckpt.step.assign(step)
        manager.save(checkpoint_number=step if by_step else None)


@judged
def check_latest_step(latest_step: object) -> Feedback:
    """05 exercise 2: `latest_step(folder)` is the training step of the newest checkpoint, TF1 or TF2."""
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as root:
        cases = {  # folder -> (who wrote it, the older step, the newest step)
            "tf1": ("a TF1 Saver numbering its files by epoch (1, 2)", 13, 26),
            "tf2-count": ("a TF2 CheckpointManager numbering its saves", 9, 31),
            "tf2-step": ("a TF2 CheckpointManager numbering by step", 20, 44),
            "tf2-resaved": ("a TF2 CheckpointManager saving five times in 3 steps", None, 3),
            "tf2-restarted": ("a run numbering by step, restarted from step 0 after its ckpt-50", 50, 3),
        }
        tf1_checkpoint(os.path.join(root, "tf1"), hidden=3, steps=(13, 26), seed=5, numbers=(1, 2))
        _tf2_folder(os.path.join(root, "tf2-count"), (9, 31), by_step=False)
        _tf2_folder(os.path.join(root, "tf2-step"), (20, 44), by_step=True)
        _tf2_folder(os.path.join(root, "tf2-resaved"), (1, 2, 2, 3, 3), by_step=False)  # save_counter 5
        for run in ((50,), (3,)):  # the newest, ckpt-3, is not the largest number in its folder
            _tf2_folder(os.path.join(root, "tf2-restarted"), run, by_step=True)
        for name, (writer, older, step) in cases.items():
            got, problem = answer_without_helpers(latest_step, "latest_step", os.path.join(root, name))
            if problem is not None and ("placeholder" in problem.message or "ckptkit's" in problem.message):
                return problem
            wrong = _wrong_step(got, problem, older, step)
            if wrong:
                return Feedback(False, f"on a folder {writer} wrote, {wrong}")
    return Feedback(
        True,
        "right: steps 26 (TF1 Saver, files numbered 1, 2), 31 (saves numbered 1, 2), 44 (numbered by step), "
        "3 (save_counter 5) and 3 (ckpt-3, saved after ckpt-50)",
    )


def _wrong_step(got: object, problem: Feedback | None, older: int | None, step: int) -> str:
    """What is wrong with `latest_step`'s answer for a folder whose newest checkpoint holds `step`, or ""."""
    if problem is not None:
        return f"{problem.message} (list the keys of its newest file to see where it keeps the step)"
    if got is None:
        return "latest_step returned None: return the step as a number"
    item = np.asarray(got).item() if np.size(got) == 1 else got
    if not isinstance(item, int | np.integer):  # a path, a string, a float or several values
        return f"it returned {item!r}: return the step as an int"
    if item == step:
        return ""
    if item == older:
        return (
            f"it says {older}, the step of an older checkpoint there: read the newest one, which the "
            "folder's state file names (notebook 01)"
        )
    return (
        f"it says {item!r}; the newest checkpoint there holds another step: a file's number and "
        "save_counter are not the step (reread 'Put the keys and file names side by side')"
    )
