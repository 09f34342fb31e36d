"""What every exercise check answers with, `Feedback` (one sentence), and the helpers the checks share.

`answer_of` and `placeholder_or_error` turn a placeholder or a raising function into one sentence;
`watch` runs a learner's function and records what it did that a result alone cannot show (which
variables it created, which `tf.train.Checkpoint` restored or read, what TensorFlow logged, which
ckptkit helper it let do the work).
"""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.live.private import unrestored_warner
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.snapshot import live_variables
from ckptkit.runs.models import DropoutModel, FinetuneModel, MyModel

import functools
import gc
import logging
import random
import sys
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from inspect import CO_OPTIMIZED
from pathlib import Path
from types import CodeType
from typing import TypeVar

tf = import_tensorflow()
T = TypeVar("T")

__all__ = [
    "LESSON_MODELS",
    "Feedback",
    "Watched",
    "answer_of",
    "answer_without_helpers",
    "drawn_order",
    "is_placeholder",
    "judged",
    "placeholder_or_error",
    "tracked",
    "watch",
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


def tracked(ckpt: object) -> dict[int, str]:
    """Map `id(object)` to its path for every object and variable the checkpoint would save."""
    paths = {id(v): p for p, v in live_variables(ckpt)}
    view = tf.train.TrackableView(ckpt)
    for name, child in view.children(ckpt).items():
        paths.setdefault(id(child), name)
    return paths


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
    helper: str | None = None  # the first ckptkit helper function the call ran, by its qualified name
    warners: list = field(default_factory=list)  # per restore in the call: logs what its status would

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
            for warn in self.warners:  # a status the answer kept (in a global, say) says it now, not at exit
                warn()
        self.logs += logs
        return self.logs

    def created_here(self, variable: object) -> bool:
        """True when `variable` (or the TensorFlow variable in a Keras one) was created in the call."""
        inner = variable if isinstance(variable, tf.Variable) else getattr(variable, "value", variable)
        return any(v is variable or v is inner for v in self.created)


# The code objects of the two public calls that restore a checkpoint's values into objects: a profile
# hook sees each call of them, whatever name the learner's code reaches them by.
_RESTORE_CODES = {tf.train.Checkpoint.restore.__code__, tf.train.Checkpoint.read.__code__}

# ckptkit's own files that may run during the learner's call: the checks, the log capture around them, the
# error classes and the lazy import of public names. Anything else of ckptkit is a helper doing the work.
_PACKAGE = Path(__file__).resolve().parents[1]
_NOT_HELPERS = (_PACKAGE / "exercises", _PACKAGE / "live" / "quiet.py", _PACKAGE / "errors.py")
_NOT_HELPERS += (_PACKAGE / "__init__.py",)


def _is_helper(filename: str, seen: dict[str, bool]) -> bool:
    """True for a file of the ckptkit package other than `_NOT_HELPERS` (remembered per file name)."""
    if filename not in seen:
        path = Path(filename).resolve()
        inside = path.is_relative_to(_PACKAGE)
        seen[filename] = inside and not any(path == p or path.is_relative_to(p) for p in _NOT_HELPERS)
    return seen[filename]


def _log_levels_kept() -> Callable[[], None]:
    """A function that sets TensorFlow's loggers back to their levels and filters as they are now."""
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl")]
    states = [(logger, logger.level, logger.disabled, logger.filters[:]) for logger in loggers]
    disabled_below = logging.root.manager.disable

    def restore() -> None:
        for logger, level, disabled, filters in states:
            logger.setLevel(level)
            logger.disabled, logger.filters = disabled, filters
        logging.disable(disabled_below)

    return restore


def _without_tracebacks(error: BaseException | None) -> None:
    """Drop the frames an error (and the errors it chains) keeps alive: a restore status among them."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        error.__traceback__ = None
        error = error.__cause__ or error.__context__


def _let_go(restorers: list[object], error: BaseException | None, logs: list[str]) -> None:
    """Drop the call's checkpoints and the frames its error holds, adding what TensorFlow then logs to `logs`.

    Through a fresh handler of the check's own: the answer may have emptied the logger's handlers.
    """
    with captured_tf_logs() as late:
        restorers.clear()
        _without_tracebacks(error)
        gc.collect()
    logs += late


_frozen_depth = 0  # how many `_newer_only` blocks are open: only the outermost freezes and unfreezes


@contextmanager
def _newer_only() -> Iterator[None]:
    """Collect what earlier code left, then freeze the rest: collections inside read only newer objects.

    Earlier code's unhandled restore statuses log when their checkpoints are collected: collected first, their
    warnings are not counted as a later call's. A full collection reads all of TensorFlow's objects (about
    0.1 s); inside a frozen block it reads only what the block made.
    """
    global _frozen_depth
    gc.collect()
    if _frozen_depth == 0:
        gc.freeze()
    _frozen_depth += 1
    try:
        yield
    finally:
        _frozen_depth -= 1
        if _frozen_depth == 0:
            gc.unfreeze()


def judged(check: Callable[..., Feedback]) -> Callable[..., Feedback]:
    """A check that watches answers, run with older objects frozen: one full collection per check."""

    @functools.wraps(check)
    def run(*args: object, **kwargs: object) -> Feedback:
        with _newer_only():
            return check(*args, **kwargs)

    return run


def watch(
    function: Callable, *args: object, allowed: Collection[CodeType] = (), refused: Collection[CodeType] = ()
) -> Watched:
    """Call `function(*args)` and record the variables it created, what its restores reached, its logs.

    It also records the first ckptkit function the call ran, other than the checks' own and `allowed`
    (e.g. the forward pass of a model the check handed over), or of `refused` (e.g. Keras' `fit`): a
    check that asks for TensorFlow's own calls refuses an answer that let a helper do the work.
    """
    seen, restorers, files = Watched(), [], {}
    outer = sys.getprofile()

    def profile(frame: object, event: str, arg: object) -> None:
        # A profile hook sees every Python call, however the learner's code reached the function. Only
        # functions count as helpers: a module's or a class's body runs when first imported.
        code = frame.f_code
        if event == "return" and code in _RESTORE_CODES and arg is not None:
            seen.warners.append(unrestored_warner(arg))
        elif event == "call" and code in _RESTORE_CODES:
            checkpoint = frame.f_locals.get("self")
            if all(checkpoint is not c for c in restorers):
                restorers.append(checkpoint)
        elif event == "call" and seen.helper is None and code.co_flags & CO_OPTIMIZED and code not in allowed:
            helper = code in refused or _is_helper(code.co_filename, files)
            seen.helper = code.co_qualname if helper else None
        if outer is not None:
            outer(frame, event, arg)

    def creator(next_creator: Callable, **kwargs: object) -> tf.Variable:
        variable = next_creator(**kwargs)
        seen.created.append(variable)
        return variable

    restore_log_levels = _log_levels_kept()
    with _newer_only(), captured_tf_logs() as logs:
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
        # A restore status nobody handled logs its warnings when its checkpoint is collected: let go
        # of the checkpoints (and of the frames an error holds) now, so that happens here, at the
        # levels TensorFlow had before the call and into a fresh capture: an answer that silenced
        # the logger, filtered it or emptied its handlers hides nothing.
        restore_log_levels()
        _let_go(restorers, seen.error, logs)
    seen.logs = list(logs)
    return seen


def answer_of(function: object, name: str, *args: object) -> tuple[object, Feedback | None]:
    """Call the learner's `function(*args)`; a placeholder, a non-function or an error become a `Feedback`."""
    if not callable(function):
        return None, Feedback(False, f"pass your function itself ({name}), not {type(function).__name__}")
    try:
        return function(*args), None
    except Exception as err:  # the learner's code: any failure is an answer, never a traceback
        return None, placeholder_or_error(name, err)


def drawn_order(items: Iterable[T]) -> list[T]:
    """`items` in a drawn order other than their own (unseeded): an answer cannot count the check's calls."""
    given = list(items)
    order = given[:]
    while len(order) > 1 and order == given:
        random.Random().shuffle(order)
    return order


# The lessons' models are the learner's to build and call: their methods are not helpers.
LESSON_MODELS = frozenset(
    method.__code__
    for model in (MyModel, FinetuneModel, DropoutModel)
    for method in vars(model).values()
    if hasattr(method, "__code__")
)


def answer_without_helpers(
    function: object,
    name: str,
    *args: object,
    advice: str = "use TensorFlow's own calls, as the notebook does",
) -> tuple[object, Feedback | None]:
    """`answer_of`, and a `Feedback` too when the answer let a ckptkit helper do the work it asks for."""
    if not callable(function):
        return answer_of(function, name, *args)
    seen = watch(function, *args, allowed=LESSON_MODELS)
    if seen.helper is not None:
        return None, Feedback(
            False, f"it called ckptkit's {seen.helper}, which does the work this exercise asks for: {advice}"
        )
    return seen.result, None if seen.error is None else placeholder_or_error(name, seen.error)
