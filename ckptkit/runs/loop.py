"""The run loop the resumable trainer and the distributed runs share: train, save on schedule, crash on cue.

No TensorFlow, so the CLI can read `INGREDIENTS` for its flags and refuse bad steps or a foreign
folder at once, and the launcher can print, without importing it.
"""

from __future__ import annotations

from ckptkit.errors import InvalidStepsError, WorkspaceError
from ckptkit.files.text import first_few

import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "INGREDIENTS",
    "KILL_POINTS",
    "RUN_MODELS",
    "WORKDIR",
    "check_steps",
    "check_workdir",
    "kill_self",
    "run",
    "say_flushed",
]

# What exact resumption needs, beyond the model's weights. Each can be left out to see what breaks.
INGREDIENTS = ("optimizer", "iterator", "rng", "layer_seeds")
# The models a run can train (`ckptkit.runs.models.run_setup` builds them).
RUN_MODELS = ("linear", "keras")
# Where `kill_during_save` lands, in the order TensorFlow 2.21 saves: while the shard is written
# (`ckpt-N_temp/`), after it and before the merge, while the merge writes `ckpt-N.index` in place
# (the data files already renamed out of `_temp`), and while the `checkpoint` state file is written
# (as `checkpoint.tmp<hex>`, before the rename that commits the save).
KILL_POINTS = ("shard", "merge", "index", "state")
# Where a run keeps its checkpoints unless told otherwise (relative to the working directory).
WORKDIR = "workspace/train"
# What the trainer writes in its folder: the state file, numbered checkpoints, a save's temporary
# folder, damaged checkpoints set aside, and the final weights.
_OWN_FILES = re.compile(
    r"checkpoint(\.tmp\w*)?|ckpt-\d+(\.index|\.data-\d{5}-of-\d{5}|_temp.*)|damaged|final-weights\.npz"
)


def check_steps(steps: object) -> int:
    """Return `steps` as an int, or raise `InvalidStepsError` if it is not a whole number >= 0."""
    if isinstance(steps, bool) or not isinstance(steps, int | float) or steps != int(steps):
        raise InvalidStepsError(f"steps must be a whole number, got {steps!r}: pass e.g. steps=10")
    if steps < 0:
        raise InvalidStepsError(f"steps must be 0 or more, got {steps}: pass e.g. steps=10")
    return int(steps)


def check_workdir(workdir: str | os.PathLike[str]) -> None:
    """Refuse a folder that holds files the trainer did not write: it would mix runs, or lose files."""
    folder = Path(workdir)
    if not folder.is_dir():
        return
    foreign = sorted(p.name for p in folder.iterdir() if not _OWN_FILES.fullmatch(p.name))
    if foreign:
        raise WorkspaceError(
            f"{folder} holds files that are not this trainer's checkpoints ({first_few(foreign, 5)}): "
            "pass an empty or new folder, or one a previous `ckptkit train` wrote"
        )


def say_flushed(line: str) -> None:
    """Print one line at once: a SIGKILLed process loses whatever its output buffer still holds."""
    print(line, flush=True)


def kill_self() -> None:
    """SIGKILL this process, as a crash would: no cleanup, no flush."""
    os.kill(os.getpid(), signal.SIGKILL)


def run(
    advance: Callable[[], float],
    at: Callable[[], int],
    steps: int,
    save_every: int,
    save: Callable[[int, float], None],
    *,
    on_step: Callable[[int], None] | None = None,
    kill_at_step: int | None = None,
    stop_at_step: int | None = None,
    say: Callable[[str], None] = say_flushed,
) -> None:
    """Call `advance` (one training step, returning its loss) until `at()` reaches `steps`.

    After each step: `on_step(step)`; `save(step, loss)` every `save_every` steps and at the last;
    a SIGKILL after step `kill_at_step` (a crash rehearsal), said first so the output shows where the
    run died; a plain return after `stop_at_step`.
    """
    while at() < steps:
        loss = advance()
        step = at()
        if on_step is not None:
            on_step(step)
        if step % save_every == 0 or step == steps:
            save(step, loss)
        if step == kill_at_step:
            say(f"SIGKILL after step {step} (--kill-at-step {step})")
            kill_self()
        if step == stop_at_step:
            return
