"""Keras 2 → Keras 3 migration on the committed tf-keras 2.21 fixture: exact, or refused untouched."""

from __future__ import annotations

import ckptkit
from ckptkit.__main__ import main
from ckptkit.errors import (
    CheckpointNotFoundError,
    ExtraValueError,
    MissingValueError,
    OptimizerMismatchError,
    ShapeMismatchError,
    UnbuiltModelError,
)
from ckptkit.live.migrate import keras2_to_keras3
from ckptkit.live.snapshot import live_variables
from ckptkit.runs.models import FinetuneModel, MyModel
from ckptkit.runs.step import mse

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

FIXTURE = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "keras2"
KINDS = ("adam", "legacy")


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    """The fixture's expected values, read only after every file's SHA-256 matches SHA256SUMS."""
    for line in (FIXTURE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((FIXTURE / name).read_bytes()).hexdigest() == digest, name
    with np.load(FIXTURE / "expected.npz") as data:
        return dict(data)


def built(hidden: int = 4, optimizer: object | None = None) -> tuple[MyModel, object]:
    """A built Keras 3 `MyModel` on the fixture's 3 features and a built optimizer (Adam by default)."""
    model = MyModel(hidden)
    model(tf.zeros([1, 3]))
    optimizer = optimizer or tf.keras.optimizers.Adam(0.001)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def values(*objects: object) -> dict[str, np.ndarray]:
    """Copies of every variable of `objects`, keyed by position and path."""
    return {f"{i}/{p}": v.numpy().copy() for i, o in enumerate(objects) for p, v in live_variables(o)}


def max_abs(a: object, b: object) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.mark.parametrize("kind", KINDS)
def test_migration_is_exact(kind: str, expected: dict) -> None:
    model, optimizer = built()
    report = keras2_to_keras3(FIXTURE / kind / "ckpt", model, optimizer)
    assert len(report.mapped) == 14 and report.left == ["step"]
    inputs = tf.constant(expected["inputs"])
    assert max_abs(model(inputs), expected[f"{kind}/predictions"]) == 0
    assert int(optimizer.iterations) == 3 and float(optimizer.learning_rate) == pytest.approx(0.01)
    reader = tf.train.load_checkpoint(str(FIXTURE / kind / "ckpt"))
    stored = {m.target: reader.get_tensor(m.source + "/.ATTRIBUTES/VARIABLE_VALUE") for m in report.mapped}
    live = dict(live_variables(tf.train.Checkpoint(model=model, optimizer=optimizer)))
    assert {k: max_abs(live[k].numpy(), v) for k, v in stored.items()} == dict.fromkeys(stored, 0.0)


def test_an_adam_built_by_hand_last_layer_first_migrates_exactly(expected: dict) -> None:
    """Slots named `m/<weight>` (no optimizer name) and numbered in reverse still find their weights."""
    model, optimizer = built(optimizer=tf.keras.optimizers.Adam(0.5))
    report = keras2_to_keras3(FIXTURE / "built" / "ckpt", model, optimizer)
    roles = {m.source: m.role for m in report.mapped}
    assert roles["optimizer/_variables/1"] == "momentum of model/dense2/bias"  # the last weight first
    inputs, targets = tf.constant(expected["inputs"]), tf.constant(expected["targets"])
    assert max_abs(model(inputs), expected["built/predictions"]) == 0
    ckptkit.train_step(model, None, optimizer, inputs, targets)
    for layer in ("dense1", "dense2"):
        for name in ("kernel", "bias"):
            assert max_abs(getattr(getattr(model, layer), name), expected[f"built/next/{layer}/{name}"]) == 0


def test_next_step_equals_keras2_default_adam(expected: dict) -> None:
    model, optimizer = built()
    keras2_to_keras3(FIXTURE / "adam" / "ckpt", model, optimizer)
    ckptkit.train_step(
        model, None, optimizer, tf.constant(expected["inputs"]), tf.constant(expected["targets"])
    )
    for layer in ("dense1", "dense2"):
        for name in ("kernel", "bias"):
            assert max_abs(getattr(getattr(model, layer), name), expected[f"adam/next/{layer}/{name}"]) == 0


def test_next_step_equals_keras2_legacy_adam(expected: dict) -> None:
    """Legacy Adam updates in one fused kernel: from the migrated state it repeats Keras 2's step exactly."""
    model, optimizer = built()
    keras2_to_keras3(FIXTURE / "legacy" / "ckpt", model, optimizer)
    with tf.GradientTape() as tape:
        loss = mse(model(tf.constant(expected["inputs"])), tf.constant(expected["targets"]))
    gradients = tape.gradient(loss, model.trainable_variables)
    step = tf.cast(optimizer.iterations + 1, tf.float32)
    beta_1, beta_2 = tf.constant(0.9), tf.constant(0.999)
    for gradient, weight, name in zip(
        gradients,
        model.trainable_variables,
        ("dense1/kernel", "dense1/bias", "dense2/kernel", "dense2/bias"),
        strict=True,
    ):
        i = optimizer._get_variable_index(weight)
        var, m, v = (
            tf.Variable(x.numpy()) for x in (weight, optimizer._momentums[i], optimizer._velocities[i])
        )
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle,
            m=m.handle,
            v=v.handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.identity(optimizer._learning_rate),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.constant(1e-7),
            grad=gradient,
        )
        assert max_abs(var.numpy(), expected[f"legacy/next/{name}"]) == 0, name
    # Keras 3's own Adam (separate ops, not the fused kernel) lands within float32 rounding of it.
    optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    assert max_abs(model(tf.constant(expected["inputs"])), expected["legacy/next_predictions"]) < 1e-6


