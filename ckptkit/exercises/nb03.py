"""The exercise checks of notebook 03_pretrain_finetune.ipynb: one stage's checkpoint in a shared folder,
a backbone found in a file under a name drawn by the check and restored alone, and a head fine-tuned
over a frozen backbone by a loop of the learner's own (ckptkit's helpers and Keras' loops are refused)."""

from __future__ import annotations

from ckptkit.exercises.feedback import (
    LESSON_MODELS,
    Feedback,
    is_placeholder,
    judged,
    placeholder_or_error,
    watch,
)
from ckptkit.files.reader import VALUE_SUFFIX
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.snapshot import value_of
from ckptkit.runs.models import FinetuneModel, MyModel, regression_data
from ckptkit.runs.step import apply_step, fit, mse

import inspect
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_backbone", "check_fine_tune_head", "check_stage_latest"]

_BACKBONE = "'Restore only the backbone into a new model'"  # the notebook's section on restoring a part


def _shared_folders(root: Path) -> list[tuple[Path, str, str, str]]:
    """Folders where stages saved side by side: (folder, stage asked for, its newest file, what is there)."""
    cases = []
    for name, plan in (
        ("two_stages", [("pretrain", 3), ("finetune", 2)]),  # the notebook's layout, other counts
        ("many", [("warmup", 12), ("tune", 1), ("finetune", 4)]),  # 12 saves; one stage's name ends another's
        ("prefix", [("pretrain", 3), ("pre", 2), ("post", 1)]),  # "pre" starts "pretrain", which saved more
        ("pruned", [("pretrain", 6), ("finetune", 1)]),  # pretrain's first 3 deleted, as max_to_keep=3 does
    ):
        folder, newest = root / name, {}
        for stage, saves in plan:
            ckpt = tf.train.Checkpoint(v=tf.Variable(float(saves)))
            for _ in range(saves):
                newest[stage] = ckpt.save(os.fspath(folder / f"{stage}-checkpoint"))
        for old in range(1, 4) if name == "pruned" else ():
            for file in folder.glob(f"pretrain-checkpoint-{old}.*"):
                file.unlink()  # the check's own file: a count of the files left is no longer the newest N
        there = ", ".join(f"{stage} ({saves} save{'s' if saves > 1 else ''})" for stage, saves in plan)
        there = there.replace("(6 saves)", "(6 saves, the first 3 deleted)")
        cases += [(folder, stage, newest[stage], there) for stage, _ in plan[:-1]]
    return cases


