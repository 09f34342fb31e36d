"""Automatic checks for the notebooks' exercises: each answers in one sentence what is right or wrong."""

from __future__ import annotations

from ckptkit.env import import_tensorflow
from ckptkit.errors import CheckpointError
from ckptkit.migrate import keras2_to_keras3
from ckptkit.models import MyModel, seed_states
from ckptkit.reader import VALUE_SUFFIX, open_checkpoint, resolve_checkpoint
from ckptkit.restore import restore_checked
from ckptkit.snapshot import brief, live_variables, snapshot, value_of
from ckptkit.training import fit

import itertools
import os
import warnings
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
    "check_converted",
    "check_frozen",
    "check_migrated",
    "check_own_folder",
    "check_ready_to_restore",
    "check_restored",
    "check_resumable",
    "check_resumed",
    "check_save_interval",
    "check_save_schedule",
    "check_saved_by_step",
    "check_savedmodel_restored",
    "check_seed_states",
    "check_sharded",
    "check_status_method",
    "check_step_reader",
    "check_stored_key",
    "check_velocity_key",
    "check_written_key",
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


def _fails(what: str, err: BaseException) -> Feedback:
    """A learner's code raised: say so in one line instead of a traceback."""
    return Feedback(
        False, f"{what} raised {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    )


def check_checkpoint(ckpt: object, w: tf.Variable, b: tf.Variable, optimizer: object) -> Feedback:
    """Notebook 01, exercise 1: `ckpt` is a `tf.train.Checkpoint` of a step counter, `w`, `b`, optimizer."""
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(
            False,
            f"this is a {type(ckpt).__name__}, not a tf.train.Checkpoint: name what to save as keywords",
        )
    step = getattr(ckpt, "step", None)
    if not isinstance(step, tf.Variable) or step.shape != () or not step.dtype.is_integer:
        return Feedback(
            False, "your checkpoint has no integer step counter: the training loop counts in ckpt.step"
        )
    tracked = _tracked(ckpt)
    for name, var in (("w", w), ("b", b)):
        if id(var) not in tracked:
            return Feedback(False, f"your checkpoint does not reach {name}: save the model's variables too")
    if id(optimizer) not in tracked:
        return Feedback(
            False, "your checkpoint does not track the optimizer, so its iteration count would not be saved"
        )
    return Feedback(True, f"right: it tracks step, w, b and the optimizer ({len(tracked)} objects in all)")


def check_save_schedule(should_save: Callable[[int], bool], epochs: int = 20, every: int = 10) -> Feedback:
    """Notebook 01, exercise 2: `should_save(epoch)` (from 0) saves every `every` epochs and after the last.

    Any rule that saves after the last epoch, at regular `every`-epoch intervals before it and
    within the first `every` epochs is right, e.g. `(epoch + 1) % 10 == 0` or
    `epoch % 10 == 0 or epoch == 19`.
    """
    try:
        saved = [e for e in range(epochs) if should_save(e)]
    except Exception as err:
        return _fails("should_save", err)
    shown = [e + 1 for e in saved]
    if not saved:
        return Feedback(False, "it never saves: the rule is false for every epoch")
    if saved[-1] != epochs - 1:
        return Feedback(
            False,
            f"it saves after epochs {shown} (counting from 1), so the last {epochs - 1 - saved[-1]} epochs "
            f"are never saved: make the rule true for the final epoch as well (epochs count from 0)",
        )
    if saved[0] >= every:
        return Feedback(
            False,
            f"it saves only after epochs {shown}: a crash before that loses all {saved[0] + 1} epochs; "
            f"save every {every} from the start too",
        )
    regular = [b - a for a, b in itertools.pairwise(saved[:-1])]
    if any(gap != every for gap in regular) or (len(saved) > 1 and saved[-1] - saved[-2] > every):
        return Feedback(False, f"it saves after epochs {shown}, not every {every} epochs")
    return Feedback(True, f"right: it saves after epochs {shown}, the last one included")


def check_restored(w: object, b: object, path: str | os.PathLike[str]) -> Feedback:
    """Notebook 01, exercise 3: new variables `w` and `b` hold the values stored in checkpoint `path`."""
    try:
        stored = snapshot(path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    for name, var, key in (("w", w, "model_variables/0"), ("b", b, "model_variables/1")):
        if not isinstance(var, tf.Variable):
            return Feedback(False, f"{name} is a {type(var).__name__}: make it a tf.Variable")
        if key not in stored:
            return Feedback(
                False, f"{os.fspath(path)} has no {key}: pick a checkpoint of this notebook's model"
            )
        want, have = stored[key], var.numpy()
        if have.shape != want.shape:
            return Feedback(False, f"{name} has shape {have.shape} but the checkpoint stores {want.shape}")
        if not np.array_equal(have, want):
            return Feedback(
                False,
                f"{name} = {brief(have)} but the checkpoint stores {brief(want)}: restore that file through "
                "a checkpoint shaped like the one that saved it, over the new variables",
            )
    return Feedback(True, "right: both new variables hold the checkpoint's values")


def check_ready_to_restore(
    ckpt: object, path: str | os.PathLike[str], model: tf.keras.Model, optimizer: object
) -> Feedback:
    """Notebook 02, exercise 1: `ckpt` over the new `model` and `optimizer` restores every value of `path`.

    The check restores `path` into `ckpt` (every check on) and compares each live value with the file.
    """
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(False, f"this is a {type(ckpt).__name__}, not a tf.train.Checkpoint")
    tracked = _tracked(ckpt)
    for name, obj in (("model", model), ("optimizer", optimizer)):
        if id(obj) not in tracked:
            return Feedback(
                False, f"this checkpoint does not track the new {name}: it must restore into the new objects"
            )
    try:
        report = restore_checked(ckpt, path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    if report.only_in_checkpoint or report.only_in_objects:
        missing = report.only_in_checkpoint or report.only_in_objects
        return Feedback(
            False, f"not every value found its place, e.g. {missing[0]}: mirror the saved structure"
        )
    stored = snapshot(report.path)
    for key, var in live_variables(ckpt):
        if key in stored and not np.array_equal(value_of(var), stored[key]):
            return Feedback(False, f"{key} does not hold the stored value after the restore")
    return Feedback(
        True, f"right: all {len(report.matched)} stored values were restored into the new objects"
    )


def _velocity_truth() -> tuple[dict[str, np.ndarray], list[tuple[str, str, np.ndarray]]]:
    """A three-layer model after one Adam step: (values in its file, [(variable, momentum key, velocity)])."""
    import tempfile

    import keras

    model = keras.Sequential([keras.Input((3,)), *(keras.layers.Dense(n) for n in (4, 3, 1))])
    optimizer = keras.optimizers.Adam(0.01)
    inputs = tf.random.stateless_normal([8, 3], seed=[1, 2])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs)))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    key_of = {id(v): k for k, v in live_variables(ckpt)}
    with tempfile.TemporaryDirectory(prefix="ckptkit-") as folder:
        stored = snapshot(ckpt.write(os.path.join(folder, "ckpt")))  # read back from the file
    rows = []
    for var in model.trainable_variables:
        index = optimizer._get_variable_index(var)  # Keras 3 keeps one moment pair per trainable variable
        momentum, velocity = optimizer._momentums[index], optimizer._velocities[index]
        rows.append((var.path, key_of[id(momentum)], value_of(velocity)))
    return stored, rows


