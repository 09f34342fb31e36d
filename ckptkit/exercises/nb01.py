"""The exercise checks of notebook 01_linear_model.ipynb: a save schedule, resuming training from a file,
and the number for the next save."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, Watched, is_placeholder, judged, placeholder_or_error, watch
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.snapshot import brief
from ckptkit.runs.step import apply_step

import os
import random
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_next_number", "check_resume", "check_save_schedule"]

# (steps, every): the notebook's run first, then intervals that do not divide the run, runs shorter
# than one interval, and a run of no steps.
SCHEDULES = ((20, 10), (23, 5), (7, 3), (5, 10), (12, 4), (1, 3), (0, 4), (6, 1))
RESUME = "section 'See what the optimizer adds, and resume it'"


def _schedule(steps: int, every: int) -> list[int]:
    """The truth: the loop indices `i` after every `every`-th step and after the last, `i` from 0."""
    return sorted(set(range(every - 1, steps, every)) | {steps - 1}) if steps > 0 else []


def _as_indices(answer: object) -> list[int] | None:
    """The answer as a list of loop indices, in its own order, or None when they are not whole numbers."""
    if isinstance(answer, str | bytes) or not isinstance(answer, Iterable):
        return None
    items = list(answer)
    if not all(isinstance(e, int | np.integer) and not isinstance(e, bool) for e in items):
        return None
    return [int(e) for e in items]


def _schedule_wrong(got: list[int], steps: int, every: int) -> str | None:
    """What is wrong with `got` as the schedule of a run of `steps` steps saving every `every`, or None."""
    run = f"a run of {steps} steps saving every {every}"
    outside = [e for e in got if not 0 <= e < steps]
    if outside and steps == 0:
        return f"for {run} your list is {got}: such a run never enters its loop, so it has nothing to save"
    if outside:
        return f"for {run} your list holds i = {outside[0]}, but its loop counts i from 0 to {steps - 1}"
    twice = sorted({e for e in got if got.count(e) > 1})
    if twice:
        return f"for {run} your list {got} holds i = {twice[0]} more than once: a run saves once after a step"
    if got != sorted(got):
        return f"for {run} your list {got} is not in increasing order, the order the run saves in"
    if steps > 0 and steps - 1 not in got:
        lost = steps - 1 - max(got, default=-1)
        return (
            f"for {run} your list {got} ends before the last step: the run's final {lost} steps are "
            "trained and never saved (section 'Train for 20 steps, saving every 10')"
        )
    if got != _schedule(steps, every):
        return (
            f"for {run} your list {got} saves after other steps than steps {every}, {2 * every}, ...: "
            f"step {every} ends the pass with i = {every - 1}, as the loop counts from 0"
        )
    return None


def check_save_schedule(save_schedule: object) -> Feedback:
    """Notebook 01, exercise 1: `save_schedule(steps, every)`: the loop indices after which a run saves.

    A run `for i in range(steps)` saves after every `every`-th step and after its last one, once each, in
    order. The check tries runs of its own: intervals that do not divide the run, runs shorter than one
    interval, a run of no steps, and three runs drawn on each call.
    """
    if not callable(save_schedule):
        return Feedback(False, "save_schedule must be a function of (steps, every)")
    if is_placeholder(save_schedule):
        return placeholder_or_error("save_schedule", None)
    draw = random.Random()  # unseeded: three more runs each time, so no table of the fixed ones passes
    drawn = draw.sample([(n, k) for n in range(2, 61) for k in range(2, 10) if (n, k) not in SCHEDULES], 3)
    for steps, every in (*SCHEDULES, *drawn):
        try:
            answer = save_schedule(steps, every)
        except Exception as err:
            return placeholder_or_error(f"save_schedule({steps}, {every})", err)
        if answer is None:
            return placeholder_or_error("save_schedule", None)
        got = _as_indices(answer)
        if got is None:
            return Feedback(
                False, f"save_schedule({steps}, {every}) returned {answer!r}, not a list of whole numbers i"
            )
        wrong = _schedule_wrong(got, steps, every)
        if wrong is not None:
            return Feedback(False, wrong)
    tried = ", ".join(f"{e} every {n}" for e, n in SCHEDULES)
    return Feedback(
        True,
        f"right: the schedules of {len(SCHEDULES)} runs ({tried}) and of 3 drawn for this check save on time "
        "and at the end",
    )


@dataclass
class _Run:
    """A momentum run the check saved: its file, its data, and the truth before and after its next step."""

    path: str
    inputs: tf.Tensor
    targets: tf.Tensor
    rate: float
    stored: tuple[np.ndarray, np.ndarray]  # w and b as the file holds them
    after: tuple[np.ndarray, np.ndarray]  # w and b after the uninterrupted run's next step


def _step(w: tf.Variable, b: tf.Variable, optimizer: object, inputs: tf.Tensor, targets: tf.Tensor) -> None:
    """One step of `x @ w + b` on the mean squared error, the optimizer over `[w, b]`: the kit's step."""
    apply_step(lambda x: tf.matmul(x, w) + b, [w, b], optimizer, inputs, targets)


