"""The exercise check of notebook 11_keras2_to_keras3.ipynb: a Keras 2 Sequential or Functional
checkpoint migrated by hand."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, placeholder_or_error
from ckptkit.live.quiet import import_tensorflow
from ckptkit.runs.step import train_step

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_migrate_layered"]

SECTION_MIGRATE = "sections 'Migrate by full names' and 'Read a Keras 2 Sequential's keys'"
# Keras 2's next Adam step, repeated in Keras 3 from an exact migration, lands within float32
# rounding of it (measured here: bit for bit but one value); a wrong or missing rate or moment is
# 1e5 spacings away or more. Counted against each tensor's largest value, so a weight near 0 whose
# update rounds one step differently on another CPU is not taken for a wrong migration.
NEXT_STEP_TOLERANCE = 4  # float32 spacings of the tensor's largest |value|
WRONG_LEARNING_RATE = 0.5  # the rate the check's Adam is made with, as in the notebook's migrations


def _layered(spec: dict) -> tuple[tf.keras.Model, tf.keras.optimizers.Adam]:
    """A fresh Keras 3 model of `spec` (Sequential or Functional Dense layers) and a wrong-rate built Adam."""
    dense = [tf.keras.layers.Dense(units, activation=activation) for units, activation in spec["layers"]]
    if spec["kind"] == "sequential":
        model = tf.keras.Sequential([tf.keras.Input((spec["features"],)), *dense])
    else:
        inputs = outputs = tf.keras.Input((spec["features"],))
        for layer in dense:
            outputs = layer(outputs)
        model = tf.keras.Model(inputs, outputs)
    # None of the checkpoints' rates (specs.json: none is the notebook's 0.01) nor Adam's default 0.001:
    # only a rate copied from each checkpoint gets the next step right.
    optimizer = tf.keras.optimizers.Adam(WRONG_LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def _next_step_gap(model: tf.keras.Model, optimizer: object, expected: dict, name: str) -> float:
    """Take Keras 3's next Adam step; its largest gap to Keras 2's, in spacings of each tensor's top value."""
    inputs, targets = tf.constant(expected[f"{name}/inputs"]), tf.constant(expected[f"{name}/targets"])
    train_step(model, None, optimizer, inputs, targets)
    weighted = [layer for layer in model.layers if layer.weights]
    pairs = [
        (getattr(layer, n).numpy(), expected[f"{name}/next/{i}/{n}"])
        for i, layer in enumerate(weighted)
        for n in ("kernel", "bias")
    ]
    return max(float(np.max(np.abs(w - truth)) / np.spacing(np.max(np.abs(truth)))) for w, truth in pairs)


def _judge(migrate_layered: Callable, folder: Path, name: str, spec: dict, expected: dict) -> Feedback | None:
    """Run `migrate_layered` on the check's checkpoint `name`; None when Keras 2's values all match."""
    model, optimizer = _layered(spec)
    what = f"a {spec['kind']} model of {len(spec['layers'])} Dense layers"
    if "moments" in spec:  # only full names tie these moments to their weights
        what += f" whose Adam's moments are {spec['moments']}"
    before = [v.numpy().copy() for v in model.variables + optimizer.variables]
    try:
        migrate_layered(os.fspath(folder / name / "ckpt"), model, optimizer)
    except Exception as err:
        if "moments" in spec and not isinstance(err, NotImplementedError):
            return Feedback(
                False,
                f"on {what}, migrate_layered raised {type(err).__name__}: find each moment by its weight's "
                f"full name, after the path component m or v, whatever is before it ({SECTION_MIGRATE})",
            )
        return placeholder_or_error(f"migrate_layered on {what}", err)
    after = [v.numpy() for v in model.variables + optimizer.variables]
    if all(np.array_equal(a, b) for a, b in zip(before, after, strict=True)):
        return placeholder_or_error("migrate_layered", None)
    predictions = model(tf.constant(expected[f"{name}/inputs"])).numpy()
    if float(np.max(np.abs(predictions - expected[f"{name}/predictions"]))) != 0:  # nan too
        return Feedback(
            False,
            f"on {what}, the predictions differ from Keras 2's: a Sequential's keys number the layers "
            f"that have weights; map each weight to the layer with that number ({SECTION_MIGRATE})",
        )
    if not (gap := _next_step_gap(model, optimizer, expected, name)) <= NEXT_STEP_TOLERANCE:  # nan too
        advice = "Adam's moments, its update count and its learning rate must move too"
        if "moments" in spec:
            advice = (
                "each moment must reach its own weight, found by that weight's full name, not number or shape"
            )
        return Feedback(
            False,
            f"on {what}, the weights are right but the next Adam step is {gap:.3g} float32 spacings from "
            f"Keras 2's: {advice} ({SECTION_MIGRATE})",
        )
    return None


def check_migrate_layered(
    migrate_layered: object, keras2: str | os.PathLike[str] = "data/keras2"
) -> Feedback:
    """Notebook 11, exercise 1: `migrate_layered(path, model, optimizer)` migrates a Keras 2 Sequential.

    The check hands the function Keras 2 checkpoints the notebook never shows (`keras2/check/`, by default
    relative to the notebooks' folder, where the notebook runs:
    Sequential and Functional models of other widths, depths, seeds and learning rates, one whose Adam
    numbered its moments in reverse layer order, one with its first two layers' swapped, written by
    tf-keras), each
    with a fresh Keras 3 model of the same layers and a built Adam of a wrong rate, then compares the
    predictions and one more Adam step with the values Keras 2 itself computed and stored.
    """
    if not callable(migrate_layered):
        return Feedback(False, "migrate_layered must be a function of (path, model, optimizer)")
    folder = Path(keras2) / "check"
    try:
        specs = json.loads((folder / "specs.json").read_text())
        with np.load(folder / "expected.npz") as data:
            expected = dict(data)
    except OSError:
        return Feedback(
            False, f"pass the folder of the Keras 2 checkpoints, data/keras2 (not {os.fspath(keras2)!r})"
        )
    for name, spec in specs.items():
        if (wrong := _judge(migrate_layered, folder, name, spec, expected)) is not None:
            return wrong
    return Feedback(
        True,
        f"right: {len(specs)} Keras 2 checkpoints the notebook never showed (Sequential and Functional, "
        "2 and 3 layers, one with Adam's moments in reverse layer order, one with its first two layers' "
        "swapped) migrated: predictions and Keras 2's next Adam step matched",
    )
