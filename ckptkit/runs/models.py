"""The models the lessons train (a line, a small Keras network) and the tiny synthetic data they train on."""

from __future__ import annotations

from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.restore import build_keras
from ckptkit.runs.loop import RUN_MODELS

from collections.abc import Callable

tf = import_tensorflow()

__all__ = [
    "DropoutModel",
    "FinetuneModel",
    "MyModel",
    "linear_data",
    "linear_model",
    "linear_variables",
    "regression_data",
    "run_setup",
    "seed_states",
]


def linear_variables(seed: int = 0) -> tuple[tf.Variable, tf.Variable]:
    """Return the linear model's weight `w` (1x1, random normal) and bias `b` (zero)."""
    w = tf.Variable(tf.random.stateless_normal([1, 1], seed=[seed, 0]), name="weight")
    b = tf.Variable(tf.zeros([1]), name="bias")
    return w, b


def linear_model(x: tf.Tensor, w: tf.Variable, b: tf.Variable) -> tf.Tensor:
    """Predict `x @ w + b`."""
    return tf.matmul(x, w) + b


def linear_data() -> tuple[tf.Tensor, tf.Tensor]:
    """Return three points on the line y = 2x, the linear lessons' data."""
    inputs = tf.constant([[1.0], [2.0], [3.0]])
    return inputs, 2.0 * inputs


class MyModel(tf.keras.Model):
    """The lessons' subclassed Keras model: Dense(16, relu) then Dense(1)."""

    def __init__(self, hidden: int = 16) -> None:
        """Create the two layers; their variables appear at the first call."""
        super().__init__()
        self.dense1 = tf.keras.layers.Dense(hidden, activation="relu")
        self.dense2 = tf.keras.layers.Dense(1)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """Run both layers."""
        return self.dense2(self.dense1(x))


class FinetuneModel(tf.keras.Model):
    """`MyModel`'s backbone `dense1` under a new, deeper head: Dense(8, relu) then Dense(1)."""

    def __init__(self, hidden: int = 16) -> None:
        """Create the backbone (named as in `MyModel`, so its checkpoint path matches) and the head."""
        super().__init__()
        self.dense1 = tf.keras.layers.Dense(hidden, activation="relu")
        self.head1 = tf.keras.layers.Dense(8, activation="relu")
        self.head2 = tf.keras.layers.Dense(1)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        """Run the backbone, then the head."""
        return self.head2(self.head1(self.dense1(x)))


class DropoutModel(tf.keras.Model):
    """`MyModel` with a Dropout layer between the two Dense layers, as real models have."""

    def __init__(self, hidden: int = 16, rate: float = 0.2, seed: int = 0) -> None:
        """Create the layers; Dropout draws its masks from a Keras `SeedGenerator`."""
        super().__init__()
        self.dense1 = tf.keras.layers.Dense(hidden, activation="relu")
        self.dropout = tf.keras.layers.Dropout(rate, seed=seed)
        self.dense2 = tf.keras.layers.Dense(1)

    def call(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Run the layers; dropout is active only when training."""
        return self.dense2(self.dropout(self.dense1(x), training=training))


def seed_states(model: object) -> list:
    """Keras 3 Dropout's SeedGenerator states: in `model.variables`, not in `Checkpoint(model=...)`."""
    return [v for v in getattr(model, "variables", []) if "seed_generator_state" in v.path]


def regression_data(n: int = 32, features: int = 32, seed: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """Return `n` random inputs and targets that a small network can partly fit."""
    inputs = tf.random.stateless_normal([n, features], seed=[seed, 1])
    true_w = tf.random.stateless_normal([features, 1], seed=[seed, 2])
    noise = 0.1 * tf.random.stateless_normal([n, 1], seed=[seed, 3])
    return inputs, tf.tanh(inputs @ true_w / features**0.5) + noise


# A run's parts: predict(x, training), its trainable variables, the objects a checkpoint saves as the
# model, the optimizer, and (inputs, targets).
RunSetup = tuple[Callable, list, dict, tf.keras.optimizers.Optimizer, tuple]


def run_setup(model: str, seed: int) -> RunSetup:
    """The parts of a `ckptkit train` run (notebooks 06, 09): the linear model or `DropoutModel`, built."""
    if model == "linear":
        w = tf.Variable(tf.random.stateless_normal([1, 1], seed=[seed, 0]))
        b = tf.Variable(tf.zeros([1]))
        x = tf.reshape(tf.linspace(-1.0, 1.0, 32), [32, 1])
        predict = lambda t, training: t @ w + b  # noqa: E731
        # Momentum gives SGD per-variable state, so that leaving the optimizer out visibly matters.
        optimizer = tf.keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
        optimizer.build([w, b])  # its momentum slots must exist before a restore can fill them
        return predict, [w, b], {"model_variables": (w, b)}, optimizer, (x, 2.0 * x + 1.0)
    if model == "keras":
        keras_model, data = DropoutModel(seed=seed), regression_data(n=64, seed=seed)
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
        build_keras(keras_model, optimizer, data[0])  # before any restore (Keras 3)
        return keras_model, keras_model.trainable_variables, {"model": keras_model}, optimizer, data
    raise ValueError(f"unknown model {model!r}: choose {' or '.join(RUN_MODELS)}")