def _momentum_run(folder: Path, seed: int, width: int, rate: float) -> _Run:
    """Train `x @ w + b` (w of shape (width, 1)) with momentum SGD, save it as notebook 01 does, step on."""
    inputs = tf.random.stateless_normal([5, width], seed=[seed, 1])
    targets = tf.random.stateless_normal([5, 1], seed=[seed, 2])
    w = tf.Variable(tf.random.stateless_normal([width, 1], seed=[seed, 7]))
    b = tf.Variable(tf.random.stateless_normal([1], seed=[seed, 8]))
    optimizer = tf.keras.optimizers.SGD(learning_rate=rate, momentum=0.9)
    for _ in range(seed):
        _step(w, b, optimizer, inputs, targets)
    ckpt = tf.train.Checkpoint(step=tf.Variable(seed), model_variables=(w, b), optimizer=optimizer)
    path = ckpt.save(os.fspath(folder / "linear"))
    stored = (w.numpy(), b.numpy())
    _step(w, b, optimizer, inputs, targets)  # the uninterrupted run's next step
    return _Run(path, inputs, targets, rate, stored, (w.numpy(), b.numpy()))


def _returned(seen: Watched, run: _Run) -> Feedback | None:
    """None when the call returned two new variables restored from the file and an SGD with momentum 0.9."""
    got, names = seen.result, ("w", "b")
    if (
        not isinstance(got, tuple | list)
        or len(got) != 3
        or not all(isinstance(v, tf.Variable) for v in got[:2])
    ):
        return Feedback(False, "resume must return (w, b, optimizer), w and b each a tf.Variable")
    if not all(seen.created_here(v) for v in got[:2]):
        return Feedback(
            False, "the w and b you returned existed before resume ran: a new process has only new ones"
        )
    for name, var, stored in zip(names, got[:2], run.stored, strict=True):
        if tuple(var.shape) != stored.shape:
            return Feedback(False, f"{name} has shape {tuple(var.shape)}, but the file stores {stored.shape}")
    if not seen.restored_through_checkpoint(list(got[:2])):
        return Feedback(
            False,
            "w and b did not get their values through a checkpoint's restore over them (section "
            "'Restore into brand-new variables')",
        )
    for name, var, stored in zip(names, got[:2], run.stored, strict=True):
        if not np.array_equal(var.numpy(), stored):
            return Feedback(
                False,
                f"{name} = {brief(var.numpy())}, but the file stores {brief(stored)}: the restore did "
                "not reach it; values are matched by their path from the root checkpoint",
            )
    if not isinstance(got[2], tf.keras.optimizers.SGD):
        return Feedback(False, f"the third value is a {type(got[2]).__name__}, not a Keras SGD optimizer")
    if float(got[2].momentum) != 0.9:
        return Feedback(
            False,
            f"your SGD's momentum is {got[2].momentum}: the file's optimizer ran with 0.9, a setting "
            "the file does not keep (only the optimizer's variables)",
        )
    return None


