"""The exercise checks of notebook 02_keras_model.ipynb: where Adam's velocity lives, and a resumed run."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, is_placeholder, placeholder_or_error, watch
from ckptkit.files.reader import VALUE_SUFFIX
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.snapshot import live_variables, value_of
from ckptkit.runs.models import MyModel, regression_data
from ckptkit.runs.step import fit

import os
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


def _one_adam_step(widths: tuple[int, ...], folder: Path) -> tuple[dict[str, np.ndarray], list]:
    """A Dense stack after one Adam step: (values in its file, each trainable variable's gradient).

    After one step from zero moments Adam's velocity is (1 - beta_2) * g**2 and its momentum
    (1 - beta_1) * g: the truth, computed from the gradient, with no look inside the optimizer. The
    layers are linear, so no gradient is zero everywhere and the two moments differ.
    """
    import keras

    model = keras.Sequential([keras.Input((3,)), *(keras.layers.Dense(n) for n in widths)])
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    inputs = tf.random.stateless_normal([8, 3], seed=[len(widths), 5])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs) - 1.0))
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables, strict=True))
    path = tf.train.Checkpoint(model=model, optimizer=optimizer).write(
        os.fspath(folder / f"deep{len(widths)}")
    )
    return _stored(path), [(g.numpy(), optimizer.beta_1, optimizer.beta_2) for g in grads]


def _judge_key(velocity_key: object, stored: dict[str, np.ndarray], grads: list) -> Feedback | None:
    """None when `velocity_key(i)` names the velocity of trainable variable i for every i."""
    for i, (g, beta_1, beta_2) in enumerate(grads):
        try:
            answer = velocity_key(i)
        except Exception as err:
            return placeholder_or_error(f"velocity_key({i})", err)
        if answer is None:
            return placeholder_or_error("velocity_key", None)
        key = str(answer).removesuffix(VALUE_SUFFIX)
        where = f"velocity_key({i}) = {answer!r}"
        if key not in stored:
            return Feedback(
                False,
                f"{where} is no key of the check's checkpoint (section 'See what the checkpoint holds')",
            )
        value = stored[key]
        if value.shape == g.shape and np.allclose(value, (1 - beta_1) * g, rtol=1e-5, atol=0):
            return Feedback(
                False, f"{where} holds the first moment (momentum) of variable {i}, not the second"
            )
        if value.shape != g.shape or not np.allclose(value, (1 - beta_2) * g**2, rtol=1e-5, atol=1e-12):
            return Feedback(
                False,
                f"{where} holds another value than the velocity of trainable variable {i}: count what the "
                "optimizer stores before the moments",
            )
    return None


def check_velocity_key(velocity_key: object) -> Feedback:
    """Notebook 02, exercise 1: `velocity_key(i)` names the key of Adam's velocity for trainable variable `i`.

    Scope: Keras 3.15's Adam with a float learning rate, `use_ema=False` and no gradient accumulation
    (notebook 02 shows how other settings move the moments). The answer is a key as `tf.train.list_variables`
    prints it, with or without the `/.ATTRIBUTES/VARIABLE_VALUE` suffix. The check trains two models of
    its own (3 and 2 Dense layers) one Adam step, writes each checkpoint, and compares the value under
    every key the function returns with the velocity computed from the step's gradient.
    """
    if not callable(velocity_key):
        return Feedback(False, "velocity_key must be a function of the trainable variable's number")
    if is_placeholder(velocity_key):
        return placeholder_or_error("velocity_key", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb02-") as root:
        for widths in ((4, 3, 1), (5, 2)):
            stored, grads = _one_adam_step(widths, Path(root))
            wrong = _judge_key(velocity_key, stored, grads)
            if wrong is not None:
                return wrong
    return Feedback(
        True, "right: in 2 models of the check's own (6 and 4 variables) every key held the velocity"
    )


def _saved_run(folder: Path, hidden: int, seed: int) -> tuple[str, tf.Tensor, tf.Tensor, list[float]]:
    """Train a `MyModel(hidden)` 6 steps, saving after step 3: (path, inputs, targets, steps 4-6's losses)."""
    inputs, targets = regression_data(n=16, seed=seed)
    model, optimizer = MyModel(hidden), tf.keras.optimizers.Adam(learning_rate=0.02)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(0))
    fit(model, None, optimizer, inputs, targets, 3, step=ckpt.step)
    path = ckpt.save(os.fspath(folder / f"width{hidden}"))
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


def check_resume(resume: object) -> Feedback:
    """Notebook 02, exercise 2: `resume(path)` returns a new model and Adam that continue a saved run exactly.

    The check trains `MyModel`s of widths 8 and 24 (Adam at 0.02) for 6 steps, saving after step 3,
    and records steps 4-6. It then trains what `resume` returns for 3 steps on the same data: every
    value must have come through a checkpoint restore and the losses must equal the recorded ones.
    """
    if not callable(resume):
        return Feedback(False, "resume must be a function of the checkpoint path")
    if is_placeholder(resume):
        return placeholder_or_error("resume", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb02-") as root:
        for hidden, seed in ((8, 11), (24, 12)):
            path, inputs, targets, want = _saved_run(Path(root), hidden, seed)
            wrong = _judge_resumed(resume, path, (inputs, targets), hidden, want)
            if wrong is not None:
                return wrong
    return Feedback(
        True,
        "right: 2 runs of the check's own (widths 8 and 24) continued with the saved losses, bit for bit",
    )
