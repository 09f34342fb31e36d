"""The exercise check of notebook 00_start_here.ipynb, and what the checks of 00-03 share.

Shared: one sentence for a placeholder or a raising function, and `watch`, which runs a learner's
function and records what it did that a result alone cannot show (which variables it created, which
`tf.train.Checkpoint` restored or read, what TensorFlow logged).
"""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.snapshot import brief

import gc
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["Watched", "check_save_x", "is_placeholder", "placeholder_or_error", "watch"]

KEY = "x/.ATTRIBUTES/VARIABLE_VALUE"
# Values the notebook never shows, of two lengths, so a function that saves fixed numbers fails.
TRIALS = ((0.25, -4.0, 7.5), (3.0, 1.5, -0.5, 10.0, 2.25))


def _empty(*args: object) -> None: ...


def is_placeholder(function: object) -> bool:
    """True for a function whose body does nothing but return None, as the notebooks hand it out (`...`).

    Checked before a check builds its models and files, so a notebook's first run stays fast.
    """
    code = getattr(function, "__code__", None)
    return code is not None and code.co_code == _empty.__code__.co_code and code.co_consts[-1:] == (None,)


def placeholder_or_error(name: str, err: BaseException | None) -> Feedback:
    """One sentence for a function that is still the placeholder (`...`, NotImplementedError) or raised."""
    if err is None or isinstance(err, NotImplementedError):
        return Feedback(False, f"{name} is still the placeholder: write its body, then run the cell again")
    # The first line, without the TensorFlow variable name that follows a shape mismatch.
    first = str(err).splitlines()[0].split(" and name ")[0] if str(err) else ""
    from ckptkit.errors import CheckpointError

    if isinstance(err, CheckpointError):  # ckptkit's own advice names code: keep only the kind of error
        first = "a ckptkit check refused the restore"
    return Feedback(False, f"{name} raised {type(err).__name__}: {first[:160]}")


@dataclass
class Watched:
    """What one call of a learner's function did: its result or error, and what it did on the way."""

    result: object = None
    error: BaseException | None = None
    created: list = field(default_factory=list)  # every tf.Variable created during the call
    reached: set[int] = field(
        default_factory=set
    )  # ids of the variables a restore or read in the call reached
    restores: int = 0  # how many tf.train.Checkpoint objects ran restore or read
    logs: list[str] = field(default_factory=list)  # TensorFlow's log, a dropped restore status's warnings too

    def restored_through_checkpoint(self, variables: list) -> bool:
        """True when a `tf.train.Checkpoint` whose `restore` or `read` ran in the call reaches each one."""
        return bool(variables) and all(id(v) in self.reached for v in variables)

    def release(self) -> list[str]:
        """Let go of the result, so a restore status it kept alive logs now, and return the whole log.

        A dropped restore status logs its warnings when the last object it restored into is
        collected; the judge calls this after it has read everything it needs from the result.
        """
        with captured_tf_logs() as logs:
            self.result, self.created = None, []
            gc.collect()
        self.logs += logs
        return self.logs

    def created_here(self, variable: object) -> bool:
        """True when `variable` (or the TensorFlow variable in a Keras one) was created in the call."""
        inner = variable if isinstance(variable, tf.Variable) else getattr(variable, "value", variable)
        return any(v is variable or v is inner for v in self.created)


# The code objects of the two public calls that restore a checkpoint's values into objects: a profile
# hook sees each call of them, whatever name the learner's code reaches them by.
_RESTORE_CODES = {tf.train.Checkpoint.restore.__code__, tf.train.Checkpoint.read.__code__}


