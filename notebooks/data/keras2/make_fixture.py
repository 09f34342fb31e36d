"""Write the Keras 2 checkpoints that notebook 11 and tests/test_migrate.py migrate to Keras 3.

Run it with Keras 2 (`tf-keras`), never in the kit's own environment:

    python3 -m venv /tmp/venv-keras2
    /tmp/venv-keras2/bin/pip install tensorflow==2.21.0 tf-keras==2.21.0
    TF_USE_LEGACY_KERAS=1 /tmp/venv-keras2/bin/python notebooks/data/keras2/make_fixture.py

It trains the kit's two-layer model (Dense(4, relu) then Dense(1), on 3 features) for 3 Adam steps,
once with Keras 2's default Adam and once with its legacy Adam, and writes for each:
`<kind>/ckpt.index` + `<kind>/ckpt.data-00000-of-00001` (model, optimizer, step), then in
`expected.npz` the inputs, targets, the model's predictions at the checkpoint, and every weight and
the predictions after one more Adam step. Three more kinds show what `keras2_to_keras3` covers and
refuses: `sequential` (a Keras 2 `Sequential`, keys `model/layer_with_weights-N/...`), `schedule`
(Adam on an `ExponentialDecay` learning rate) and `lossscale` (a `LossScaleOptimizer` around Adam).
`built` holds it trained by an Adam built by hand, last layer first (moments named `m/...`, numbered in
reverse). `momentum` and `legacy_momentum` hold the same model trained with SGD (momentum 0.9) by Keras 2's
default and legacy optimizers, with their expected values in `momentum.npz`. `samename` holds a
model whose two layers share one name, so their Adam slots' full names repeat (refused with an optimizer).

`check/` holds the Keras 2 checkpoints notebook 11's exercise check migrates, which the
notebook never shows: Sequential and Functional models of other widths, depths, seeds and
learning rates (`check/specs.json`), one of them with Adam's moments numbered in reverse layer
order and one with its first two layers' moments swapped, with Keras 2's predictions and its next Adam
step in `check/expected.npz` (`--swapped` writes only the last, leaving the other files as they are; the
full run writes it with other layer names, and the same values).
`SHA256SUMS` lists the checksums of all these files.
"""

from __future__ import annotations

import hashlib
import json
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
# The exercise check's models, never shown in the notebook: (kind, features, [(units, activation)], seed,
# learning rate). Each rate differs from the notebook's 0.01, so no fixed rate migrates them all.
CHECKS = {
    "wide": ("sequential", 3, [(5, "relu"), (1, None)], 1, 0.02),
    "deep": ("sequential", 4, [(6, "tanh"), (3, "relu"), (1, None)], 2, 0.005),
    "functional": ("functional", 3, [(7, "relu"), (1, None)], 3, 0.03),
}
REORDERED_RATE = 0.015
SWAPPED_RATE = 0.025


class MyModel(tf_keras.Model):
    """The kit's `ckptkit.runs.models.MyModel`, written for Keras 2: the same attribute names."""

    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.dense1 = tf_keras.layers.Dense(hidden, activation="relu")
        self.dense2 = tf_keras.layers.Dense(1)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.dense2(self.dense1(x))


def data(features: int = 3) -> tuple[tf.Tensor, tf.Tensor]:
    """Eight points with `features` features, built without random numbers so any version makes the same."""
    inputs = tf.reshape(tf.range(8 * features, dtype=tf.float32), [8, features]) / (8.0 * features) - 0.5
    return inputs, tf.sin(3.0 * tf.reduce_sum(inputs, axis=1, keepdims=True))


def train_step(model: tf_keras.Model, optimizer: object, inputs: tf.Tensor, targets: tf.Tensor) -> None:
    """One Adam step on the mean squared error, the loss ckptkit.runs.step.mse computes."""
    scaled = isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs) - targets))
        if scaled:
            loss = optimizer.get_scaled_loss(loss)
    variables = model.trainable_variables
    gradients = tape.gradient(loss, variables)
    if scaled:
        gradients = optimizer.get_unscaled_gradients(gradients)
    optimizer.apply_gradients(zip(gradients, variables, strict=True))