def check_velocity_key(velocity_key: object) -> Feedback:
    """Notebook 02, exercise 2: `velocity_key(i)` names the key of Adam's velocity for trainable variable `i`.

    The check trains a model of its own (three Dense layers, six trainable variables) one Adam step,
    writes a checkpoint, and reads the value under each key the function returns.
    """
    if not callable(velocity_key):
        return Feedback(False, "velocity_key must be a function of the trainable variable's index")
    stored, rows = _velocity_truth()
    for i, (name, momentum_key, velocity) in enumerate(rows):
        try:
            answer = velocity_key(i)
        except Exception as err:
            return _fails(f"velocity_key({i})", err)
        key = str(answer).removesuffix(VALUE_SUFFIX)
        if key == momentum_key:
            return Feedback(False, f"velocity_key({i}) = {answer!r} is the first moment (momentum) of {name}")
        if key not in stored:
            slots = sorted(int(k.rsplit("/", 1)[1]) for k in stored if k.startswith("optimizer/_variables/"))
            return Feedback(
                False,
                f"velocity_key({i}) = {answer!r} is not a key of the checkpoint, whose moments are "
                f"optimizer/_variables/{slots[0]} to {slots[-1]}",
            )
        if not np.array_equal(stored[key], velocity):
            return Feedback(
                False,
                f"velocity_key({i}) = {answer!r} stores another value than the velocity of {name}: "
                "count every optimizer value that comes before the moments",
            )
    return Feedback(
        True, f"right: all {len(rows)} keys hold the velocity of their variable, read from the file"
    )


