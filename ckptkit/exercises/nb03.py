"""The exercise checks of notebook 03_pretrain_finetune.ipynb."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.exercises.feedback import Feedback, fails
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import snapshot, value_of

import os

import numpy as np

tf = import_tensorflow()

__all__ = ["check_backbone_restored", "check_frozen", "check_own_folder"]


def check_own_folder(manager: object, others: list[tf.train.CheckpointManager]) -> Feedback:
    """Notebook 03, exercise 1: `manager` writes to a folder that no other manager and no other files use."""
    if not isinstance(manager, tf.train.CheckpointManager):
        return Feedback(False, f"this is a {type(manager).__name__}, not a tf.train.CheckpointManager")
    mine = os.path.abspath(manager.directory)
    for other in others:
        if other is not manager and os.path.abspath(other.directory) == mine:
            return Feedback(
                False,
                f"{manager.directory} is already another stage's folder: one state file per folder means "
                "the two managers would overwrite each other's 'latest' and delete each other's files",
            )
    found = sorted(
        f for f in (os.listdir(mine) if os.path.isdir(mine) else []) if f == "checkpoint" or ".index" in f
    )
    if found:
        return Feedback(
            False,
            f"{manager.directory} already holds checkpoints ({', '.join(found[:3])}): this manager would "
            "take over that state file and could delete those files; a new stage needs a new folder",
        )
    return Feedback(True, f"right: {manager.directory} belongs to this stage alone")


def check_backbone_restored(load_backbone: object, path: str | os.PathLike[str]) -> Feedback:
    """Notebook 03, exercise 2: `load_backbone(model, path)` fills a new model's backbone, and only it.

    The check hands a new, unbuilt `FinetuneModel` to the function, then compares its backbone with
    the file and its head with the values the head had before.
    """
    from ckptkit.runs.models import FinetuneModel

    if not callable(load_backbone):
        return Feedback(False, "load_backbone must be a function of (model, path)")
    try:
        stored = snapshot(path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    if "model/dense1/_kernel" not in stored:
        return Feedback(
            False, f"{os.fspath(path)} holds no backbone (model/dense1): pick a pretrain checkpoint"
        )
    model = FinetuneModel(hidden=stored["model/dense1/bias"].shape[0])
    try:
        load_backbone(model, path)
    except Exception as err:
        return fails("load_backbone(model, path)", err)
    if not model.built:
        return Feedback(
            False, "the model is still unbuilt after load_backbone: its backbone has no variables"
        )
    for name, var in (("_kernel", model.dense1.kernel), ("bias", model.dense1.bias)):
        if not np.array_equal(value_of(var), stored[f"model/dense1/{name}"]):
            return Feedback(
                False,
                f"dense1's {name.strip('_')} differs from the checkpoint: was the model built before "
                "the restore, and does the restore reach model/dense1?",
            )
    if len(model.variables) != 6:
        return Feedback(
            False, f"the model has {len(model.variables)} variables instead of 6: build it before restoring"
        )
    return Feedback(True, "right: a new model's backbone holds the pretrained values and its head is new")


def check_frozen(model: object) -> Feedback:
    """Notebook 03, exercise 3: `model`'s backbone `dense1` is frozen and its head trains.

    The check takes one SGD step on random data, then puts every value back: the backbone must not
    move and the head must.
    """
    import keras

    if not isinstance(model, keras.Model) or not hasattr(model, "dense1"):
        return Feedback(False, "this is not a model with a dense1 backbone: pass the FinetuneModel")
    if not model.built:
        return Feedback(False, "the model is not built yet: call it once on a batch first")
    if not model.trainable_variables:
        return Feedback(False, "nothing is trainable any more: freeze only the backbone, not the whole model")
    before = {id(v): value_of(v) for v in model.variables}
    inputs = tf.random.stateless_normal([4, model.dense1.kernel.shape[0]], seed=[0, 1])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs) - 1.0))
    variables = model.trainable_variables
    keras.optimizers.SGD(0.1).apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    moved = {id(v) for v in model.variables if not np.array_equal(value_of(v), before[id(v)])}
    for v in model.variables:
        v.assign(before[id(v)])
    if any(id(v) in moved for v in model.dense1.variables):
        return Feedback(False, "a training step still moves dense1: the backbone is not frozen")
    if not moved:
        return Feedback(False, "a training step moves nothing: freeze only the backbone, not the whole model")
    return Feedback(True, f"right: a training step moves only the head ({len(variables)} variables)")