def _stepped(seen: Watched, run: _Run) -> Feedback | None:
    """Take the next step with the returned optimizer; None when w and b equal the uninterrupted run's."""
    w, b, optimizer = seen.result
    try:
        with captured_tf_logs() as logs:  # the step may free the restore: its warnings count too
            _step(w, b, optimizer, run.inputs, run.targets)
    except Exception as err:
        wrong = placeholder_or_error("a step with your optimizer over [w, b]", err)
        return Feedback(False, wrong.message)
    finally:
        seen.logs += logs
    if float(optimizer.learning_rate) != np.float32(run.rate):
        return Feedback(
            False,
            f"your optimizer's learning rate is {float(optimizer.learning_rate):.4g}, the file's "
            f"{run.rate:.4g}: the optimizer's values did not come back from the file ({RESUME})",
        )
    if not all(np.array_equal(v.numpy(), a) for v, a in zip((w, b), run.after, strict=True)):
        return Feedback(
            False,
            f"one step after your restore moved w to {brief(w.numpy())}, the uninterrupted run's next "
            f"step to {brief(run.after[0])}: the momentum slots did not start from the file's ({RESUME})",
        )
    return None


def _raised(err: BaseException, run: _Run) -> Feedback:
    """A sentence for an error of the learner's function: shapes and early status checks named."""
    if isinstance(err, ValueError) and "incompatible tensor with shape" in str(err):
        w, b = (s.shape for s in run.stored)
        return Feedback(
            False,
            f"resume(path) raised ValueError on a shape: this file's w has shape {w} and b {b}; "
            "the shapes are in the file's keys (section 'Look at the files a save writes')",
        )
    if isinstance(err, AssertionError) and "optimizer" in str(err):
        return Feedback(
            False,
            "resume(path) raised AssertionError from a status check: the momentum slots wait in the "
            f"file until the optimizer's first step creates them, so nothing has used them yet ({RESUME})",
        )
    return placeholder_or_error("resume(path)", err)


def _judge_resume(function: Callable, run: _Run) -> Feedback | None:
    """Run `resume(path)` once; None when its w, b and optimizer take the uninterrupted run's next step."""
    seen = watch(function, run.path)
    if seen.error is not None or seen.result is None:
        wrong = placeholder_or_error("resume", None) if seen.error is None else _raised(seen.error, run)
    else:
        wrong = _returned(seen, run)
        if wrong is None:  # a failing Feedback is falsy: no `or` here
            wrong = _stepped(seen, run)
    logs = seen.release()  # drops the result: an unhandled restore logs its warnings now
    if wrong is None and logs:
        return Feedback(
            False,
            f"TensorFlow logged {len(logs)} warnings when your restore was garbage-collected: values "
            "in the file matched no object and nothing said that was on purpose (section 'Restore into "
            "brand-new variables')",
        )
    return wrong


