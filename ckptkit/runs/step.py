"""A GradientTape training loop that reports every step's loss to a history."""

from __future__ import annotations

from ckptkit.errors import DivergedError
from ckptkit.live.quiet import import_tensorflow
from ckptkit.runs.history import History
from ckptkit.runs.loop import check_steps

import math
from collections.abc import Callable, Sequence

tf = import_tensorflow()

__all__ = ["apply_step", "fit", "mse", "train_step"]


def mse(predictions: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Mean squared error."""
    return tf.reduce_mean(tf.square(predictions - targets))


def apply_step(
    predict: Callable[..., tf.Tensor],
    variables: Sequence[tf.Variable] | None,
    optimizer: tf.keras.optimizers.Optimizer,
    inputs: tf.Tensor,
    targets: tf.Tensor,
    *,
    loss: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] = mse,
    training: bool | None = None,
    guard: Callable[[tf.Tensor], None] | None = None,
) -> tf.Tensor:
    """The kit's one training step: the loss under a `GradientTape`, its gradients applied; returns the loss.

    `training` is passed on to `predict` when given (Dropout needs it); `guard(loss)` runs before
    the update, so it can refuse a loss while the variables are still untouched. With
    `variables=None`, `predict` is a Keras model and its trainable variables are used, read after
    the forward pass because an unbuilt model creates them at its first call. Works eagerly and
    inside `tf.function` (one replica's step under a strategy).
    """
    with tf.GradientTape() as tape:
        outputs = predict(inputs) if training is None else predict(inputs, training=training)
        value = loss(outputs, targets)
    if variables is None:
        variables = predict.trainable_variables
    if guard is not None:
        guard(value)
    optimizer.apply_gradients(zip(tape.gradient(value, variables), variables, strict=True))
    return value


def _refuse_diverged(loss: tf.Tensor) -> None:
    # Checked before the update, so the variables stay finite.
    value = float(loss)
    if not math.isfinite(value):
        raise DivergedError(
            f"the loss became {value}: lower the learning rate, "
            "or restore a checkpoint saved before it diverged"
        )


def train_step(
    predict: Callable[[tf.Tensor], tf.Tensor],
    variables: Sequence[tf.Variable] | None,
    optimizer: tf.keras.optimizers.Optimizer,
    inputs: tf.Tensor,
    targets: tf.Tensor,
) -> float:
    """Take one gradient step on the mean squared error and return the loss before it (notebooks 01-03).

    With `variables=None`, `predict` is a Keras model and its trainable variables are used. A loss
    that is not a finite number raises `DivergedError` before any variable changes.
    """
    return float(apply_step(predict, variables, optimizer, inputs, targets, guard=_refuse_diverged))


def fit(
    predict: Callable[[tf.Tensor], tf.Tensor],
    variables: Sequence[tf.Variable] | None,
    optimizer: tf.keras.optimizers.Optimizer,
    inputs: tf.Tensor,
    targets: tf.Tensor,
    steps: int,
    *,
    step: tf.Variable | None = None,
    history: History | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train for `steps` steps, counting in `step` and logging each loss to `history`."""
    steps = check_steps(steps)
    losses = []
    for i in range(steps):
        loss = train_step(predict, variables, optimizer, inputs, targets)
        if step is not None:
            step.assign_add(1)
        at = int(step) if step is not None else i + 1
        if history is not None:
            history.record(at, loss)
        if on_step is not None:
            on_step(at, loss)
        losses.append(loss)
    return losses