def watch(function: Callable, *args: object) -> Watched:
    """Call `function(*args)` and record the variables it created, what its restores reached, its logs."""
    from ckptkit.exercises.feedback import tracked

    seen, restorers = Watched(), []
    outer = sys.getprofile()

    def profile(frame: object, event: str, arg: object) -> None:
        if event == "call" and frame.f_code in _RESTORE_CODES:
            checkpoint = frame.f_locals.get("self")
            if all(checkpoint is not c for c in restorers):
                restorers.append(checkpoint)
        if outer is not None:
            outer(frame, event, arg)

    def creator(next_creator: Callable, **kwargs: object) -> tf.Variable:
        variable = next_creator(**kwargs)
        seen.created.append(variable)
        return variable

    with captured_tf_logs() as logs:
        sys.setprofile(profile)
        try:
            with tf.variable_creator_scope(creator):
                seen.result = function(*args)
        except Exception as err:  # the learner's code: any error becomes one sentence
            seen.error = err
        finally:
            sys.setprofile(outer)
        seen.reached = {key for restorer in restorers for key in tracked(restorer)}
        seen.restores = len(restorers)
        # A restore status nobody handled logs its warnings when its checkpoint is collected: let go of
        # the checkpoints now, so that happens here, where the log is captured.
        restorers.clear()
        gc.collect()
    seen.logs = list(logs)
    return seen


def _one(save_x: Callable, root: Path, values: tuple[float, ...]) -> Feedback | None:
    """Run `save_x` on one new folder; None when its checkpoint holds `values` as float `x`."""
    folder = root / "folder"
    try:
        path = save_x(folder, list(values))
    except Exception as err:
        return placeholder_or_error("save_x(folder, values)", err)
    if path is None:
        return Feedback(
            False,
            "save_x returned None: it is still the placeholder, or it does not return the path that "
            "saving gave back",
        )
    if not isinstance(path, str | os.PathLike):
        return Feedback(False, f"save_x returned a {type(path).__name__}, not the path of a checkpoint")
    prefix = os.fspath(path)
    if not os.path.exists(prefix + ".index"):
        return Feedback(
            False, f"save_x returned {os.path.basename(prefix)!r}, but no checkpoint has that path"
        )
    parent = Path(prefix).resolve().parent
    if parent == folder.resolve().parent:
        return Feedback(
            False, "the checkpoint landed beside the folder, not in it: save under a name inside it"
        )
    if parent != folder.resolve():
        return Feedback(False, "save_x returned a checkpoint outside the folder it was given")
    with captured_tf_logs():
        reader = tf.train.load_checkpoint(prefix)  # TensorFlow's own reader is the truth here
        dtypes, shapes = reader.get_variable_to_dtype_map(), reader.get_variable_to_shape_map()
    if KEY not in dtypes:
        return Feedback(
            False,
            "the checkpoint holds no value named x: a checkpoint names each value by the keyword it was "
            "given (section 'Save and restore one variable')",
        )
    if dtypes[KEY] != tf.float32:
        return Feedback(False, f"x is stored as {dtypes[KEY].name}: keep the values as floats")
    if shapes[KEY] != [len(values)]:
        return Feedback(False, f"x has shape {shapes[KEY]}, but the check passed {len(values)} values")
    fresh = tf.Variable(tf.zeros([len(values)]))
    tf.train.Checkpoint(x=fresh).read(prefix).expect_partial()
    if not np.array_equal(fresh.numpy(), np.array(values, dtype=np.float32)):
        return Feedback(
            False, f"x came back as {brief(fresh.numpy())}, but the check passed {brief(values)}: save those"
        )
    return None


def check_save_x(save_x: object) -> Feedback:
    """Notebook 00, exercise: `save_x(folder, values)` saves `values` as float variable `x`, returns the path.

    The check calls it on two new folders of its own with values of its own (3 and 5 numbers), then
    reads each returned path back into a fresh variable with `tf.train.Checkpoint(x=...).read`.
    """
    if not callable(save_x):
        return Feedback(False, "save_x must be a function of (folder, values)")
    if is_placeholder(save_x):
        return placeholder_or_error("save_x", None)
    for values in TRIALS:
        with tempfile.TemporaryDirectory(prefix="ckptkit-nb00-") as root:
            wrong = _one(save_x, Path(root), values)
        if wrong is not None:
            return wrong
    return Feedback(
        True,
        f"right: {len(TRIALS)} checkpoints saved by your function "
        f"({' and '.join(str(len(v)) for v in TRIALS)} values) came back whole into fresh variables",
    )
