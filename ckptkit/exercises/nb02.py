"""The exercise checks of notebook 02_keras_model.ipynb: where Adam's velocity lives, and a resumed run."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, is_placeholder, judged, placeholder_or_error, watch
from ckptkit.files.reader import VALUE_SUFFIX
from ckptkit.live.private import optimizer_slot
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.snapshot import live_variables, value_of
from ckptkit.runs.models import MyModel, regression_data
from ckptkit.runs.step import fit

import os
import random
import tempfile
import warnings
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_resume", "check_velocity_key"]


def _stored(path: str) -> dict[str, np.ndarray]:
    """Every value in the checkpoint at `path`, by key without the suffix, read by TensorFlow's own reader."""
    with captured_tf_logs():
        reader = tf.train.load_checkpoint(path)
        return {
            k.removesuffix(VALUE_SUFFIX): reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
        }


# Adams the check saves: (the case a hint names, Adam's settings, the Dense widths of its model).
_ADAMS = (
    ("a float learning rate", {}, (4, 3, 1)),
    ("use_ema=True", {"use_ema": True}, (5, 2)),
    ("gradient_accumulation_steps=2", {"gradient_accumulation_steps": 2}, (3, 2, 1)),
    ("a learning-rate schedule", {"schedule": True}, (4, 1)),
    ("use_ema=True and a schedule", {"use_ema": True, "schedule": True}, (2, 2, 1)),
)


