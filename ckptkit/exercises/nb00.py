"""The exercise check of notebook 00_start_here.ipynb."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, is_placeholder, judged, placeholder_or_error, watch
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import brief

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_load_x"]

SECTION = "section 'Save and restore one variable'"
# Where the status checks are named: notebook 04's row of the map.
MAP = "the status checks: notebook 04's row of the map in section 'Follow the path'"
# Values the notebook never shows, of three lengths, so a function that returns fixed numbers fails; the
# zeros are what a new variable holds, so "unchanged zeros mean no x" fails too.
TRIALS = ((0.25, -4.0, 7.5), (3.0, 1.5, -0.5, 10.0, 2.25), (0.0, 0.0, 0.0, 0.0))
STEP = 40  # every file also holds an int `step`, so a check of every stored value refuses good files


def _saved(root: Path, name: str, **tracked: tuple[float, ...]) -> str:
    """Save the floats `tracked` under their keywords, and a `step`, in a new folder `root/name`."""
    variables = {key: tf.Variable(values, dtype=tf.float32) for key, values in tracked.items()}
    return tf.train.Checkpoint(step=tf.Variable(STEP), **variables).save(root / name / "ckpt")


def _shown(result: object) -> str:
    """A returned value as a few numbers when it holds numbers, else its type."""
    if result is None:
        return "None"
    try:
        return brief(result)
    except (TypeError, ValueError):
        return f"a {type(result).__name__}"


def _loaded_wrong(load_x: Callable, root: Path, values: tuple[float, ...]) -> Feedback | None:
    """None when `load_x` returns a new float variable holding `values`, saved under `x`, from a file."""
    n = len(values)
    seen = watch(load_x, _saved(root, f"right-{n}", x=values), n)
    got, err = seen.result, seen.error
    if err is not None and "Unresolved object in checkpoint" in str(err):
        return Feedback(
            False,
            f"load_x(path, {n}) raised on a checkpoint that holds x as asked, beside a step: your status "
            "check asks that every value in the file find a variable; ask the one that judges only the "
            f"objects you pass ({MAP})",
        )
    if err is not None and not any(values):
        return Feedback(
            False,
            f"load_x(path, {n}) raised on a checkpoint whose x holds {n} zeros: zeros are values too; ask "
            f"the restore's status whether x found a value, not the values ({MAP})",
        )
    if err is not None:
        return placeholder_or_error(f"load_x(path, {n})", err)
    if got is None:
        return Feedback(False, "load_x returned None: it is still the placeholder, or it returns no variable")
    got = got.value if isinstance(getattr(got, "value", None), tf.Variable) else got  # a Keras 3 Variable
    if not isinstance(got, tf.Variable):
        return Feedback(False, f"load_x returned a {type(got).__name__}: return the new variable itself")
    if not seen.created_here(got):
        return Feedback(False, "load_x returned a variable it did not create: make a new one in load_x")
    if got.shape != (n,) or got.dtype != tf.float32:
        return Feedback(
            False,
            f"load_x(path, {n}) returned a {got.dtype.name} variable of shape {got.shape}, not {n} floats",
        )
    if not np.array_equal(got.numpy(), np.array(values, dtype=np.float32)):
        return Feedback(
            False,
            f"load_x(path, {n}) returned {brief(got.numpy())}, but the checkpoint's x holds "
            f"{brief(values)}: restore them into the variable",
        )
    return None


def _refused_wrong(load_x: Callable, root: Path) -> Feedback | None:
    """None when `load_x` raises for a checkpoint with no `x` and for one whose `x` has another size."""
    values = TRIALS[1]
    seen = watch(load_x, _saved(root, "no-x", v=values[:3]), 3)
    got, err = seen.result, seen.error
    if err is None:
        return Feedback(
            False,
            f"for a checkpoint with no x (its 3 floats are under v), load_x(path, 3) returned {_shown(got)} "
            f"instead of raising: a restore under a keyword the file lacks fills nothing and says nothing; "
            f"ask its status whether your variable found a value ({SECTION})",
        )
    seen = watch(load_x, _saved(root, "five", x=values), 3)
    got, err = seen.result, seen.error
    if err is None:
        return Feedback(
            False,
            f"for a checkpoint whose x holds 5 floats, load_x(path, 3) returned {_shown(got)} instead of "
            "raising: 5 stored floats do not fit a variable of 3",
        )
    return None


@judged
def check_load_x(load_x: object) -> Feedback:
    """Notebook 00, exercise: `load_x(path, n)` returns a new variable of `n` floats restored from `x`.

    The check saves checkpoints of its own, each with an int `step` beside the floats: two whose `x`
    holds 3 and 5 floats, which must come back whole; one with no `x` (its values under `v`) and one
    whose `x` holds 5 floats when 3 are asked for, for which `load_x` must raise.
    """
    if not callable(load_x):
        return Feedback(False, "load_x must be a function of (path, n)")
    if is_placeholder(load_x):
        return placeholder_or_error("load_x", None)
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb00-") as root:
        for values in TRIALS:
            wrong = _loaded_wrong(load_x, Path(root), values)
            if wrong is not None:
                return wrong
        wrong = _refused_wrong(load_x, Path(root))
    if wrong is not None:
        return wrong
    sizes = [str(len(v)) for v in TRIALS]
    return Feedback(
        True,
        f"right: x came back whole from {len(TRIALS)} checkpoints ({', '.join(sizes[:-1])} and {sizes[-1]} "
        "floats, the last all zeros), and load_x raised for a checkpoint with no x and for one whose x holds "
        "5 floats when asked for 3",
    )