def test_weights_only_leaves_optimizer_values(expected: dict) -> None:
    model, _ = built()
    report = keras2_to_keras3(FIXTURE / "legacy" / "ckpt", model)
    assert [m.role for m in report.mapped] == ["weight"] * 4
    assert "optimizer/iter" in report.left and "step" in report.left
    assert max_abs(model(tf.constant(expected["inputs"])), expected["legacy/predictions"]) == 0


class OneLayer(tf.keras.Model):
    """A model with `dense1` only: the checkpoint's `dense2` has nowhere to go."""

    def __init__(self) -> None:
        super().__init__()
        self.dense1 = tf.keras.layers.Dense(4, activation="relu")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.dense1(x)


def built_without_optimizer(model_class: type) -> tuple[tf.keras.Model, None]:
    """A Keras 3 model of another shape, built on the fixture's 3 features, migrated weights only."""
    model = model_class(4) if model_class is FinetuneModel else model_class()
    model(tf.zeros([1, 3]))
    return model, None


REFUSALS = {  # case: (fixture, live objects, expected error, words its message holds)
    "narrower layer": ("adam", lambda: built(hidden=5), ShapeMismatchError, "has shape"),
    "narrower layer, legacy": ("legacy", lambda: built(hidden=5), ShapeMismatchError, "has shape"),
    "SGD for Adam": (
        "adam",
        lambda: built(optimizer=tf.keras.optimizers.SGD(momentum=0.9)),
        OptimizerMismatchError,
        "Adam",
    ),
    "other beta_1": (
        "legacy",
        lambda: built(optimizer=tf.keras.optimizers.Adam(beta_1=0.8)),
        OptimizerMismatchError,
        "beta_1",
    ),
    "amsgrad": (
        "adam",
        lambda: built(optimizer=tf.keras.optimizers.Adam(amsgrad=True)),
        MissingValueError,
        "velocity_hat",
    ),
    "two layers of one name": ("samename", built, OptimizerMismatchError, "2 weights 'same_names/d/kernel'"),
    "layer missing": ("adam", lambda: built_without_optimizer(OneLayer), ExtraValueError, "model/dense2"),
    "extra layer": ("adam", lambda: built_without_optimizer(FinetuneModel), MissingValueError, "head1"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusal_leaves_variables_untouched(case: str) -> None:
    kind, make, error, words = REFUSALS[case]
    model, optimizer = make()
    live = [model] + ([optimizer] if optimizer is not None else [])
    before = values(*live)
    with pytest.raises(error) as caught:
        keras2_to_keras3(FIXTURE / kind / "ckpt", model, optimizer)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    after = values(*live)
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)


def test_unbuilt_model_or_optimizer_refused() -> None:
    with pytest.raises(UnbuiltModelError, match="call it once"):
        keras2_to_keras3(FIXTURE / "adam" / "ckpt", MyModel(4))
    model = MyModel(4)
    model(tf.zeros([1, 3]))
    with pytest.raises(UnbuiltModelError, match=r"optimizer\.build"):
        keras2_to_keras3(FIXTURE / "adam" / "ckpt", model, tf.keras.optimizers.Adam())


def test_missing_checkpoint_is_one_line(tmp_path: Path) -> None:
    model, optimizer = built()
    with pytest.raises(CheckpointNotFoundError):
        keras2_to_keras3(tmp_path / "nothing", model, optimizer)


@pytest.mark.parametrize("kind", KINDS)
def test_cli_writes_a_keras3_checkpoint(kind: str, tmp_path: Path, expected: dict, capsys) -> None:
    out = tmp_path / "k3" / "ckpt"
    assert main(["migrate", "--model", "keras", str(FIXTURE / kind / "ckpt"), str(out)]) == 0
    assert "values migrated" in capsys.readouterr().out
    model, optimizer = built()
    step = tf.Variable(0, dtype=tf.int32)
    tf.train.Checkpoint(model=model, optimizer=optimizer, step=step).read(str(out)).assert_consumed()
    assert int(step) == 3 and int(optimizer.iterations) == 3
    assert max_abs(model(tf.constant(expected["inputs"])), expected[f"{kind}/predictions"]) == 0
    assert (
        main(["migrate", "--model", "keras", str(FIXTURE / kind / "ckpt"), str(out)]) == 2
    )  # never overwrites
    assert "already holds a checkpoint" in capsys.readouterr().err


def test_keras3_checkpoint_is_not_migrated(tmp_path: Path) -> None:
    model, optimizer = built()
    path = tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(tmp_path / "k3"))
    with pytest.raises(ckptkit.CheckpointError, match="written by Keras 3"):
        keras2_to_keras3(path, *built())