def _marked_adam(
    settings: dict, widths: tuple[int, ...], folder: Path
) -> tuple[object, list, dict[str, np.ndarray]]:
    """A built Adam whose float variables each hold their own constant, the variables it was built over,
    and the values in its checkpoint.

    The constants make the truth readable from the file: the key that holds the constant of variable
    i's velocity slot is where that velocity went, whatever the positions.
    """
    import keras

    settings = dict(settings)
    if settings.pop("schedule", False):
        settings["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)
    model = keras.Sequential([keras.Input((3,)), *(keras.layers.Dense(n) for n in widths)])
    optimizer = keras.optimizers.Adam(**settings)
    variables = model.trainable_variables
    optimizer.build(variables)
    for n, variable in enumerate(optimizer.variables):
        if variable.dtype.startswith("float"):
            variable.assign(np.full(variable.shape, 100.0 + n, variable.dtype))
    path = tf.train.Checkpoint(model=model, optimizer=optimizer).write(
        os.fspath(folder / f"adam{len(widths)}")
    )
    return optimizer, variables, _stored(path)


def _judge_key(
    velocity_key: object, optimizer: object, variables: list, stored: dict, case: str
) -> Feedback | None:
    """None when `velocity_key(optimizer, i)` names the key of velocity i for every trainable variable i."""
    for i, variable in enumerate(variables):
        momentum = optimizer_slot(optimizer, "_momentums", variable)
        velocity = optimizer_slot(optimizer, "_velocities", variable)
        try:
            answer = velocity_key(optimizer, i)
        except Exception as err:
            return placeholder_or_error(f"velocity_key(optimizer, {i})", err)
        if answer is None:
            return placeholder_or_error("velocity_key", None)
        key = str(answer).removesuffix(VALUE_SUFFIX)
        where = f"for an Adam with {case}, velocity_key(optimizer, {i}) = {answer!r}"
        if key not in stored:
            return Feedback(
                False,
                f"{where} is no key of the check's checkpoint (section 'See what the checkpoint holds')",
            )
        if np.array_equal(stored[key], velocity.numpy()):
            continue
        if np.array_equal(stored[key], momentum.numpy()):
            return Feedback(
                False, f"{where} holds the first moment (momentum) of variable {i}, not the second"
            )
        return Feedback(
            False,
            f"{where} holds another value than the velocity of trainable variable {i}: count what this "
            "Adam lists before the moments (section 'See what the checkpoint holds')",
        )
    return None


def check_velocity_key(velocity_key: object) -> Feedback:
    """Notebook 02, exercise 1: `velocity_key(optimizer, i)`, the key of Adam's velocity for variable `i`.

    The answer is a key as `tf.train.list_variables` prints it, with or without the
    `/.ATTRIBUTES/VARIABLE_VALUE` suffix, for a checkpoint `tf.train.Checkpoint(model=..., optimizer=...)`.
    The check builds Keras 3 Adams of its own (a float rate, EMA, gradient accumulation, a schedule)
    over models of 2 to 3 Dense layers, writes each checkpoint, and reads what is stored under the key.
    """
    if not callable(velocity_key):
        return Feedback(False, "velocity_key must be a function of the optimizer and the variable's number")
    if is_placeholder(velocity_key):
        return placeholder_or_error("velocity_key", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb02-") as root:
        for case, settings, widths in _ADAMS:
            optimizer, variables, stored = _marked_adam(settings, widths, Path(root))
            wrong = _judge_key(velocity_key, optimizer, variables, stored, case)
            if wrong is not None:
                return wrong
    return Feedback(
        True,
        f"right: in {len(_ADAMS)} Adams of the check's own (EMA, accumulation, schedules) "
        "every key held the velocity",
    )


def _saved_run(folder: Path, hidden: int, seed: int) -> tuple[str, tf.Tensor, tf.Tensor, list[float]]:
    """Train a `MyModel(hidden)` 6 steps, saving after step 3: (path, inputs, targets, steps 4-6's losses)."""
    inputs, targets = regression_data(n=16, seed=seed)
    model, optimizer = MyModel(hidden), tf.keras.optimizers.Adam(learning_rate=0.02)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(0))
    fit(model, None, optimizer, inputs, targets, 3, step=ckpt.step)
    path = ckpt.save(os.fspath(folder / f"run-{seed}"))  # a name that does not give the width away
    return path, inputs, targets, fit(model, None, optimizer, inputs, targets, 3, step=ckpt.step)


def _judge_resumed(resume: object, path: str, data: tuple, hidden: int, want: list[float]) -> Feedback | None:
    """None when `resume(path)` gives a model and optimizer that continue the saved run exactly."""
    import keras

    seen = watch(resume, path)
    if seen.error is not None or seen.result is None:
        wrong = placeholder_or_error("resume(path)", seen.error)
        if seen.error is not None and "shape" in str(seen.error):
            wrong = Feedback(
                False, wrong.message + f": the saved model has width {hidden}; read it from the file"
            )
        return wrong
    got = seen.result
    if not (isinstance(got, tuple | list) and len(got) == 2 and isinstance(got[0], keras.Model)):
        return Feedback(False, "resume must return the pair (model, optimizer)")
    model, optimizer = got
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        return Feedback(False, f"the second item is a {type(optimizer).__name__}, not a Keras optimizer")
    if not model.variables:
        return Feedback(False, "the model you returned has no weights yet: it was never built")
    if not all(seen.created_here(v) for v in model.variables):
        return Feedback(
            False, "the model you returned existed before resume ran: a resumed run starts from new objects"
        )
    stored = _stored(path)
    if len(model.variables) != sum(k.startswith("model/") for k in stored):
        return Feedback(
            False,
            f"the model has {len(model.variables)} variables where the file stores "
            f"{sum(k.startswith('model/') for k in stored)}: a restore before the build leaves a stray copy",
        )
    if not seen.restored_through_checkpoint(model.variables):
        return Feedback(
            False,
            "the model's weights did not arrive through a checkpoint restore (section 'Build first, "
            "then restore')",
        )
    live = dict(live_variables(tf.train.Checkpoint(model=model)))
    weights = [(k, v) for k, v in stored.items() if k.startswith("model/")]
    if any(k not in live or not np.array_equal(value_of(live[k]), v) for k, v in weights):
        return Feedback(
            False, "the resumed model does not hold every stored weight (section 'Build first, then restore')"
        )
    with warnings.catch_warnings():  # a stray variable gets no gradient and Keras warns about it
        warnings.simplefilter("ignore")
        have = fit(model, None, optimizer, *data, len(want))
    if have == want:
        return None
    return Feedback(
        False,
        f"the weights came back, but the losses {[f'{x:.6g}' for x in have]} differ from the saved run's "
        f"{[f'{x:.6g}' for x in want]}: the optimizer does not carry on where it stopped (section "
        "'Resume with and without the optimizer state')",
    )


@judged
def check_resume(resume: object) -> Feedback:
    """Notebook 02, exercise 2: `resume(path)` returns a new model and Adam that continue a saved run exactly.

    The check trains two `MyModel`s of widths drawn from 6-30, not 16 (Adam at 0.02), for 6 steps, saving
    after step 3, and records steps 4-6. It then trains what `resume` returns for 3 steps on the same
    data: every value must have come through a checkpoint restore and the losses must equal the recorded
    ones.
    """
    if not callable(resume):
        return Feedback(False, "resume must be a function of the checkpoint path")
    if is_placeholder(resume):
        return placeholder_or_error("resume", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb02-") as root:
        # Unseeded: widths no answer can know in advance, and never the notebook's 16.
        widths = random.Random().sample([w for w in range(6, 31) if w != 16], 2)
        for hidden, seed in zip(widths, (11, 12), strict=True):
            path, inputs, targets, want = _saved_run(Path(root), hidden, seed)
            wrong = _judge_resumed(resume, path, (inputs, targets), hidden, want)
            if wrong is not None:
                return wrong
    return Feedback(
        True,
        f"right: 2 runs of the check's own (widths {widths[0]} and {widths[1]}, drawn for this check) "
        "continued with the saved losses, bit for bit",
    )