def check_resumed(
    resume: object, path: str | os.PathLike[str], inputs: tf.Tensor, targets: tf.Tensor, steps: int = 5
) -> Feedback:
    """Notebook 02, exercise 3: `resume(path)` gives a model and optimizer that continue a saved run exactly.

    The check trains what `resume` returns for `steps` steps, and compares each loss, bit for bit,
    with a run it resumes itself: new objects of the same classes, built, then restored.
    """
    import keras

    if not callable(resume):
        return Feedback(False, "resume must be a function of the checkpoint path")
    try:
        resolve_checkpoint(path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    try:
        got = resume(path)
    except Exception as err:
        return _fails("resume(path)", err)
    if (
        not isinstance(got, tuple)
        or len(got) != 2
        or not isinstance(got[0], keras.Model)
        or not isinstance(got[1], keras.optimizers.Optimizer)
    ):
        return Feedback(False, "resume(path) must return the pair (model, optimizer)")
    model, optimizer = got
    try:
        ref_model, ref_optimizer = type(model)(), type(optimizer).from_config(optimizer.get_config())
        ref_model(inputs[:1])
        ref_optimizer.build(ref_model.trainable_variables)
        restore_checked(tf.train.Checkpoint(model=ref_model, optimizer=ref_optimizer), path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    except Exception as err:  # a model class that needs arguments, or data of another shape
        return _fails(f"building a second {type(model).__name__} to compare with", err)
    want = fit(ref_model, None, ref_optimizer, inputs, targets, steps)
    try:
        with warnings.catch_warnings():  # a stray variable from a partial restore gets no gradient
            warnings.simplefilter("ignore")
            have = fit(model, None, optimizer, inputs, targets, steps)
    except Exception as err:
        return _fails("training what resume returned", err)
    if have[0] != want[0]:
        return Feedback(
            False,
            f"the first loss is {have[0]:.6g}, the saved run's {want[0]:.6g}: the model does not start "
            "from every stored weight",
        )
    for i, (a, b) in enumerate(zip(have, want, strict=True)):
        if a != b:
            return Feedback(
                False,
                f"step {i + 1} has loss {a:.6g}, the saved run {b:.6g}: the weights came back, but the "
                "optimizer does not carry on where it stopped",
            )
    return Feedback(True, f"right: all {steps} losses equal those of the saved run, bit for bit")


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
    from ckptkit.models import FinetuneModel

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
        return _fails("load_backbone(model, path)", err)
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


def check_branches(history: object, wanted: int = 3) -> Feedback:
    """Notebook 08, exercise 1: the lab's loss history holds at least `wanted` runs with training in them."""
    runs = getattr(history, "runs", None)
    if not isinstance(runs, Mapping):
        return Feedback(False, f"this is a {type(history).__name__}: pass the lab's history, lab.history")
    trained = [r for r in runs.values() if r.steps]
    if len(trained) >= wanted:
        names = ", ".join(r.name for r in trained)
        return Feedback(True, f"right: {len(trained)} branches with training: {names}")
    return Feedback(
        False,
        f"{len(trained)} branch(es) with training so far, {len(runs) - len(trained)} without: "
        "a restore starts a branch, and only training puts steps in it",
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


def check_written_key(path: str | os.PathLike[str], key: str, variable: object) -> Feedback:
    """Check the learner's checkpoint at `path` stores `variable`'s value under `key` (notebook 04)."""
    try:
        with open_checkpoint(path) as stored:
            keys = stored.stored_keys()
            value = stored.get(key) if stored.has(key) else None
    except CheckpointError:
        return Feedback(False, "no checkpoint there yet: write one with tf.train.Checkpoint(...).write(path)")
    if value is None:
        near = [k for k in keys if k.endswith(key.split("/", 1)[1])] or keys
        return Feedback(
            False,
            f"it stores {near[0]!r} but not {key!r}: a key starts with the keyword you pass to "
            "tf.train.Checkpoint, then the attribute names below it",
        )
    if np.shape(value) != tuple(variable.shape) or not np.array_equal(value, value_of(variable)):
        return Feedback(
            False, f"{key!r} holds other values than the variable asked for: track the right layer"
        )
    return Feedback(True, f"right: {key} = {brief(value)}")


def check_step_reader(read_step: Callable[[str], object], steps: tuple[int, ...] = (7, 4711)) -> Feedback:
    """Run `read_step(prefix)` on checkpoints written here, with steps it cannot know (notebook 04)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for number, step in enumerate(steps):
            prefix = tf.train.Checkpoint(
                step=tf.Variable(step, dtype=tf.int64), w=tf.Variable([0.5] * 3)
            ).write(os.path.join(folder, f"probe-{number}"))
            try:
                got = read_step(prefix)
            except Exception as err:  # the learner's code: any failure is feedback, not a crash
                return Feedback(
                    False, f"read_step raised {type(err).__name__}: {str(err).splitlines()[0][:80]}"
                )
            if got is None:
                return Feedback(
                    False, "read_step returned None: tf.train.load_variable(path, key) reads a value"
                )
            if np.size(got) != 1 or int(np.asarray(got).item()) != step:
                return Feedback(
                    False,
                    f"read_step gave {got!r} for a checkpoint whose step is {step}: "
                    "read the path it is given",
                )
    return Feedback(
        True, f"right: read_step read steps {', '.join(map(str, steps))} from checkpoints it had never seen"
    )


# Where each value of notebook 05's TF1 checkpoint belongs in a TF2 `Checkpoint(model=MyModel(), step=...)`.
TF1_TO_TF2 = {
    "model/dense1/_kernel": "hidden/weights",
    "model/dense1/bias": "hidden/biases",
    "model/dense2/_kernel": "out/weights",
    "model/dense2/bias": "out/biases",
    "step": "global_step",
}


def check_converted(path: object, tf1_path: str | os.PathLike[str], model: object = None) -> Feedback:
    """05 exercise 1: `path` restores into a fresh `MyModel` and step with the TF1 run's values and step.

    With `model`, the learner's own model must hold those values too, so another file cannot stand in.
    """
    if not isinstance(path, str | os.PathLike):
        return Feedback(False, "no checkpoint yet: write one with tf.train.Checkpoint(model=..., step=...)")
    try:
        mine, tf1 = snapshot(path), snapshot(tf1_path)
    except CheckpointError as err:
        return Feedback(False, str(err))
    if "global_step" in mine:
        return Feedback(False, "this is a name-based (TF1) checkpoint: write what you converted to a new one")
    missing = [key for key in TF1_TO_TF2 if key not in mine]
    if missing:
        what = "the step" if missing[0] == "step" else TF1_TO_TF2[missing[0]]
        return Feedback(False, f"nothing stored at {missing[0]}: your conversion leaves {what} behind")
    extra = sorted(set(mine) - set(TF1_TO_TF2) - {"save_counter"})
    if extra:
        return Feedback(
            False,
            f"it also holds {extra[0]} ({len(extra)} value(s) in all), which the TF1 checkpoint has no "
            "value for: write only the model and the step you converted",
        )
    for key, name in TF1_TO_TF2.items():
        if mine[key].shape != tf1[name].shape or mine[key].dtype != tf1[name].dtype:
            return Feedback(
                False,
                f"{key} is {mine[key].dtype} {mine[key].shape}, but TF1's {name} is "
                f"{tf1[name].dtype} {tf1[name].shape}: build each TF2 value from the TF1 one",
            )
    fresh = MyModel(hidden=tf1["hidden/weights"].shape[1])
    fresh(tf.zeros([1, tf1["hidden/weights"].shape[0]]))
    step = tf.Variable(0, dtype=tf.int64)
    fresh_ckpt = tf.train.Checkpoint(model=fresh, step=step)
    fresh_ckpt.restore(resolve_checkpoint(path)).assert_consumed()  # keys, shapes, dtypes compared above
    restored = snapshot(fresh_ckpt)
    if int(step) != int(tf1["global_step"]):
        return Feedback(
            False,
            f"step = {int(step)}, but the TF1 run ended at global step {int(tf1['global_step'])}: "
            "carry global_step over, or the resumed run counts from the wrong step",
        )
    for key, name in TF1_TO_TF2.items():
        if not np.array_equal(restored[key], tf1[name]):
            return Feedback(
                False,
                f"restored into a fresh model, {key} is not the TF1 run's value: assign each variable the "
                "tensor its TF1 name holds",
            )
    if model is not None:
        live = snapshot(tf.train.Checkpoint(model=model))
        if any(
            not np.array_equal(live.get(key), tf1[name]) for key, name in TF1_TO_TF2.items() if key != "step"
        ):
            return Feedback(
                False, "the file is right, but your model does not hold the TF1 values: convert into it"
            )
    return Feedback(
        True,
        f"right: a fresh model restores it with assert_consumed(), every value equals the TF1 run's, "
        f"and step = {int(step)}",
    )


def check_saved_by_step(save: object) -> Feedback:
    """05 exercise 2: `save(ckpt, folder)` saves `ckpt` into `folder` under a name ending in its step."""
    import re
    import tempfile

    if not callable(save):
        return Feedback(False, "pass your function itself (save_by_step), not what it returned")
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as folder:
        ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), w=tf.Variable([0.0]))
        for at in (7, 23):  # two steps your function cannot know in advance
            ckpt.step.assign(at)
            ckpt.w.assign([float(at)])
            try:
                path = save(ckpt, folder)
            except Exception as err:  # the learner's code: answer with its error, never raise
                return Feedback(False, f"your function raised {type(err).__name__}: {err}")
            if not isinstance(path, str | os.PathLike):
                return Feedback(False, "your function must return the path that the save wrote")
            name = os.path.basename(os.fspath(path))
            number = re.search(r"-(\d+)$", name)
            if number is None or int(number.group(1)) != at:
                return Feedback(
                    False,
                    f"at step {at} it wrote {name}: the number counts saves, not steps (Saver.save took "
                    "global_step=; find the CheckpointManager.save argument that does the same)",
                )
            if tf.train.latest_checkpoint(folder) != os.fspath(path):
                return Feedback(
                    False,
                    f"{name} is named right, but tf.train.latest_checkpoint(folder) does not find it: "
                    "save through a CheckpointManager so the state file lists it",
                )
    return Feedback(True, "right: saved at steps 7 and 23, the files are ...-7 and ...-23 and the latest")


def check_seed_states(chosen: object, model: tf.keras.Model) -> Feedback:
    """06 exercise 1: `chosen` is exactly the list of the model's Dropout seed-generator states."""
    wanted = seed_states(model)
    got = list(chosen) if isinstance(chosen, list | tuple) else []
    if {id(v) for v in got} == {id(v) for v in wanted} and len(got) == len(wanted):
        return Feedback(True, f"right: {len(wanted)} seed state(s), which Checkpoint(model=...) leaves out")
    trainable = {id(v) for v in model.trainable_variables}
    if any(id(v) in trainable for v in got):
        return Feedback(False, "the trainable weights are saved with the model already: pick the seed states")
    return Feedback(False, "look in model.variables for the paths containing 'seed_generator_state'")


def check_resumable(
    ckpt: object, model: object, optimizer: object, iterator: object, generator: object
) -> Feedback:
    """06 exercise 2: `ckpt` tracks a step, the model, its Dropout seed states, optimizer, iterator, RNG."""
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(False, f"this is a {type(ckpt).__name__}, not a tf.train.Checkpoint")
    tracked = _tracked(ckpt)
    view = tf.train.TrackableView(ckpt)
    counters = [
        child
        for name, child in view.children(ckpt).items()
        if name != "save_counter"  # the checkpoint's own count of saves, not the training step
        and isinstance(child, tf.Variable)
        and child.shape == ()
        and child.dtype.is_integer
    ]
    if not counters:
        return Feedback(False, "no step counter: add step=tf.Variable(0), or the run restarts its count")
    if not all(id(v) in tracked for v in getattr(model, "trainable_variables", [model])):
        return Feedback(False, "the model's weights are not all tracked: add model=model")
    for name, obj, why in (
        ("optimizer", optimizer, "its moments and update count"),
        ("iterator", iterator, "the position in the data, shuffle buffer included"),
        ("generator", generator, "the random stream's state"),
    ):
        if id(obj) not in tracked:
            return Feedback(False, f"the {name} is not tracked: add {name}={name} to save {why}")
    if not all(id(v) in tracked for v in seed_states(model)):
        return Feedback(
            False,
            "the Dropout seed states are not saved: Checkpoint(model=...) leaves them out, so the masks "
            "after a restore differ (the layer_seeds row above); add the variables exercise 1 found",
        )
    return Feedback(
        True, "right: step, model, Dropout seed states, optimizer, data iterator and random generator"
    )


def check_async_options(options: object) -> Feedback:
    """Notebook 07, exercise 1: `options` is a `tf.train.CheckpointOptions` that saves in the background."""
    if not isinstance(options, tf.train.CheckpointOptions):
        return Feedback(False, f"this is a {type(options).__name__}: build tf.train.CheckpointOptions(...)")
    if not options.enable_async:
        return Feedback(
            False,
            "these options save synchronously: help(tf.train.CheckpointOptions) lists the argument "
            "that saves in a background thread",
        )
    import tempfile

    # Save with the learner's options and read the result back: the options must work, not just look right.
    value = tf.Variable(7.0)
    ckpt = tf.train.Checkpoint(v=value)
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = ckpt.save(os.path.join(folder, "ckpt"), options=options)
            ckpt.sync()
            value.assign(0.0)
            ckpt.restore(path).assert_consumed()
        except (tf.errors.OpError, ValueError, AssertionError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return Feedback(False, f"a save with these options failed: {first}")
    if float(value) != 7.0:
        return Feedback(False, "a checkpoint saved with these options did not restore its value")
    return Feedback(True, "right: ckpt.save(path, options=options) returns while the bytes are written")


def check_save_interval(
    interval: object, step_ms: float = 12.0, save_ms: float = 30.0, budget: float = 0.05
) -> Feedback:
    """Notebook 07, exercise 2: `interval` is the fewest steps between saves that keeps saving in `budget`.

    The time is training plus saving: `save_ms / (interval * step_ms + save_ms) <= budget`.
    """
    if isinstance(interval, bool) or not isinstance(interval, int | np.integer) or interval < 1:
        return Feedback(False, "the interval is a whole number of steps, 1 or more")
    interval = int(interval)

    def share(n: int) -> float:
        return save_ms / (n * step_ms + save_ms)

    smallest = 1
    while share(smallest) > budget + 1e-12:
        smallest += 1
    if interval < smallest:
        return Feedback(
            False,
            f"saving every {interval} steps spends {share(interval):.1%} of the time saving: save less often",
        )
    if interval > smallest:
        return Feedback(
            False,
            f"every {interval} steps fits the budget ({share(interval):.1%}), but a shorter interval would "
            "too and lose less work in a crash: the time is training plus saving",
        )
    return Feedback(True, f"right: every {interval} steps, saves take {share(interval):.2%} of the time")


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
