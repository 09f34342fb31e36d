"""Automatic checks for the notebooks' exercises: each answers in one sentence what is right or wrong."""

from __future__ import annotations

from ckptkit.env import import_tensorflow
from ckptkit.errors import CheckpointError
from ckptkit.models import seed_states
from ckptkit.restore import restore_checked
from ckptkit.snapshot import VALUE_SUFFIX, brief, live_variables, snapshot

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

tf = import_tensorflow()

__all__ = [
    "Feedback",
    "check_async_options",
    "check_backbone_restored",
    "check_branches",
    "check_checkpoint",
    "check_frozen",
    "check_matches_checkpoint",
    "check_own_folder",
    "check_read_value",
    "check_ready_to_restore",
    "check_restored",
    "check_resumable",
    "check_resumed",
    "check_save_interval",
    "check_save_schedule",
    "check_seed_states",
    "check_sharded",
    "check_status_method",
    "check_stored_key",
    "check_velocity_key",
]


@dataclass(frozen=True)
class Feedback:
    """The verdict of a check: passed or not, and one sentence saying why."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        """True when the answer is right."""
        return self.passed

    def __repr__(self) -> str:
        """A tick or a cross, then the sentence."""
        return ("✅ " if self.passed else "❌ ") + self.message


def _tracked(ckpt: tf.train.Checkpoint) -> dict[int, str]:
    """Map `id(object)` to its path for every object and variable the checkpoint would save."""
    paths = {id(v): p for p, v in live_variables(ckpt)}
    view = tf.train.TrackableView(ckpt)
    for name, child in view.children(ckpt).items():
        paths.setdefault(id(child), name)
    return paths


def check_checkpoint(ckpt: object, w: tf.Variable, b: tf.Variable, optimizer: object) -> Feedback:
    """Check that `ckpt` is a `tf.train.Checkpoint` tracking a step counter, `w`, `b` and the optimizer."""
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(
            False,
            f"this is a {type(ckpt).__name__}, not a checkpoint: create "
            "tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b), optimizer=optimizer)",
        )
    step = getattr(ckpt, "step", None)
    if not isinstance(step, tf.Variable) or step.shape != () or not step.dtype.is_integer:
        return Feedback(False, "your checkpoint has no step counter: add step=tf.Variable(0)")
    tracked = _tracked(ckpt)
    for name, var in (("w", w), ("b", b)):
        if id(var) not in tracked:
            return Feedback(False, f"your checkpoint does not track {name}: add model_variables=(w, b)")
    if id(optimizer) not in tracked:
        return Feedback(
            False,
            "your checkpoint does not track the optimizer: add optimizer=optimizer so its "
            "iteration count is saved too",
        )
    return Feedback(True, f"right: it tracks step, w, b and the optimizer ({len(tracked)} objects in all)")


def check_save_schedule(should_save: Callable[[int], bool], epochs: int = 20, every: int = 10) -> Feedback:
    """Check that `should_save(epoch)`, epochs from 0, saves after every `every`-th epoch and the last."""
    saved = [e for e in range(epochs) if should_save(e)]
    wanted = [e for e in range(epochs) if (e + 1) % every == 0]
    if saved == wanted:
        return Feedback(True, f"right: it saves after epochs {[e + 1 for e in saved]}, the last one included")
    if epochs - 1 not in saved:
        return Feedback(
            False,
            f"it saves after epochs {[e + 1 for e in saved]} (counting from 1), so the last "
            f"{epochs - 1 - max(saved, default=-1)} epochs are never saved: test (epoch + 1) % {every} == 0",
        )
    return Feedback(
        False,
        f"it saves after epochs {[e + 1 for e in saved]}, not every {every} epochs: "
        f"test (epoch + 1) % {every} == 0",
    )


def check_restored(w: object, b: object, path: str | os.PathLike[str]) -> Feedback:
    """Check that new variables `w` and `b` hold the values stored in checkpoint `path`."""
    try:
        stored = snapshot(path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    for name, var, key in (("w", w, "model_variables/0"), ("b", b, "model_variables/1")):
        if not isinstance(var, tf.Variable):
            return Feedback(False, f"{name} is a {type(var).__name__}: make it a tf.Variable")
        if key not in stored:
            return Feedback(False, f"{path} has no {key}: pick one saved with model_variables=(w, b)")
        want, have = stored[key], var.numpy()
        if have.shape != want.shape:
            return Feedback(False, f"{name} has shape {have.shape} but the checkpoint stores {want.shape}")
        if not np.array_equal(have, want):
            return Feedback(
                False,
                f"{name} = {brief(have)} but the checkpoint stores {brief(want)}: restore with "
                "tf.train.Checkpoint(model_variables=(w, b)).restore(path)",
            )
    return Feedback(True, "right: both new variables hold the checkpoint's values")


def check_ready_to_restore(ckpt: tf.train.Checkpoint, path: str | os.PathLike[str]) -> Feedback:
    """Restore `path` into `ckpt` with every check on, and say whether every value found its variable."""
    try:
        report = restore_checked(ckpt, path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    if report.only_in_checkpoint:
        return Feedback(
            False, f"these stored values found no variable: {', '.join(report.only_in_checkpoint)}"
        )
    return Feedback(True, f"right: all {len(report.matched)} stored values were restored")


def check_velocity_key(
    answer: object, model: tf.keras.Model, optimizer: tf.keras.optimizers.Optimizer
) -> Feedback:
    """Check `answer` is the checkpoint key of Adam's second moment (velocity) for `model.dense2.kernel`."""
    index = next(i for i, v in enumerate(model.trainable_variables) if v is model.dense2.kernel)
    slot = 2 + 2 * index + 1  # iterations, learning_rate, then (momentum, velocity) per variable
    if not optimizer.variables[slot].path.endswith("_velocity"):
        raise RuntimeError("this Keras version orders Adam's slots differently: update the exercise")
    wanted = f"optimizer/_variables/{slot}"
    if answer == wanted:
        return Feedback(True, f"right: {wanted} ({optimizer.variables[slot].path})")
    if answer == f"optimizer/_variables/{slot - 1}":
        return Feedback(False, "that is the first moment (momentum); the velocity comes right after it")
    return Feedback(
        False,
        f"{answer!r} is not it: count iterations and learning_rate (0, 1), then two slots per trainable "
        f"variable in order; dense2's kernel is trainable variable {index}",
    )