def layered(kind: str, features: int, layers: list[tuple[int, str | None]]) -> tf_keras.Model:
    """A Keras 2 Sequential or Functional model of Dense layers."""
    dense = [tf_keras.layers.Dense(units, activation=activation) for units, activation in layers]
    if kind == "sequential":
        return tf_keras.Sequential([tf_keras.Input((features,)), *dense])
    inputs = outputs = tf_keras.Input((features,))
    for layer in dense:
        outputs = layer(outputs)
    return tf_keras.Model(inputs, outputs)


def trained(
    model: tf_keras.Model,
    optimizer: object,
    inputs: tf.Tensor,
    targets: tf.Tensor,
    path: Path,
) -> dict:
    """Train `STEPS` steps, write the checkpoint at `path`, take one more step; return what Keras 2 saw."""
    for _ in range(STEPS):
        train_step(model, optimizer, inputs, targets)
    tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(STEPS)).write(str(path))
    seen = {"predictions": model(inputs).numpy()}
    train_step(model, optimizer, inputs, targets)
    weighted = [layer for layer in model.layers if layer.weights]
    for i, layer in enumerate(weighted):
        seen[f"next/{i}/kernel"], seen[f"next/{i}/bias"] = (
            layer.kernel.numpy(),
            layer.bias.numpy(),
        )
    seen["next_predictions"] = model(inputs).numpy()
    return seen


def write_checks() -> None:
    """The exercise check's hidden checkpoints, their specs and Keras 2's expected values."""
    expected = {}
    for name, (kind, features, layers, seed, rate) in CHECKS.items():
        tf.keras.utils.set_random_seed(seed)
        inputs, targets = data(features)
        model, optimizer = layered(kind, features, layers), tf_keras.optimizers.Adam(learning_rate=rate)
        seen = trained(model, optimizer, inputs, targets, HERE / "check" / name / "ckpt")
        expected |= {
            f"{name}/inputs": inputs.numpy(),
            f"{name}/targets": targets.numpy(),
        }
        expected |= {f"{name}/{key}": value for key, value in seen.items()}
    np.savez(HERE / "check" / "expected.npz", **expected)
    specs = {
        n: {"kind": k, "features": f, "layers": ls, "seed": s, "learning_rate": r}
        for n, (k, f, ls, s, r) in CHECKS.items()
    }
    (HERE / "check" / "specs.json").write_text(json.dumps(specs, indent=1) + "\n")


def write_others(expected: dict) -> None:
    """A Sequential, a schedule and a loss-scale optimizer: what the migration covers and refuses."""
    inputs, targets = data()
    schedule = tf_keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)
    cases = {
        "sequential": (
            lambda: layered("sequential", 3, [(4, "relu"), (1, None)]),
            lambda: 0.01,
        ),
        "schedule": (MyModel, lambda: schedule),
        "lossscale": (MyModel, lambda: 0.01),
    }
    for kind, (make_model, rate) in cases.items():
        tf.keras.utils.set_random_seed(0)
        model, optimizer = make_model(), tf_keras.optimizers.Adam(learning_rate=rate())
        if kind == "lossscale":
            optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
        seen = trained(model, optimizer, inputs, targets, HERE / kind / "ckpt")
        expected |= {f"{kind}/{key}": value for key, value in seen.items()}


def write_momentum() -> None:
    """SGD with momentum, default and legacy: written last, so the layer names of the others stay put."""
    inputs, targets = data()
    expected = {}
    for kind, make in {
        "momentum": tf_keras.optimizers.SGD,
        "legacy_momentum": tf_keras.optimizers.legacy.SGD,
    }.items():
        tf.keras.utils.set_random_seed(0)
        seen = trained(MyModel(), make(0.01, momentum=0.9), inputs, targets, HERE / kind / "ckpt")
        expected |= {f"{kind}/{key}": value for key, value in seen.items()}
    np.savez(HERE / "momentum.npz", **expected)


class SameNames(tf_keras.Model):
    """`MyModel`'s attributes, both layers named "d": a subclassed Keras 2 model lets two share a name."""

    def __init__(self) -> None:
        super().__init__()
        self.dense1 = tf_keras.layers.Dense(4, activation="relu", name="d")
        self.dense2 = tf_keras.layers.Dense(1, name="d")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.dense2(self.dense1(x))


def write_same_names() -> None:
    """Adam over two layers of one name: their slots' full names repeat. Written last, like momentum."""
    inputs, targets = data()
    tf.keras.utils.set_random_seed(0)
    trained(SameNames(), tf_keras.optimizers.Adam(0.01), inputs, targets, HERE / "samename" / "ckpt")