def check_stage_latest(stage_latest: object) -> Feedback:
    """Notebook 03, exercise 1: `stage_latest(folder, stage)`: a stage's newest checkpoint in a shared folder.

    Every stage saved `<stage>-checkpoint-N` with a `Checkpoint` of its own into the same folder, so
    the state file names only the last stage's last save. The check asks for stages that did not
    save last, in folders of its own, and knows each answer.
    """
    if not callable(stage_latest):
        return Feedback(False, "stage_latest must be a function of (folder, stage)")
    if is_placeholder(stage_latest):
        return placeholder_or_error("stage_latest", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb03-") as root:
        cases = _shared_folders(Path(root))
        for folder, stage, want, there in cases:
            try:
                got = stage_latest(folder, stage)
            except Exception as err:
                return placeholder_or_error(f"stage_latest(folder, {stage!r})", err)
            if got is None:
                return placeholder_or_error("stage_latest", None)
            if not isinstance(got, str | os.PathLike):
                return Feedback(False, f"stage_latest returned a {type(got).__name__}, not a checkpoint path")
            got = os.fspath(got)
            if got.endswith(".index") or ".data-" in got:
                return Feedback(
                    False, f"{os.path.basename(got)} is one of a checkpoint's files, not its prefix"
                )
            if os.path.abspath(got) == os.path.abspath(want):
                continue
            name = os.path.basename(got)
            if os.path.abspath(got) == os.path.abspath(tf.train.latest_checkpoint(folder)):
                why = "the folder's latest checkpoint, by another stage: the state file names only one save"
            elif name.startswith(f"{stage}-checkpoint-"):
                why = f"a checkpoint of {stage!r}, but not its newest, the one with the largest N as a number"
            else:
                why = f"not a checkpoint of {stage!r}, whose files are named {stage}-checkpoint-N"
            return Feedback(
                False,
                f"in a folder shared by {there}, stage_latest(folder, {stage!r}) returned {name}: {why} "
                "(section 'Reproduce the shared-folder trap')",
            )
    return Feedback(
        True, f"right: in 4 shared folders of the check's own, {len(cases)} stages' newest files found"
    )


# Layer names the check draws from on each run, so no answer can know them in advance.
_BACKBONE_NAMES = ("encoder", "features", "trunk", "stem", "body", "embedding")
_HEAD_NAMES = ("decoder", "readout", "top", "output", "predictor", "regressor")


def _pretrained(folder: Path, hidden: int, seed: int, backbone: str, head: str) -> str:
    """A pretrain checkpoint (model, Adam, step) of a `MyModel(hidden)`, its layers named `backbone`, `head`.

    The file holds `model/<backbone>/...` and `model/<head>/...`, as a model with those attribute names
    would save them, so neither is where a `FinetuneModel`'s layers would look.
    """
    inputs, targets = regression_data(n=16, seed=seed)
    model, optimizer = MyModel(hidden), tf.keras.optimizers.Adam(learning_rate=0.01)
    step = tf.Variable(0)
    fit(model, None, optimizer, inputs, targets, 3, step=step)
    layers = tf.train.Checkpoint(**{backbone: model.dense1, head: model.dense2})
    saved = tf.train.Checkpoint(model=layers, optimizer=optimizer, step=step)
    return saved.save(os.fspath(folder / f"pretrain{hidden}"))


def _judge_backbone(load_backbone: object, path: str, hidden: int, backbone: str) -> Feedback | None:
    """None when `load_backbone(model, path)` filled dense1 through a restore and returned the name."""
    with captured_tf_logs():
        reader = tf.train.load_checkpoint(path)  # TensorFlow's own reader gives the stored backbone
        stored = [reader.get_tensor(f"model/{backbone}/{n}{VALUE_SUFFIX}") for n in ("_kernel", "bias")]
    model = FinetuneModel(hidden=hidden)
    seen = watch(load_backbone, model, path)
    if seen.error is not None and "incompatible tensor with shape" in str(seen.error):
        return Feedback(
            False,
            "load_backbone(model, path) restored a stored layer of another shape into dense1: pick the "
            f"layer whose kernel maps the 32 inputs to the model's width (section {_BACKBONE})",
        )
    if seen.error is not None:
        return placeholder_or_error("load_backbone(model, path)", seen.error)
    if not model.built or not model.variables:
        if not seen.created and not seen.restores:
            return placeholder_or_error("load_backbone", None)
        return Feedback(
            False, "the model is still unbuilt after load_backbone: its backbone has no variables"
        )
    if len(model.variables) != 6:
        return Feedback(
            False,
            f"the model has {len(model.variables)} variables instead of 6: a restore before the build "
            "leaves a stray copy (notebook 02)",
        )
    layer = [model.dense1.kernel, model.dense1.bias]
    if not seen.restored_through_checkpoint(layer):
        return Feedback(False, "the backbone's values did not arrive through a checkpoint restore")
    for name, var, want in zip(("kernel", "bias"), layer, stored, strict=True):
        if not np.array_equal(value_of(var), want):
            return Feedback(
                False,
                f"dense1's {name} differs from the file's backbone: the file keeps it under a name this "
                "model does not have, the layer whose kernel maps the 32 inputs to the model's width "
                f"(section {_BACKBONE})",
            )
    if seen.result != backbone:
        return Feedback(
            False, f"load_backbone returned {seen.result!r}, not the name the file keeps the backbone under"
        )
    # A status nobody handled stays alive with the model (its unmatched values wait for objects the
    # model may still create) and logs its warnings only when the model is collected: drop it first.
    del model, layer, var
    if logs := seen.release():
        return Feedback(
            False,
            f"TensorFlow logged {len(logs)} warnings about values left in the file: your restore "
            f"skips most of it, so say so to its status (section {_BACKBONE})",
        )
    return None


def _judge_no_match(load_backbone: Callable, path: str, hidden: int) -> Feedback | None:
    """None when `load_backbone` raises a LookupError, restoring nothing, for a file with no fit."""
    seen = watch(load_backbone, FinetuneModel(hidden=16), path)
    given = f"given a model of width 16 and a file whose layers have width {hidden}, load_backbone"
    if seen.error is None:
        return Feedback(
            False,
            f"{given} returned without an error, its backbone still random: raise when no layer in the "
            f"file fits dense1 (section {_BACKBONE})",
        )
    if not isinstance(seen.error, LookupError):
        return Feedback(
            False,
            f"{given} raised {type(seen.error).__name__}, not a LookupError: compare each stored kernel's "
            "shape with (32, model.dense1.units) yourself and raise a LookupError when none fits",
        )
    if seen.restores:
        return Feedback(
            False,
            f"{given} raised a LookupError, but only after a restore from the file: decide from the "
            "shapes the file lists, and restore nothing when no layer fits",
        )
    return None


@judged
def check_backbone(load_backbone: object) -> Feedback:
    """Notebook 03, exercise 2: `load_backbone(model, path)` finds the backbone's name and fills dense1.

    The check writes pretrain checkpoints of its own (widths 8 and 24, Adam, a step) whose two layers
    are stored under names it draws on each run (in one file the backbone's name sorts before the head's,
    in the other after, so taking the file's first or last layer fails), hands the function a new,
    unbuilt `FinetuneModel` of the same width, and checks: the model is built with its 6 variables (no
    stray copy), its `dense1` came through a `tf.train.Checkpoint` restore and equals what TensorFlow's
    reader finds under the backbone's name, the function returned that name, and no warning was logged
    about the skipped values. Given a model of width 16 and a file of width 24, the function must raise
    a LookupError without restoring.
    """
    if not callable(load_backbone):
        return Feedback(False, "load_backbone must be a function of (model, path)")
    if is_placeholder(load_backbone):
        return placeholder_or_error("load_backbone", None)
    draw = random.Random()  # unseeded: the notebook's seeds leave these names unknown in advance
    pairs = [(backbone, head) for backbone in _BACKBONE_NAMES for head in _HEAD_NAMES]
    first = draw.choice([(b, h) for b, h in pairs if b < h])  # the backbone's keys sort first in the file
    last = draw.choice([(b, h) for b, h in pairs if b > h and b != first[0] and h != first[1]])
    names = draw.sample([first, last], 2)  # which width gets which order is drawn too
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb03-") as root:
        for hidden, seed, (backbone, head) in zip((8, 24), (21, 22), names, strict=True):
            path = _pretrained(Path(root), hidden, seed, backbone, head)
            wrong = _judge_backbone(load_backbone, path, hidden, backbone)
            if wrong is not None:
                return wrong
        wrong = _judge_no_match(load_backbone, path, hidden)
        if wrong is not None:
            return wrong
    return Feedback(
        True,
        "right: 2 new models (widths 8 and 24) found their backbone under names drawn for this run, "
        "status handled, and a file of another width raised a LookupError",
    )


def _head_truth(model: FinetuneModel, x: tf.Tensor, y: tf.Tensor, steps: int) -> list[float]:
    """The losses of training only the head, from `model`'s current values, with a new Adam at 0.01.

    Computed on a copy, with the head's variables named explicitly: no `trainable` flag involved.
    """
    copy = FinetuneModel(hidden=model.dense1.units)
    copy(x[:1])
    for mine, theirs in zip(copy.variables, model.variables, strict=True):
        mine.assign(theirs)
    head = [*copy.head1.trainable_variables, *copy.head2.trainable_variables]
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
    return [float(apply_step(copy, head, optimizer, x, y)) for _ in range(steps)]


def _backbone_gets_gradient(model: FinetuneModel, x: tf.Tensor, y: tf.Tensor) -> bool:
    """True when the loss's gradient reaches dense1, so an unfrozen backbone would move."""
    with tf.GradientTape() as tape:
        loss = mse(model(x), y)
    grads = tape.gradient(loss, [model.dense1.kernel, model.dense1.bias])
    return all(g is not None and bool(tf.reduce_any(g != 0)) for g in grads)


# Keras' own training loops and step: the exercise asks for a `tf.GradientTape` loop of the learner's own.
_KERAS_LOOPS = frozenset(
    inspect.unwrap(getattr(tf.keras.Model, name)).__code__ for name in ("fit", "train_on_batch", "train_step")
)


@judged
def check_fine_tune_head(fine_tune_head: object, steps: int = 4) -> Feedback:
    """Notebook 03, exercise 3: `fine_tune_head(model, x, y, steps)` freezes dense1, trains the head.

    The loop must be the learner's own: a call of a ckptkit helper (`fit`, `train_step`, `mse`) or of
    Keras' `fit`, `train_on_batch` or `train_step` is refused. The check builds a `FinetuneModel` of
    width 12 and data of its own, and makes sure the loss's gradient reaches `dense1`. After the call,
    `dense1` must be out of the trainable variables and bit-identical, the head must have moved, and the
    losses must match a run that trains only the head's variables, named one by one, with a new Adam at
    learning rate 0.01.
    """
    if not callable(fine_tune_head):
        return Feedback(False, "fine_tune_head must be a function of (model, x, y, steps)")
    if is_placeholder(fine_tune_head):
        return placeholder_or_error("fine_tune_head", None)
    x, y = regression_data(n=16, seed=31)
    model = FinetuneModel(hidden=12)
    model(x[:1])
    if not _backbone_gets_gradient(model, x, y):  # the check's own guard: its data must reach dense1
        return Feedback(False, "the check's data gives dense1 no gradient: report this as a ckptkit bug")
    want = _head_truth(model, x, y, steps)
    before = {id(v): value_of(v) for v in model.variables}
    seen = watch(fine_tune_head, model, x, y, steps, allowed=LESSON_MODELS, refused=_KERAS_LOOPS)
    if seen.helper is not None:
        whose = "Keras'" if seen.helper in {code.co_qualname for code in _KERAS_LOOPS} else "ckptkit's"
        return Feedback(
            False,
            f"it called {whose} {seen.helper}, which takes the training step for you: write the loop "
            "yourself, one step at a time",
        )
    if seen.error is not None or seen.result is None:
        wrong = placeholder_or_error("fine_tune_head(model, x, y, steps)", seen.error)
        if seen.error is not None and "Unknown variable" in str(seen.error):
            wrong = Feedback(
                False, wrong.message + ": an optimizer built for other variables cannot train these"
            )
        return wrong
    moved = [v for v in model.variables if not np.array_equal(value_of(v), before[id(v)])]
    trainable = {id(v) for v in model.trainable_variables}
    if any(id(v) in trainable for v in model.dense1.variables):
        return Feedback(
            False,
            "on return dense1 is still among the model's trainable variables: freeze it, and leave it so",
        )
    if any(any(v is m for m in moved) for v in model.dense1.variables):
        return Feedback(False, "dense1's values changed: a frozen backbone keeps its pretrained values")
    if not moved:
        return Feedback(False, "no variable moved: the head must train while the backbone stays frozen")
    got = [float(v) for v in seen.result] if isinstance(seen.result, list | tuple) else None
    if got is None or len(got) != steps:
        return Feedback(False, f"fine_tune_head returned {seen.result!r}, not the list of the {steps} losses")
    if not np.allclose(got, want, rtol=1e-5):
        return Feedback(
            False,
            f"your losses {[f'{v:.4g}' for v in got]} differ from a head-only run with a new Adam at "
            f"learning rate 0.01, {[f'{v:.4g}' for v in want]} (section 'Freeze the backbone and train "
            "the head')",
        )
    return Feedback(
        True, f"right: {steps} steps moved only the head of the check's model; dense1 stayed bit-identical"
    )