def check_resumed(losses: list[float], reference: list[float]) -> Feedback:
    """Check that a resumed run's `losses` equal, bit for bit, those of the run that was never stopped."""
    losses = [float(x) for x in losses]
    if not losses:
        return Feedback(
            False, "no losses yet: restore the checkpoint, then train and collect each step's loss"
        )
    if len(losses) != len(reference):
        return Feedback(
            False, f"{len(losses)} losses, but the uninterrupted run has {len(reference)} to compare"
        )
    for i, (got, want) in enumerate(zip(losses, reference, strict=True)):
        if got != want:
            return Feedback(
                False,
                f"step {i + 1} after the restore has loss {got:.6g}, the uninterrupted run {want:.6g}: "
                "restore the optimizer too, built before restore",
            )
    return Feedback(True, f"right: all {len(losses)} losses equal the uninterrupted run's, bit for bit")


def check_own_folder(
    manager: tf.train.CheckpointManager, others: list[tf.train.CheckpointManager]
) -> Feedback:
    """Check that `manager` writes to a folder no other manager in `others` uses."""
    mine = os.path.abspath(manager.directory)
    for other in others:
        if other is not manager and os.path.abspath(other.directory) == mine:
            return Feedback(
                False,
                f"{manager.directory} is already another stage's folder: one state file per folder means "
                "the two managers would overwrite each other's 'latest' and delete each other's files",
            )
    return Feedback(True, f"right: {manager.directory} belongs to this stage alone")


def check_backbone_restored(model: tf.keras.Model, path: str | os.PathLike[str]) -> Feedback:
    """Check that `model.dense1` holds the checkpoint's backbone while the head keeps its own values."""
    if not model.built:
        return Feedback(False, "the model is not built: call it once on a batch before restoring into it")
    stored = snapshot(path)
    for name, var in (("_kernel", model.dense1.kernel), ("bias", model.dense1.bias)):
        if not np.array_equal(var.numpy(), stored[f"model/dense1/{name}"]):
            return Feedback(
                False,
                f"dense1's {name.strip('_')} differs from the checkpoint: restore through "
                "tf.train.Checkpoint(model=tf.train.Checkpoint(dense1=model.dense1))",
            )
    return Feedback(True, "right: the backbone holds the pretrained values and the head is new")