def test_schedule_moves_when_keras3_follows_the_same_schedule(expected: dict) -> None:
    """Keras 2 stored the last rate, not the schedule: with the schedule recreated, the next step is exact."""
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)
    model, optimizer = built(optimizer=tf.keras.optimizers.Adam(schedule))
    report = keras2_to_keras3(FIXTURE / "schedule" / "ckpt", model, optimizer)
    assert report.left == ["optimizer/_current_learning_rate", "step"] and int(optimizer.iterations) == 3
    inputs, targets = tf.constant(expected["inputs"]), tf.constant(expected["targets"])
    assert max_abs(model(inputs), expected["schedule/predictions"]) == 0
    ckptkit.train_step(model, None, optimizer, inputs, targets)
    for i, layer in enumerate((model.dense1, model.dense2)):
        for name in ("kernel", "bias"):
            assert max_abs(getattr(layer, name), expected[f"schedule/next/{i}/{name}"]) == 0


def sequential() -> tuple[tf.keras.Model, object]:
    """A Keras 3 Sequential of the fixture's shape, and a built Adam."""
    model = tf.keras.Sequential(
        [tf.keras.Input((3,)), tf.keras.layers.Dense(4, activation="relu"), tf.keras.layers.Dense(1)]
    )
    optimizer = tf.keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    return model, optimizer


def schedule_adam() -> tf.keras.optimizers.Adam:
    return tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.ExponentialDecay(0.01, 2, 0.5))


UNMAPPED = {  # case: (fixture, live objects, expected error, words its message holds)
    "Sequential": ("sequential", sequential, ckptkit.ModelMismatchError, "set_weights()"),
    "Sequential, weights only": (
        "sequential",
        lambda: (sequential()[0], None),
        ckptkit.ModelMismatchError,
        "map the keys by hand",
    ),
    "LossScaleOptimizer": ("lossscale", built, OptimizerMismatchError, "optimizer=None"),
    "schedule into a constant rate": ("schedule", built, OptimizerMismatchError, "a schedule"),
    "constant rate into a schedule": (
        "adam",
        lambda: built(optimizer=schedule_adam()),
        OptimizerMismatchError,
        "a number",
    ),
}


