"""The exercise checks of notebook 02_keras_model.ipynb."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.exercises.feedback import Feedback, fails
from ckptkit.exercises.feedback import tracked as tracked_paths
from ckptkit.files.reader import VALUE_SUFFIX, resolve_checkpoint
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.restore import restore_checked
from ckptkit.live.snapshot import live_variables, snapshot, value_of
from ckptkit.runs.step import fit

import os
import warnings

import numpy as np

tf = import_tensorflow()

__all__ = ["check_ready_to_restore", "check_resumed", "check_velocity_key"]


def check_ready_to_restore(
    ckpt: object, path: str | os.PathLike[str], model: tf.keras.Model, optimizer: object
) -> Feedback:
    """Notebook 02, exercise 1: `ckpt` over the new `model` and `optimizer` restores every value of `path`.

    The check restores `path` into `ckpt` (every check on) and compares each live value with the file.
    """
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(False, f"this is a {type(ckpt).__name__}, not a tf.train.Checkpoint")
    tracked = tracked_paths(ckpt)
    for name, obj in (("model", model), ("optimizer", optimizer)):
        if id(obj) not in tracked:
            return Feedback(
                False, f"this checkpoint does not track the new {name}: it must restore into the new objects"
            )
    try:
        report = restore_checked(ckpt, path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    if report.only_in_checkpoint or report.only_in_objects:
        missing = report.only_in_checkpoint or report.only_in_objects
        return Feedback(
            False, f"not every value found its place, e.g. {missing[0]}: mirror the saved structure"
        )
    stored = snapshot(report.path)
    for key, var in live_variables(ckpt):
        if key in stored and not np.array_equal(value_of(var), stored[key]):
            return Feedback(False, f"{key} does not hold the stored value after the restore")
    return Feedback(
        True, f"right: all {len(report.matched)} stored values were restored into the new objects"
    )


def _velocity_truth() -> tuple[dict[str, np.ndarray], list[tuple[str, str, np.ndarray]]]:
    """A three-layer model after one Adam step: (values in its file, [(variable, momentum key, velocity)])."""
    import tempfile

    import keras

    model = keras.Sequential([keras.Input((3,)), *(keras.layers.Dense(n) for n in (4, 3, 1))])
    optimizer = keras.optimizers.Adam(0.01)
    inputs = tf.random.stateless_normal([8, 3], seed=[1, 2])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs)))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    key_of = {id(v): k for k, v in live_variables(ckpt)}
    with tempfile.TemporaryDirectory(prefix="ckptkit-") as folder:
        stored = snapshot(ckpt.write(os.path.join(folder, "ckpt")))  # read back from the file
    rows = []
    for var in model.trainable_variables:
        index = optimizer._get_variable_index(var)  # Keras 3 keeps one moment pair per trainable variable
        momentum, velocity = optimizer._momentums[index], optimizer._velocities[index]
        rows.append((var.path, key_of[id(momentum)], value_of(velocity)))
    return stored, rows


def check_velocity_key(velocity_key: object) -> Feedback:
    """Notebook 02, exercise 2: `velocity_key(i)` names the key of Adam's velocity for trainable variable `i`.

    The check trains a model of its own (three Dense layers, six trainable variables) one Adam step,
    writes a checkpoint, and reads the value under each key the function returns.
    """
    if not callable(velocity_key):
        return Feedback(False, "velocity_key must be a function of the trainable variable's index")
    stored, rows = _velocity_truth()
    for i, (name, momentum_key, velocity) in enumerate(rows):
        try:
            answer = velocity_key(i)
        except Exception as err:
            return fails(f"velocity_key({i})", err)
        key = str(answer).removesuffix(VALUE_SUFFIX)
        if key == momentum_key:
            return Feedback(False, f"velocity_key({i}) = {answer!r} is the first moment (momentum) of {name}")
        if key not in stored:
            slots = sorted(int(k.rsplit("/", 1)[1]) for k in stored if k.startswith("optimizer/_variables/"))
            return Feedback(
                False,
                f"velocity_key({i}) = {answer!r} is not a key of the checkpoint, whose moments are "
                f"optimizer/_variables/{slots[0]} to {slots[-1]}",
            )
        if not np.array_equal(stored[key], velocity):
            return Feedback(
                False,
                f"velocity_key({i}) = {answer!r} stores another value than the velocity of {name}: "
                "count every optimizer value that comes before the moments",
            )
    return Feedback(
        True, f"right: all {len(rows)} keys hold the velocity of their variable, read from the file"
    )


def check_resumed(
    resume: object, path: str | os.PathLike[str], inputs: tf.Tensor, targets: tf.Tensor, steps: int = 5
) -> Feedback:
    """Notebook 02, exercise 3: `resume(path)` gives a model and optimizer that continue a saved run exactly.

    The check trains what `resume` returns for `steps` steps, and compares each loss, bit for bit,
    with a run it resumes itself: new objects of the same classes, built, then restored.
    """
    import keras

    if not callable(resume):
        return Feedback(False, "resume must be a function of the checkpoint path")
    try:
        resolve_checkpoint(path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    try:
        got = resume(path)
    except Exception as err:
        return fails("resume(path)", err)
    if (
        not isinstance(got, tuple)
        or len(got) != 2
        or not isinstance(got[0], keras.Model)
        or not isinstance(got[1], keras.optimizers.Optimizer)
    ):
        return Feedback(False, "resume(path) must return the pair (model, optimizer)")
    model, optimizer = got
    try:
        ref_model, ref_optimizer = type(model)(), type(optimizer).from_config(optimizer.get_config())
        ref_model(inputs[:1])
        ref_optimizer.build(ref_model.trainable_variables)
        restore_checked(tf.train.Checkpoint(model=ref_model, optimizer=ref_optimizer), path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    except Exception as err:  # a model class that needs arguments, or data of another shape
        return fails(f"building a second {type(model).__name__} to compare with", err)
    want = fit(ref_model, None, ref_optimizer, inputs, targets, steps)
    try:
        with warnings.catch_warnings():  # a stray variable from a partial restore gets no gradient
            warnings.simplefilter("ignore")
            have = fit(model, None, optimizer, inputs, targets, steps)
    except Exception as err:
        return fails("training what resume returned", err)
    if have[0] != want[0]:
        return Feedback(
            False,
            f"the first loss is {have[0]:.6g}, the saved run's {want[0]:.6g}: the model does not start "
            "from every stored weight",
        )
    for i, (a, b) in enumerate(zip(have, want, strict=True)):
        if a != b:
            return Feedback(
                False,
                f"step {i + 1} has loss {a:.6g}, the saved run {b:.6g}: the weights came back, but the "
                "optimizer does not carry on where it stopped",
            )
    return Feedback(True, f"right: all {steps} losses equal those of the saved run, bit for bit")