@judged
def check_resume(resume: object) -> Feedback:
    """Notebook 01, exercise 2: `resume(path)` returns new `(w, b, optimizer)` that go on where a file ends.

    The check saves two momentum runs of its own (other shapes, other learning rates), calls `resume`
    on each file, takes one step with the returned optimizer and compares w and b exactly with the
    uninterrupted run's next step; then it drops the result and counts TensorFlow's warnings.
    """
    if not callable(resume):
        return Feedback(False, "resume must be a function of the checkpoint's path")
    if is_placeholder(resume):
        return placeholder_or_error("resume", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb01-") as root:
        for seed, width, rate in ((3, 3, 0.02), (4, 2, 0.05)):
            wrong = _judge_resume(resume, _momentum_run(Path(root) / f"run{seed}", seed, width, rate))
            if wrong is not None:
                return wrong
    return Feedback(True, "right: 2 momentum runs of other shapes resumed exactly, status handled")


def _distractor_folders(root: Path, ckpt: tf.train.Checkpoint) -> list[tuple[Path, int, str]]:
    """Folders that also hold files that are no `ckpt-N` checkpoint, and one where text order misleads."""
    cases = []
    for name, numbers, others, want, holds in (
        (
            "prefixes",
            (3, 4),
            ("other-99", "old-ckpt-30"),
            5,
            "ckpt-3, ckpt-4, other-99, old-ckpt-30",
        ),
        (
            "named",
            (2,),
            (
                "ckpt-best",
                "ckpt-9_9",
                "ckpt-\u0665\u0660",
            ),  # 50 in Arabic-Indic digits, which a regex \d matches
            3,
            "ckpt-2, a ckpt-best, a ckpt-9_9 and a ckpt-\u0665\u0660 (50 in Arabic-Indic digits)",
        ),
        ("data_only", (6,), ("ckpt-40",), 7, "ckpt-6 and the .data file of a ckpt-40 without its .index"),
        ("nine_ten", (9, 10), (), 11, "ckpt-9 and ckpt-10"),
    ):
        folder = root / name
        manager = tf.train.CheckpointManager(ckpt, folder, max_to_keep=None)
        for number in numbers:
            manager.save(checkpoint_number=number)
        for prefix in others:
            ckpt.write(os.fspath(folder / prefix))  # written by hand: the state file does not list them
        if name == "data_only":
            (folder / "ckpt-40.index").unlink()  # without its index, no checkpoint
        cases.append((folder, want, holds))
    return cases


def _next_number_folders(root: Path) -> list[tuple[Path, int, str]]:
    """Folders the check fills its own ways: (folder, the right next number, what is in it)."""
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    empty = root / "empty"
    empty.mkdir()
    cases = [(empty, 1, "no checkpoint")]
    saved = root / "saved"
    for _ in range(3):
        ckpt.save(os.fspath(saved / "ckpt"))  # numbered by save_counter: ckpt-1 to ckpt-3
    cases.append((saved, 4, "ckpt-1 to ckpt-3 from save()"))
    branched = root / "branched"
    manager = tf.train.CheckpointManager(ckpt, branched, max_to_keep=None)
    for number in (
        5,
        12,
        8,
    ):  # a branch went back to step 5 and saved at step 8: the newest is not the largest
        manager.save(checkpoint_number=number)
    cases.append((branched, 13, "ckpt-5, ckpt-12 and, saved last, ckpt-8"))
    written = root / "written"
    fresh = tf.train.Checkpoint(v=tf.Variable(2.0))
    for _ in range(2):
        fresh.save(os.fspath(written / "ckpt"))
    fresh.write(os.fspath(written / "ckpt-9"))  # write() leaves the state file alone: it lists ckpt-2 only
    cases.append((written, 10, "ckpt-1, ckpt-2 and a ckpt-9 that the state file does not list"))
    kept = root / "kept"
    manager = tf.train.CheckpointManager(ckpt, kept, max_to_keep=2)
    for number in range(1, 5):
        manager.save(checkpoint_number=number)  # keeps ckpt-3 and ckpt-4
    cases.append((kept, 5, "ckpt-3 and ckpt-4"))
    return cases + _distractor_folders(root, ckpt)


def _number_wrong(got: object, want: int, holds: str) -> Feedback | None:
    """What is wrong with `got` as the next number for a folder holding `holds`, or None."""
    if isinstance(got, bool) or not isinstance(got, int | np.integer):
        return Feedback(False, f"next_number returned {got!r}, not a whole number")
    if got < want:
        return Feedback(
            False,
            f"for a folder holding {holds} your function returned {got}: a save with that number could "
            "overwrite a checkpoint, or reuse a number another branch had (section 'Restore, then save: "
            "the overwrite trap')",
        )
    if got > want:
        return Feedback(
            False,
            f"for a folder holding {holds} your function returned {got}: safe, but too high, so it skips "
            "numbers; only files named ckpt-N.index, N in digits 0-9 only, are this series' checkpoints",
        )
    return None


def check_next_number(next_number: object) -> Feedback:
    """Notebook 01, exercise 3: `next_number(folder)` is larger than the number of every `ckpt-N` in `folder`.

    The check fills nine folders of its own (empty; `save()` only; a branch that saved a smaller number
    last; a file the state file does not list; a manager that deleted old files; other prefixes; a
    `ckpt-best`, a `ckpt-9_9` and a `ckpt-` numbered in Arabic-Indic digits; a lone `.data` file;
    `ckpt-9` beside `ckpt-10`) and knows each answer.
    """
    if not callable(next_number):
        return Feedback(False, "next_number must be a function of a folder")
    if is_placeholder(next_number):
        return placeholder_or_error("next_number", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb01-") as root:
        folders = _next_number_folders(Path(root))
        for folder, want, holds in folders:
            try:
                got = next_number(folder)
            except Exception as err:
                wrong = placeholder_or_error("next_number(folder)", err)
                return Feedback(False, f"on a folder holding {holds}: {wrong.message}")
            if got is None:
                return placeholder_or_error("next_number", None)
            wrong = _number_wrong(got, want, holds)
            if wrong is not None:
                return wrong
    return Feedback(
        True, f"right: in {len(folders)} folders of the check's own, each number was past every ckpt-N there"
    )
