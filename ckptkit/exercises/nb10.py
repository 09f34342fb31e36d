"""The exercise check of notebook 10_checkpoint_life.ipynb: a SavedModel's variables read back into a
model."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, judged, placeholder_or_error, watch
from ckptkit.live.quiet import import_tensorflow
from ckptkit.runs.models import FinetuneModel, MyModel

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_load_savedmodel"]

SECTION_SAVEDMODEL = "section 'Read a SavedModel's variables/ as a checkpoint'"


def _sequential(features: int) -> tf.keras.Model:
    return tf.keras.Sequential(
        [tf.keras.Input((features,)), tf.keras.layers.Dense(3, activation="tanh"), tf.keras.layers.Dense(2)]
    )


def _called(model: tf.keras.Model, features: int) -> tf.keras.Model:
    """`model` after one call on `features` inputs: a subclassed model has no variables before it."""
    model(tf.zeros([1, features]))
    return model


def _subclassed(features: int) -> tf.keras.Model:
    return _called(MyModel(hidden=6), features)


# Each writer lays the variables out its own way; the hint says how when that layout defeats an answer.
_WRITERS = (
    ("tf.saved_model.save", "save", "tf.saved_model.save makes the model itself the root of its keys"),
    ("model.export", "export", "model.export numbers the variables: hand them over in the model's own order"),
    (
        "tf.saved_model.save of a tf.Module holding it as an attribute",
        "tf.Module",
        "there the model is a child of the root, under the name that starts each of its keys",
    ),
)


def _write(how: str, model: tf.keras.Model, folder: str, attribute: str) -> None:
    """Write `model` as a SavedModel into `folder` the way `how` names."""
    if how == "export":
        model.export(folder, verbose=False)
    elif how == "save":
        tf.saved_model.save(model, folder)
    else:
        holder = tf.Module()
        setattr(holder, attribute, model)
        tf.saved_model.save(holder, folder)


def _savedmodels(root: Path) -> Iterator[tuple[str, str, Callable, list[np.ndarray], str]]:
    """SavedModels the check writes itself, one at a time: (description, folder, maker, values, hint)."""
    rng = np.random.default_rng(10)
    # The attribute a tf.Module holds each model under: not a name the notebook uses, and one per kind.
    holders = {_subclassed: "regressor", _sequential: "head"}
    for name, make in (("MyModel(hidden=6), compiled", _subclassed), ("a Sequential", _sequential)):
        model = make(5)
        for v in model.variables:  # values no fresh model starts with
            v.assign(rng.normal(size=v.shape).astype(np.float32))
        if make is _sequential:  # but a zero bias, as a Dense layer starts: filled is not "changed"
            model.layers[-1].bias.assign(tf.zeros_like(model.layers[-1].bias))
        if make is _subclassed:  # compiled: tf.saved_model.save then holds Adam's variables too
            model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
            model.optimizer.build(model.trainable_variables)
        truth = [v.numpy().copy() for v in model.variables]
        for writer, how, hint in _WRITERS:
            folder = os.fspath(root / f"{make.__name__}-{how}")
            _write(how, model, folder, holders[make])
            yield f"{name}, written by {writer}", folder, make, truth, hint


def _judge_one(
    load_savedmodel: Callable, what: str, folder: str, model: object, truth: list, hint: str
) -> Feedback | None:
    """Run `load_savedmodel` on one folder; None when every variable holds the SavedModel's value."""
    before = [v.numpy().copy() for v in model.variables]
    seen = watch(load_savedmodel, model, folder)
    if seen.error is not None:
        return placeholder_or_error(f"load_savedmodel(model, folder) for {what}", seen.error)
    now = [v.numpy() for v in model.variables]
    if seen.restores == 0 and all(np.array_equal(a, b) for a, b in zip(now, before, strict=True)):
        return placeholder_or_error("load_savedmodel", None)
    same = sum(np.array_equal(a, b) for a, b in zip(now, truth, strict=True))
    if same < len(truth):
        silent = " (a restore that matches nothing raises nothing)" if same == 0 else ""
        return Feedback(
            False,
            f"for {what}, {same} of {len(truth)} variables hold its values{silent}: {hint} "
            f"({SECTION_SAVEDMODEL})",
        )
    if not seen.restored_through_checkpoint(list(model.variables)):
        return Feedback(
            False,
            f"for {what} the values are right, but no tf.train.Checkpoint read them: the folder's "
            f"variables/variables is a checkpoint, read it as one ({SECTION_SAVEDMODEL})",
        )
    # A status nobody handled lives as long as the model it restored into: drop the model, so it logs now.
    del model
    if any("could not be found" in line or "Unresolved object" in line for line in seen.release()):
        return Feedback(
            False,
            f"for {what} the values are right, but a restore status was left unhandled: TensorFlow "
            f"logged warnings about the values nothing read; tell the status they are expected "
            f"({SECTION_SAVEDMODEL})",
        )
    return None


def _finetune(features: int) -> tf.keras.Model:
    return _called(FinetuneModel(hidden=6), features)


# Models a MyModel(hidden=6) folder does not fit: (maker, what it is, what the folder holds of it).
_MISFITS = (
    (_sequential, "a Sequential", "none of its variables"),
    (_finetune, "a FinetuneModel (MyModel's dense1 under a new head)", "only its dense1's variables"),
)


def _judge_misfit(load_savedmodel: Callable, what: str, folder: str) -> Feedback | None:
    """Hand `load_savedmodel` models a subclassed model's folder does not fill; None when each raised."""
    for make, kind, holds in _MISFITS:
        seen = watch(load_savedmodel, make(5), folder)
        seen.release()  # the statuses of a read that raised log their warnings here, not in the next call
        if seen.error is None:
            return Feedback(
                False,
                f"handed {kind} and the folder of {what}, which holds {holds}, load_savedmodel returned "
                f"without an error: raise when a variable of the model stays unfilled ({SECTION_SAVEDMODEL})",
            )
    return None


@judged
def check_load_savedmodel(load_savedmodel: object) -> Feedback:
    """Notebook 10, exercise 1: `load_savedmodel(model, folder)` fills a built model from a SavedModel.

    The check writes SavedModels of its own (a subclassed `MyModel(hidden=6)`, compiled, and a
    Sequential; each by `tf.saved_model.save`, by `model.export`, and as the attribute of a saved
    `tf.Module`), hands the function a fresh model of the same kind, and compares every variable; a
    Sequential, which the subclassed model's folders do not fill at all, and a FinetuneModel, which they
    fill in part, must make the function raise.
    """
    if not callable(load_savedmodel):
        return Feedback(False, "load_savedmodel must be a function of (model, folder)")
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb10-") as root:
        count, misfits = 0, []
        for what, folder, make, truth, hint in _savedmodels(Path(root)):
            if (wrong := _judge_one(load_savedmodel, what, folder, make(5), truth, hint)) is not None:
                return wrong
            count += 1
            misfits += [(what, folder)] if make is _subclassed else []
        for what, folder in misfits:  # only once every folder loads: a wrong value is the first thing to fix
            if (wrong := _judge_misfit(load_savedmodel, what, folder)) is not None:
                return wrong
    return Feedback(
        True,
        f"right: {count} SavedModels of the check's own (MyModel(hidden=6), compiled, and a Sequential; "
        "each by tf.saved_model.save, by model.export and inside a tf.Module) filled a fresh model exactly, "
        "and a Sequential and a FinetuneModel handed the subclassed model's folders raised",
    )
