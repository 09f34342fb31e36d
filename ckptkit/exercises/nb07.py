"""The exercise checks of notebook 07_checkpoint_performance.ipynb.

The checks call the learner's function with their own inputs: a checkpoint and a folder it makes
(exercise 1, watching every `fsync`), step and save times it picks (exercise 2).
"""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, answer_of, answer_without_helpers, judged
from ckptkit.lab.folder import STATE_FILE
from ckptkit.live.quiet import import_tensorflow

import contextlib
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_save_durably", "check_save_interval"]

# A file's identity and the state it was in: (inode, size, modification time in ns).
State = tuple[int, int, int]
WHOLE_MACHINE = (-1, -1, -1)  # what os.sync() flushed: every file system, not one checkpoint


def _state(stat: os.stat_result) -> State:
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@contextlib.contextmanager
def _watched_syncs(namespace: dict) -> Iterator[set[State]]:
    """Record the state of each file or folder flushed to disk inside the block (fsync, fdatasync; os.sync
    as WHOLE_MACHINE), called through `os` or through a name of `namespace` (`from os import fsync`)."""
    synced: set[State] = set()
    originals = {name: getattr(os, name) for name in ("fsync", "fdatasync", "sync") if hasattr(os, name)}

    def on_fd(name: str) -> Callable[[object], None]:
        def flush(fd: object) -> None:
            number = fd if isinstance(fd, int) else fd.fileno()
            originals[name](number)
            synced.add(_state(os.fstat(number)))

        return flush

    def sync_all() -> None:
        originals["sync"]()
        synced.add(WHOLE_MACHINE)

    watchers = {name: sync_all if name == "sync" else on_fd(name) for name in originals}
    # The learner's own names for the originals, bound before the check began, are watched too.
    watcher_of = {id(function): watchers[name] for name, function in originals.items()}
    aliases = {key: value for key, value in namespace.items() if id(value) in watcher_of}
    for name, watcher in watchers.items():
        setattr(os, name, watcher)
    for key, value in aliases.items():
        namespace[key] = watcher_of[id(value)]
    try:
        yield synced
    finally:
        for name, function in originals.items():
            setattr(os, name, function)
        namespace.update(aliases)


@judged
def check_save_durably(save_durably: object) -> Feedback:
    """07 exercise 1: `save_durably(ckpt, prefix)` returns once the checkpoint would survive a power cut."""
    values = np.random.default_rng(707).normal(size=(64, 64)).astype(np.float32)
    ckpt = tf.train.Checkpoint(kernel=tf.Variable(values), step=tf.Variable(11))
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as root:
        folder = Path(root) / "run"
        folder.mkdir()
        with _watched_syncs(getattr(save_durably, "__globals__", {})) as synced:
            path, problem = answer_without_helpers(
                save_durably,
                "save_durably",
                ckpt,
                str(folder / "ckpt"),
                advice="flush the files and the folder yourself, with a call the exercise names",
            )
        if problem is not None:
            return problem
        if not isinstance(path, str | os.PathLike):
            return Feedback(False, "save_durably must return the path its ckpt.write returned")
        if (folder / STATE_FILE).exists():
            return Feedback(
                False, "it wrote a `checkpoint` state file: ckpt.save does that, use ckpt.write as asked"
            )
        files = sorted(folder.glob(Path(path).name + ".*"))
        if not files:
            return Feedback(False, f"no checkpoint files at the path it returned ({Path(path).name})")
        try:
            stored = tf.train.load_variable(os.fspath(path), "kernel/.ATTRIBUTES/VARIABLE_VALUE")
        except (tf.errors.OpError, ValueError):
            return Feedback(False, "the checkpoint it wrote does not read back")
        if not np.array_equal(stored, values):
            return Feedback(False, "the checkpoint it wrote does not hold the values it was given")
        if WHOLE_MACHINE in synced:
            return Feedback(
                False,
                "os.sync() flushes every file system of the machine, everyone's files with yours: flush "
                "only what the write made, each file and the folder that names them",
            )
        for file in files:
            if _state(file.stat()) not in synced:
                return Feedback(
                    False,
                    f"{file.name} was not flushed to the disk after it was last written: a write returns "
                    "with its bytes in the page cache (reread 'Know where the bytes go')",
                )
        if _state(folder.stat()) not in synced:
            return Feedback(
                False,
                "the files were flushed, but not the folder as it is now: after a power cut the names "
                "that point at them (TensorFlow creates and renames files) may be lost",
            )
    return Feedback(
        True,
        f"right: {', '.join(f.name for f in files)} and the folder were flushed after they were last "
        "written, and the checkpoint reads back",
    )


# (step ms, save ms, budget) the check asks about: none is the notebook's numbers or an exact tie;
# the last saves so little that the answer is its floor, 1. Each check adds cases drawn anew.
INTERVAL_CASES = (
    (12.0, 30.0, 0.05),
    (8.0, 95.0, 0.02),
    (40.0, 55.0, 0.1),
    (3.0, 4.0, 0.5),
    (100.0, 2.0, 0.05),
)


def _drawn_cases(count: int) -> list[tuple[float, float, float]]:
    """`count` cases of step and save times in tenths of a ms, none within a millionth of a tie."""
    rng, cases = np.random.default_rng(), []
    while len(cases) < count:
        step_ms, save_ms = (float(v) / 10 for v in rng.integers(10, 2000, size=2))
        budget = float(rng.choice([0.01, 0.02, 0.05, 0.1, 0.2]))
        steps = save_ms * (1 - budget) / (budget * step_ms)  # a whole number here is a tie
        if abs(steps - round(steps)) > 1e-6:
            cases.append((step_ms, save_ms, budget))
    return cases


_checking = False  # set while a check runs: the learner's function may not call the check itself


def _fewest_steps(step_ms: float, save_ms: float, budget: float) -> int:
    """The smallest n with save / (n * step + save) <= budget, by counting up (no formula to get wrong)."""
    n = 1
    while save_ms / (n * step_ms + save_ms) > budget * (1 + 1e-12):
        n += 1
    return n


def check_save_interval(save_interval: object) -> Feedback:
    """07 exercise 2: `save_interval(step_ms, save_ms, budget)` is the shortest interval within budget."""
    global _checking
    if _checking:
        return Feedback(False, "the check cannot grade an answer that asks the check")
    _checking = True
    try:
        cases = [*INTERVAL_CASES, *_drawn_cases(5)]
        for step_ms, save_ms, budget in cases:
            got, problem = answer_of(save_interval, "save_interval", step_ms, save_ms, budget)
            if problem is not None:
                return problem
            case = f"with {step_ms:g} ms steps, {save_ms:g} ms saves and a {budget:.0%} budget"
            if isinstance(got, bool) or not isinstance(got, int | np.integer):
                return Feedback(False, f"{case} it returned {got!r}: return a whole number of steps")
            share = save_ms / (int(got) * step_ms + save_ms) if got >= 1 else math.inf
            best = _fewest_steps(step_ms, save_ms, budget)
            if got < best:
                spent = f"{share:.1%}" if math.isfinite(share) else "everything"
                return Feedback(
                    False,
                    f"{case}, saving every {got} steps spends {spent} of the time saving: over budget "
                    "(the time is training plus saving)",
                )
            if got > best:
                return Feedback(
                    False,
                    f"{case}, every {got} steps fits ({share:.2%}), but a shorter interval fits too and "
                    "loses less work in a crash",
                )
    finally:
        _checking = False
    return Feedback(
        True,
        f"right on {len(cases)} cases (5 of them drawn at random), e.g. every 48 steps for 12 ms steps and "
        "30 ms saves",
    )
