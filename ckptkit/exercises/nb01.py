"""The exercise checks of notebook 01_linear_model.ipynb: a save schedule, a restore into new variables,
and the number for the next save."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, Watched, is_placeholder, placeholder_or_error, watch
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.snapshot import brief

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_next_number", "check_restore_into_fresh", "check_save_schedule"]

# (steps, every): the notebook's run first, then intervals that do not divide the run, and runs
# shorter than one interval.
SCHEDULES = ((20, 10), (23, 5), (7, 3), (5, 10), (12, 4), (1, 3), (6, 1))


def _schedule(steps: int, every: int) -> list[int]:
    """The truth: the loop indices `i` after every `every`-th step and after the last, `i` from 0."""
    return sorted(set(range(every - 1, steps, every)) | {steps - 1})


def _as_indices(answer: object) -> list[int] | None:
    """The answer as sorted loop indices, or None when it is not a collection of whole numbers."""
    if isinstance(answer, str | bytes) or not isinstance(answer, Iterable):
        return None
    items = list(answer)
    if not all(isinstance(e, int | np.integer) and not isinstance(e, bool) for e in items):
        return None
    return sorted({int(e) for e in items})


def check_save_schedule(save_schedule: object) -> Feedback:
    """Notebook 01, exercise 1: `save_schedule(steps, every)`: the loop indices after which a run saves.

    A run `for i in range(steps)` saves after every `every`-th step and after its last one. The check
    tries runs of its own, including intervals that do not divide the run and runs shorter than one interval.
    """
    if not callable(save_schedule):
        return Feedback(False, "save_schedule must be a function of (steps, every)")
    if is_placeholder(save_schedule):
        return placeholder_or_error("save_schedule", None)
    for steps, every in SCHEDULES:
        run = f"a run of {steps} steps saving every {every}"
        try:
            answer = save_schedule(steps, every)
        except Exception as err:
            return placeholder_or_error(f"save_schedule({steps}, {every})", err)
        if answer is None:
            return placeholder_or_error("save_schedule", None)
        got, want = _as_indices(answer), _schedule(steps, every)
        if got is None:
            return Feedback(
                False, f"save_schedule({steps}, {every}) returned {answer!r}, not a list of whole numbers i"
            )
        outside = [e for e in got if not 0 <= e < steps]
        if outside:
            return Feedback(
                False,
                f"for {run} your list holds i = {outside[0]}, but such a run's loop counts i "
                f"from 0 to {steps - 1}",
            )
        if steps - 1 not in got:
            lost = steps - 1 - max(got, default=-1)
            return Feedback(
                False,
                f"for {run} your list {got} ends before the last step: the run's final {lost} steps are "
                "trained and never saved (section 'Train for 20 steps, saving every 10')",
            )
        if got != want:
            return Feedback(
                False,
                f"for {run} your list {got} saves after other steps than steps {every}, {2 * every}, ...: "
                f"step {every} ends the pass with i = {every - 1}, as the loop counts from 0",
            )
    tried = ", ".join(f"{e} every {n}" for e, n in SCHEDULES)
    return Feedback(
        True, f"right: the schedules of {len(SCHEDULES)} runs ({tried}) save on time and at the end"
    )


def _linear_checkpoint(folder: Path, seed: int, saves: int) -> tuple[str, np.ndarray, np.ndarray]:
    """A checkpoint shaped like notebook 01's, with values of another seed; returns (path, w, b)."""
    w = tf.Variable(tf.random.stateless_normal([1, 1], seed=[seed, 7]))
    b = tf.Variable(tf.random.stateless_normal([1], seed=[seed, 8]))
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    optimizer.build([w, b])
    ckpt = tf.train.Checkpoint(step=tf.Variable(10 * seed), model_variables=(w, b), optimizer=optimizer)
    for _ in range(saves):
        path = ckpt.save(os.fspath(folder / "linear"))
    with captured_tf_logs():
        reader = tf.train.load_checkpoint(path)  # TensorFlow's own reader gives the stored values
        stored = [reader.get_tensor(f"model_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE") for i in (0, 1)]
    return path, stored[0], stored[1]


def _judge_fresh(function: Callable, path: str, want: tuple[np.ndarray, np.ndarray]) -> Feedback | None:
    """Run `restore_into_fresh(path)` once; None when it returned two new, restored, right variables."""
    seen = watch(function, path)
    wrong = _judge_variables(seen, want)
    logs = seen.release()
    if wrong is None and logs:
        return Feedback(
            False,
            f"TensorFlow logged {len(logs)} warnings about values left in the file when your restore's "
            "status was dropped: say which values you leave out on purpose (section 'Restore into "
            "brand-new variables')",
        )
    return wrong