def check_frozen(model: tf.keras.Model) -> Feedback:
    """Check that the backbone `dense1` is frozen and the head still trains."""
    if not model.built:
        return Feedback(False, "the model is not built yet: call it once on a batch first (exercise 2)")
    trainable = {id(v) for v in model.trainable_variables}
    if any(id(v) in trainable for v in model.dense1.variables):
        return Feedback(False, "dense1's variables are still trainable: set model.dense1.trainable = False")
    if not trainable:
        return Feedback(False, "nothing is trainable any more: freeze only dense1, not the whole model")
    return Feedback(True, f"right: only the head trains ({len(trainable)} variables)")


def check_branches(history: object, wanted: int = 2) -> Feedback:
    """Check that a loss history holds at least `wanted` runs with training in them."""
    runs = [r for r in history.runs.values() if r.steps]
    if len(runs) >= wanted:
        return Feedback(True, f"right: {len(runs)} branches with training: {', '.join(r.name for r in runs)}")
    return Feedback(
        False,
        f"{len(runs)} branch(es) with training so far: save, train on, restore the earlier checkpoint, "
        "then train again to start a new branch",
    )


def check_stored_key(answer: object, path: str | os.PathLike[str], object_path: str) -> Feedback:
    """Check `answer` is the key under which the checkpoint stores the variable at `object_path`."""
    keys = {k for k, _ in tf.train.list_variables(os.fspath(path))}
    wanted = object_path + VALUE_SUFFIX
    if object_path in keys:  # a name-based (TF1) checkpoint: the key is the variable's name
        wanted = object_path
    if wanted not in keys:
        raise ValueError(f"{path} stores nothing at {object_path}: update the exercise")
    if answer in (wanted, object_path):
        return Feedback(True, f"right: {wanted}")
    if answer in keys or f"{answer}{VALUE_SUFFIX}" in keys:
        return Feedback(False, f"{answer!r} is stored, but it is another value: follow the attribute names")
    return Feedback(
        False, f"{answer!r} is not a key of this checkpoint: list them with tf.train.list_variables"
    )


STATUS_METHODS = {
    "assert_consumed": "it also fails on the head and optimizer values you chose to leave in the file",
    "expect_partial": "it silences the warnings but checks nothing: a backbone that got no value would pass",
    "assert_existing_objects_matched": "",
}


def check_status_method(answer: object) -> Feedback:
    """Check the status method that fails if a built object got nothing, yet accepts unused file values."""
    if answer == "assert_existing_objects_matched":
        return Feedback(True, "right: every object you built must match; extra values in the file are fine")
    if answer in STATUS_METHODS:
        return Feedback(False, f"not {answer}: {STATUS_METHODS[answer]}")
    return Feedback(False, f"{answer!r} is not a status method: pick one of {', '.join(STATUS_METHODS)}")


def check_read_value(value: object, path: str | os.PathLike[str], key: str) -> Feedback:
    """Check that `value` equals the value stored under `key`, read with no model."""
    stored = tf.train.load_variable(os.fspath(path), key)
    if value is None:
        return Feedback(False, "no value yet: tf.train.load_variable(path, key) reads one without a model")
    if np.shape(value) == np.shape(stored) and np.array_equal(np.asarray(value), stored):
        return Feedback(True, f"right: {key} = {brief(stored)}")
    return Feedback(False, f"{brief(np.asarray(value))} is not what {key} stores: read that exact key")


def check_matches_checkpoint(variables: Mapping[str, object], path: str | os.PathLike[str]) -> Feedback:
    """Check that each variable in `variables` (key -> variable) holds the value stored under that key."""
    stored = snapshot(path)
    for key, var in variables.items():
        if key not in stored:
            return Feedback(
                False, f"the checkpoint has no key {key!r}: its keys are {', '.join(sorted(stored))}"
            )
        have = np.asarray(var)
        if have.shape != stored[key].shape or not np.array_equal(have, stored[key]):
            return Feedback(
                False, f"{key}: yours is {brief(have)}, the checkpoint stores {brief(stored[key])}"
            )
    return Feedback(True, f"right: {', '.join(variables)} hold the checkpoint's values")


