"""The exercise checks of notebook 10_checkpoint_life.ipynb."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.exercises.feedback import Feedback
from ckptkit.files.reader import VALUE_SUFFIX
from ckptkit.live.migrate import keras2_to_keras3
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import live_variables, snapshot
from ckptkit.runs.models import MyModel

import os

import numpy as np

tf = import_tensorflow()

__all__ = ["check_migrated", "check_savedmodel_restored"]


def check_savedmodel_restored(model: object, saved_model: str | os.PathLike[str]) -> Feedback:
    """Check that each variable of `model` holds what the SavedModel `saved_model` stored (notebook 10)."""
    if not isinstance(model, tf.keras.Model) or not model.variables:
        return Feedback(False, "build the model first (call it once on a batch), then restore into it")
    try:
        reader = tf.train.load_checkpoint(os.path.join(os.fspath(saved_model), "variables", "variables"))
    except (tf.errors.OpError, ValueError):
        return Feedback(False, f"there is no SavedModel at {os.fspath(saved_model)!r}: save one first")
    stored = reader.get_variable_to_shape_map()
    pairs = list(live_variables(model))
    if any(p + VALUE_SUFFIX not in stored for p, _ in pairs):
        return Feedback(False, "this model's layers are not the ones the SavedModel holds: use a Net")
    same = sum(np.array_equal(v.numpy(), reader.get_tensor(p + VALUE_SUFFIX)) for p, v in pairs)
    if same == len(pairs):
        return Feedback(True, f"right: all {same} variables hold the SavedModel's values")
    if same == 0:
        return Feedback(
            False,
            "no variable holds the SavedModel's value yet: its keys start at the model itself "
            "(dense1/_kernel), so which object must be the checkpoint's root?",
        )
    return Feedback(False, f"only {same} of {len(pairs)} variables hold the SavedModel's values")


def check_migrated(model: object, optimizer: object, path: str | os.PathLike[str]) -> Feedback:
    """Check that `model` and `optimizer` hold what the Keras 2 checkpoint `path` stored (notebook 10)."""
    if not isinstance(model, MyModel) or not model.variables:
        return Feedback(False, "use a built MyModel(hidden=4): call it once on a batch")
    if not isinstance(optimizer, tf.keras.optimizers.Adam) or not optimizer.built:
        return Feedback(False, "use a built Adam: optimizer.build(model.trainable_variables)")
    truth_model, truth_optimizer = MyModel(hidden=model.dense1.units), tf.keras.optimizers.Adam()
    truth_model(tf.zeros([1, model.dense1.kernel.shape[0]]))
    truth_optimizer.build(truth_model.trainable_variables)
    try:
        keras2_to_keras3(path, truth_model, truth_optimizer)
    except CheckpointError as err:
        return Feedback(False, str(err))

    def agree(a: object, b: object) -> bool:
        values = snapshot(a), snapshot(b)
        return values[0].keys() == values[1].keys() and all(
            np.array_equal(values[0][k], values[1][k]) for k in values[0]
        )

    if not agree(model, truth_model):
        return Feedback(
            False,
            "the weights differ from the Keras 2 checkpoint's: map them by name (a plain restore cannot)",
        )
    if not agree(optimizer, truth_optimizer):
        return Feedback(
            False, "the weights are right, but Adam's moments or update count are not: migrate them too"
        )
    return Feedback(
        True, "right: the weights and Adam's state equal the Keras 2 checkpoint's, value for value"
    )