def _judge_variables(seen: Watched, want: tuple[np.ndarray, np.ndarray]) -> Feedback | None:
    """None when the call returned two new variables, restored through a checkpoint, equal to `want`."""
    if seen.error is not None or seen.result is None:
        return placeholder_or_error("restore_into_fresh(path)", seen.error)
    got = seen.result
    if not isinstance(got, tuple | list) or len(got) != 2 or not all(isinstance(v, tf.Variable) for v in got):
        return Feedback(False, "restore_into_fresh must return a pair of tf.Variable: (w, b)")
    if not all(seen.created_here(v) for v in got):
        return Feedback(
            False,
            "the variables you returned existed before restore_into_fresh ran: a new process has only "
            "new variables (section 'Restore into brand-new variables')",
        )
    for name, var, stored in zip(("w", "b"), got, want, strict=True):
        if tuple(var.shape) != stored.shape:
            return Feedback(False, f"{name} has shape {tuple(var.shape)}, but the file stores {stored.shape}")
    if not seen.restored_through_checkpoint(list(got)):
        return Feedback(
            False,
            "the values did not arrive through a checkpoint's restore: build a checkpoint shaped like the "
            "saved one over the new variables (section 'Restore into brand-new variables')",
        )
    for name, var, stored in zip(("w", "b"), got, want, strict=True):
        if not np.array_equal(var.numpy(), stored):
            return Feedback(
                False,
                f"{name} = {brief(var.numpy())}, but the file stores {brief(stored)}: the restore did not "
                "reach it; values are matched by the names they were saved under (section 'Restore into "
                "brand-new variables')",
            )
    return None


def check_restore_into_fresh(restore_into_fresh: object) -> Feedback:
    """Notebook 01, exercise 2: `restore_into_fresh(path)` returns new `(w, b)` restored from `path`.

    The check saves two checkpoints shaped like the notebook's (step, `model_variables=(w, b)`, SGD)
    with values of other seeds, and asks for each: the variables must be created by the function,
    reached by a `tf.train.Checkpoint` whose `restore` or `read` ran, hold what TensorFlow's reader
    finds in the file, and no warning may be logged about values left unhandled.
    """
    if not callable(restore_into_fresh):
        return Feedback(False, "restore_into_fresh must be a function of the checkpoint's path")
    if is_placeholder(restore_into_fresh):
        return placeholder_or_error("restore_into_fresh", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb01-") as root:
        for seed, saves in ((3, 2), (4, 5)):
            path, w, b = _linear_checkpoint(Path(root) / f"run{seed}", seed, saves)
            wrong = _judge_fresh(restore_into_fresh, path, (w, b))
            if wrong is not None:
                return wrong
    return Feedback(True, "right: 2 checkpoints of other runs came back into new variables, status handled")


def _next_number_folders(root: Path) -> list[tuple[Path, int, str]]:
    """Folders the check fills its own ways: (folder, the right next number, what is in it)."""
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    cases = []
    empty = root / "empty"
    empty.mkdir()
    cases.append((empty, 1, "no checkpoint"))
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
    return cases


def check_next_number(next_number: object) -> Feedback:
    """Notebook 01, exercise 3: `next_number(folder)` is larger than the number of every `ckpt-N` in `folder`.

    The check fills five folders of its own (empty; `save()` only; a branch that saved a smaller number
    last; a file the state file does not list; a manager that deleted old files) and knows each answer.
    """
    if not callable(next_number):
        return Feedback(False, "next_number must be a function of a folder")
    if is_placeholder(next_number):
        return placeholder_or_error("next_number", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb01-") as root:
        for folder, want, holds in _next_number_folders(Path(root)):
            try:
                got = next_number(folder)
            except Exception as err:
                wrong = placeholder_or_error("next_number(folder)", err)
                return Feedback(False, f"on a folder holding {holds}: {wrong.message}")
            if got is None:
                return placeholder_or_error("next_number", None)
            if isinstance(got, bool) or not isinstance(got, int | np.integer):
                return Feedback(False, f"next_number returned {got!r}, not a whole number")
            if got < want:
                return Feedback(
                    False,
                    f"for a folder holding {holds} your function returned {got}: a save with that number "
                    "could overwrite a checkpoint, or reuse a number another branch had (section 'Restore, "
                    "then save: the overwrite trap')",
                )
            if got > want:
                return Feedback(
                    False,
                    f"for a folder holding {holds} your function returned {got}: safe, but too high, so "
                    "it skips numbers",
                )
    return Feedback(True, "right: in 5 folders of the check's own, each number was past every file there")