def write_hand_built(name: str, layers: list, seed: int, rate: float, order: list[int], moments: str) -> None:
    """One more check model (a Sequential on 4 features) whose Adam was built by hand over its weights in
    `order` (indices into its trainable variables): its moments carry no `Adam/` scope, and only a moment's
    full name, not its number nor its shape, says which weight it belongs to. Written after the others, so
    their layer names stay put; added to the check's specs and expected."""
    features = 4
    tf.keras.utils.set_random_seed(seed)
    inputs, targets = data(features)
    model = layered("sequential", features, layers)
    optimizer = tf_keras.optimizers.Adam(learning_rate=rate)
    optimizer.build([model.trainable_variables[i] for i in order])
    seen = trained(model, optimizer, inputs, targets, HERE / "check" / name / "ckpt")
    with np.load(HERE / "check" / "expected.npz") as stored:
        expected = dict(stored)
    expected |= {f"{name}/inputs": inputs.numpy(), f"{name}/targets": targets.numpy()}
    expected |= {f"{name}/{key}": value for key, value in seen.items()}
    np.savez(HERE / "check" / "expected.npz", **expected)
    specs = json.loads((HERE / "check" / "specs.json").read_text())
    specs[name] = {"kind": "sequential", "features": features, "layers": layers, "seed": seed}
    specs[name]["learning_rate"] = rate
    specs[name]["moments"] = moments
    (HERE / "check" / "specs.json").write_text(json.dumps(specs, indent=1) + "\n")


def write_reordered() -> None:
    """Moments in reverse layer order; the first two layers of the same shapes (two 4x4 kernels, two
    4-wide biases), so a moment's shape cannot tell which layer it belongs to."""
    layers = [(4, "tanh"), (4, "relu"), (1, None)]
    write_hand_built(
        "reordered", layers, 4, REORDERED_RATE, [5, 4, 3, 2, 1, 0], "numbered in reverse layer order"
    )


def write_swapped() -> None:
    """The first two layers' moments swapped, the last in place: neither layer order nor its reverse."""
    layers = [(4, "relu"), (4, "tanh"), (1, None)]
    order, moments = [2, 3, 0, 1, 4, 5], "numbered with its first two layers swapped"
    write_hand_built("swapped", layers, 5, SWAPPED_RATE, order, moments)


def write_sums() -> None:
    """`SHA256SUMS`: the checksum of every file here but this script."""
    skip = ("SHA256SUMS", Path(__file__).name)
    files = sorted(p for p in HERE.rglob("*") if p.is_file() and p.name not in skip)
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(HERE).as_posix()}" for p in files]
    (HERE / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def write_built() -> None:
    """`MyModel` whose Adam was built by hand, on the weights last layer first, before its first step:
    its moments' full names lack the optimizer's name (`m/...`, not `Adam/m/...`) and `_variables/N`
    run in reverse layer order. Written last, like the others after main's; added to expected.npz."""
    inputs, targets = data()
    tf.keras.utils.set_random_seed(0)
    model, optimizer = MyModel(), tf_keras.optimizers.Adam(learning_rate=0.01)
    model(inputs[:1])
    optimizer.build(list(reversed(model.trainable_variables)))
    seen = trained(model, optimizer, inputs, targets, HERE / "built" / "ckpt")
    with np.load(HERE / "expected.npz") as stored:
        expected = dict(stored)
    for key, value in seen.items():  # next/0/kernel -> next/dense1/kernel, as main() names them
        expected[f"built/{key.replace('/0/', '/dense1/').replace('/1/', '/dense2/')}"] = value
    np.savez(HERE / "expected.npz", **expected)


def main() -> None:
    assert tf.keras.__name__.startswith("tf_keras"), "tf.keras is not Keras 2: set TF_USE_LEGACY_KERAS=1"
    inputs, targets = data()
    expected = {"inputs": inputs.numpy(), "targets": targets.numpy()}
    optimizers = {
        "adam": tf_keras.optimizers.Adam,
        "legacy": tf_keras.optimizers.legacy.Adam,
    }
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
    write_others(expected)
    np.savez(HERE / "expected.npz", **expected)
    write_checks()
    write_momentum()
    write_same_names()
    write_reordered()
    write_built()
    write_swapped()
    write_sums()


if __name__ == "__main__":
    if sys.argv[1:] == ["--swapped"]:  # the last fixture added: the others stay byte for byte
        write_swapped()
        write_sums()
    else:
        main()