def check_resumable(ckpt: object, optimizer: object, iterator: object, generator: object) -> Feedback:
    """Check that `ckpt` tracks a step, the optimizer, the data iterator and the random generator."""
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(False, f"this is a {type(ckpt).__name__}, not a tf.train.Checkpoint")
    tracked = _tracked(ckpt)
    if not any(isinstance(getattr(ckpt, n, None), tf.Variable) for n in ("step", "epoch", "iteration")):
        return Feedback(False, "no step counter: add step=tf.Variable(0), or the run restarts its count")
    for name, obj, why in (
        ("optimizer", optimizer, "its moments and update count"),
        ("iterator", iterator, "the position in the data, shuffle buffer included"),
        ("generator", generator, "the random stream's state"),
    ):
        if id(obj) not in tracked:
            return Feedback(False, f"the {name} is not tracked: add {name}={name} to save {why}")
    return Feedback(True, "right: step, optimizer, data iterator and random generator are all saved")


def check_seed_states(chosen: object, model: tf.keras.Model) -> Feedback:
    """Check that `chosen` is exactly the list of the model's Dropout seed-generator states."""
    wanted = seed_states(model)
    got = list(chosen) if isinstance(chosen, list | tuple) else []
    if {id(v) for v in got} == {id(v) for v in wanted} and len(got) == len(wanted):
        return Feedback(True, f"right: {len(wanted)} seed state(s), which Checkpoint(model=...) leaves out")
    trainable = {id(v) for v in model.trainable_variables}
    if any(id(v) in trainable for v in got):
        return Feedback(False, "the trainable weights are saved with the model already: pick the seed states")
    return Feedback(False, "look in model.variables for the paths containing 'seed_generator_state'")


def check_async_options(options: object) -> Feedback:
    """Check that `options` is a `tf.train.CheckpointOptions` that saves in the background."""
    if not isinstance(options, tf.train.CheckpointOptions):
        return Feedback(False, f"this is a {type(options).__name__}: build tf.train.CheckpointOptions(...)")
    if not options.enable_async:
        return Feedback(False, "these options save synchronously: pass enable_async=True")
    return Feedback(True, "right: ckpt.save(path, options=options) now returns while the bytes are written")


def check_save_interval(interval: object, step_ms: float, save_ms: float, budget: float = 0.05) -> Feedback:
    """Check `interval` is the fewest steps between saves that keeps saving under `budget` of the time."""
    import math

    smallest = max(1, math.ceil(save_ms / (budget * step_ms)))
    if not isinstance(interval, int) or interval < 1:
        return Feedback(False, "the interval is a whole number of steps, 1 or more")
    share = save_ms / (interval * step_ms)
    if interval < smallest:
        return Feedback(
            False, f"saving every {interval} steps spends {share:.0%} of the time saving: save less often"
        )
    if interval > smallest:
        return Feedback(
            False, f"it fits the budget, but {smallest} steps would too, losing less work in a crash"
        )
    return Feedback(True, f"right: every {interval} steps, saves take {share:.1%} of the time")


def check_sharded(folder: str | os.PathLike[str], model: object, limit: int = 500_000) -> Feedback:
    """Check `folder`'s latest checkpoint holds `model`'s values in data files of at most `limit` bytes."""
    if not os.path.isdir(folder) or not (path := tf.train.latest_checkpoint(os.fspath(folder))):
        return Feedback(False, "no checkpoint in that folder yet: save one there with ckpt.save(...)")
    sizes = [os.path.getsize(f) for f in tf.io.gfile.glob(path + ".data-*")]
    if len(sizes) == 1:
        return Feedback(
            False, f"one data file of {sizes[0]:,} bytes: pass options= with a sharding callback to save"
        )
    if max(sizes) > limit:
        return Feedback(False, f"the largest data file has {max(sizes):,} bytes: lower max_shard_size")
    stored = list(snapshot(path).values())
    for name, var in live_variables(model):
        value = np.asarray(var.numpy())
        if not any(v.shape == value.shape and np.array_equal(v, value) for v in stored):
            return Feedback(False, f"the checkpoint does not hold the model's current {name}: save the model")
    return Feedback(True, f"right: {len(sizes)} data files of at most {max(sizes):,} bytes, values exact")