@pytest.mark.parametrize("case", UNMAPPED)
def test_unmapped_layouts_are_refused_in_one_line_untouched(case: str) -> None:
    kind, make, error, words = UNMAPPED[case]
    model, optimizer = make()
    live = [model] + ([optimizer] if optimizer is not None else [])
    before = values(*live)
    with pytest.raises(error) as caught:
        keras2_to_keras3(FIXTURE / kind / "ckpt", model, optimizer)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    after = values(*live)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_loss_scale_weights_only_migrate(expected: dict) -> None:
    model, _ = built()
    report = keras2_to_keras3(FIXTURE / "lossscale" / "ckpt", model)
    assert [m.role for m in report.mapped] == ["weight"] * 4
    assert max_abs(model(tf.constant(expected["inputs"])), expected["lossscale/predictions"]) == 0


class KernelLayer(tf.keras.layers.Layer):
    """A Keras 3 layer whose weight attribute is `kernel`, as Keras 3.0.0-3.0.2's Dense named it."""

    def build(self, shape: tuple[int, ...]) -> None:
        self.kernel = self.add_weight(shape=(shape[-1], 2))

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return x @ self.kernel


class KernelModel(tf.keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.layer = KernelLayer()

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.layer(x)


def test_keras3_checkpoint_without_underscored_keys_is_recognised(tmp_path: Path) -> None:
    """Keys alone can look like Keras 2's; Keras 3's optimizer names (`adam/iteration`) give it away."""
    model, optimizer = KernelModel(), tf.keras.optimizers.Adam()
    model(tf.zeros([1, 3]))
    optimizer.build(model.trainable_variables)
    path = tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(tmp_path / "k3"))
    assert "model/layer/kernel/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(path))
    with pytest.raises(ckptkit.CheckpointError, match="written by Keras 3"):
        keras2_to_keras3(path, model, optimizer)


@pytest.mark.parametrize("kind", ["momentum", "legacy_momentum"])
def test_sgd_with_momentum_migrates_and_takes_keras2s_next_step(kind: str, expected: dict) -> None:
    """Keras 2 names SGD's slot `m` (default optimizer) or `momentum` (legacy); Keras 3 keeps `momentums`."""
    with np.load(FIXTURE / "momentum.npz") as data:
        seen = dict(data)
    model, optimizer = built(optimizer=tf.keras.optimizers.SGD(0.01, momentum=0.9))
    report = keras2_to_keras3(FIXTURE / kind / "ckpt", model, optimizer)
    assert [m.role for m in report.mapped].count("momentum of model/dense1/_kernel") == 1
    inputs, targets = tf.constant(expected["inputs"]), tf.constant(expected["targets"])
    assert max_abs(model(inputs), seen[f"{kind}/predictions"]) == 0
    ckptkit.train_step(model, None, optimizer, inputs, targets)
    assert max_abs(model(inputs), seen[f"{kind}/next_predictions"]) < 1e-6


@pytest.mark.parametrize(
    ("kind", "momentum", "said"),
    [
        ("momentum", 0.0, "holds momentum slots but this SGD keeps none: create it with momentum > 0"),
        ("legacy_momentum", 0.0, "holds momentum slots but this SGD keeps none"),
        ("legacy_momentum", 0.5, "momentum is 0.9 but the optimizer's is 0.5: create the optimizer with"),
    ],
)
def test_sgd_momentum_that_does_not_fit_is_refused(kind: str, momentum: float, said: str) -> None:
    model, optimizer = built(optimizer=tf.keras.optimizers.SGD(0.01, momentum=momentum))
    before = values(model, optimizer)
    with pytest.raises(ckptkit.CheckpointError, match=re.escape(said)):
        keras2_to_keras3(FIXTURE / kind / "ckpt", model, optimizer)
    after = values(model, optimizer)
    assert {k: max_abs(v, after[k]) for k, v in before.items()} == dict.fromkeys(before, 0.0)


def test_two_layers_of_one_name_migrate_their_weights_by_attribute() -> None:
    """Their slots cannot be told apart (refused above); their weights are found by attribute path."""
    model, _ = built()
    report = keras2_to_keras3(FIXTURE / "samename" / "ckpt", model)
    reader = tf.train.load_checkpoint(str(FIXTURE / "samename" / "ckpt"))
    assert [m.source for m in report.mapped] == [
        f"model/{layer}/{name}" for layer in ("dense1", "dense2") for name in ("kernel", "bias")
    ]
    for m in report.mapped:
        layer, name = m.source.split("/")[1:]
        stored = reader.get_tensor(m.source + "/.ATTRIBUTES/VARIABLE_VALUE")
        assert max_abs(getattr(getattr(model, layer), name), stored) == 0
