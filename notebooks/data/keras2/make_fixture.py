"""Write the Keras 2 checkpoints that notebook 10 and tests/test_migrate.py migrate to Keras 3.

Run it with Keras 2 (`tf-keras`), never in the kit's own environment:

    python3 -m venv /tmp/venv-keras2
    /tmp/venv-keras2/bin/pip install tensorflow==2.21.0 tf-keras==2.21.0
    TF_USE_LEGACY_KERAS=1 /tmp/venv-keras2/bin/python notebooks/data/keras2/make_fixture.py

It trains the kit's two-layer model (Dense(4, relu) then Dense(1), on 3 features) for 3 Adam steps,
once with Keras 2's default Adam and once with its legacy Adam, and writes for each:
`<kind>/ckpt.index` + `<kind>/ckpt.data-00000-of-00001` (model, optimizer, step), then in
`expected.npz` the inputs, targets, the model's predictions at the checkpoint, and every weight and
the predictions after one more Adam step. `SHA256SUMS` lists the checksums of all these files.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # as ckptkit sets it: the same kernels on any CPU
if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    sys.exit("set TF_USE_LEGACY_KERAS=1 and run this with tf-keras installed (Keras 2)")

import numpy as np
import tensorflow as tf
import tf_keras

HERE = Path(__file__).resolve().parent
STEPS = 3


class MyModel(tf_keras.Model):
    """The kit's `ckptkit.runs.models.MyModel`, written for Keras 2: the same attribute names."""

    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.dense1 = tf_keras.layers.Dense(hidden, activation="relu")
        self.dense2 = tf_keras.layers.Dense(1)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.dense2(self.dense1(x))


def data() -> tuple[tf.Tensor, tf.Tensor]:
    """Eight points with 3 features, built without random numbers so any version makes the same."""
    inputs = tf.reshape(tf.range(24, dtype=tf.float32), [8, 3]) / 24.0 - 0.5
    return inputs, tf.sin(3.0 * tf.reduce_sum(inputs, axis=1, keepdims=True))


def train_step(model: MyModel, optimizer: object, inputs: tf.Tensor, targets: tf.Tensor) -> None:
    """One Adam step on the mean squared error, the loss ckptkit.runs.step.mse computes."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs) - targets))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))


def main() -> None:
    assert tf.keras.__name__.startswith("tf_keras"), "tf.keras is not Keras 2: set TF_USE_LEGACY_KERAS=1"
    inputs, targets = data()
    expected = {"inputs": inputs.numpy(), "targets": targets.numpy()}
    optimizers = {"adam": tf_keras.optimizers.Adam, "legacy": tf_keras.optimizers.legacy.Adam}
    for kind, make_optimizer in optimizers.items():
        tf.keras.utils.set_random_seed(0)
        model, optimizer = MyModel(), make_optimizer(learning_rate=0.01)
        for _ in range(STEPS):
            train_step(model, optimizer, inputs, targets)
        ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(STEPS))
        ckpt.write(str(HERE / kind / "ckpt"))
        expected[f"{kind}/predictions"] = model(inputs).numpy()
        train_step(model, optimizer, inputs, targets)
        for layer in ("dense1", "dense2"):
            for name in ("kernel", "bias"):
                expected[f"{kind}/next/{layer}/{name}"] = getattr(getattr(model, layer), name).numpy()
        expected[f"{kind}/next_predictions"] = model(inputs).numpy()
    np.savez(HERE / "expected.npz", **expected)
    skip = ("SHA256SUMS", Path(__file__).name)
    files = sorted(p for p in HERE.rglob("*") if p.is_file() and p.name not in skip)
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(HERE).as_posix()}" for p in files]
    (HERE / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
