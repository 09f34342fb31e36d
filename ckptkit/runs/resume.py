"""Where a run resumes from: the newest checkpoint that reads whole, with damaged files set aside.

Shared by the resumable trainer and the distributed runs. A power cut can leave the `checkpoint`
state file empty or cut short, and a checkpoint's own files half written; TensorFlow would then
raise, or start over from step 0 beside the run's own checkpoints and save over their names.
"""

from __future__ import annotations

from ckptkit.errors import ModelMismatchError, ShapeMismatchError
from ckptkit.files.reader import checkpoints_in
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.restore import restore_newest_good
from ckptkit.runs.loop import check_workdir

import os
from collections.abc import Callable
from pathlib import Path

tf = import_tensorflow()

__all__ = ["candidates", "resume"]


def _move_aside(files: list[Path]) -> list[str]:
    """Move damaged files into `damaged/` beside them, never over another file; return their new names."""
    moved = []
    for file in files:
        folder = file.parent / "damaged"
        folder.mkdir(exist_ok=True)
        target, n = folder / file.name, 1
        while target.exists():
            target, n = folder / f"{file.name}.{n}", n + 1
        file.rename(target)
        moved.append(target.name)
    return moved


def _readable_state(workdir: Path) -> tf.train.CheckpointState | None:
    """The folder's state file, parsed; None when it is missing; raises ValueError when it is damaged."""
    if not (workdir / "checkpoint").exists():
        return None
    with captured_tf_logs():  # a cut file makes TensorFlow log a parse warning
        state = tf.train.get_checkpoint_state(os.fspath(workdir))  # an empty file raises ValueError
    if state is None:  # cut short: TensorFlow logged "Checkpoint ignored"
        raise ValueError("unparseable")
    return state


def candidates(workdir: Path, say: Callable[[str], None], owner: bool = True) -> list[str]:
    """Refuse a folder of others' files; list the checkpoints to resume from, oldest first.

    A readable state file decides: the checkpoints it lists, as a `CheckpointManager` over the folder
    lists them. Without one, missing or damaged, the `ckpt-N` on disk are listed; the folder's `owner`
    (the trainer, a distributed run's chief) sets a damaged file aside, before its manager reads it, so a
    worker that reads after the move sees it missing and chooses alike.
    """
    check_workdir(workdir)
    try:
        state = _readable_state(workdir)
    except ValueError:
        if owner:
            kept = _move_aside([workdir / "checkpoint"])
            said = f"the state file could not be read (kept as damaged/{kept[0]})"
            say(f"{said}: resuming from the files on disk")
        return checkpoints_in(workdir)  # the folder holds only the run's files: its ckpt-N, oldest first
    return checkpoints_in(workdir) if state is None else list(state.all_model_checkpoint_paths)


def resume(
    ckpt: tf.train.Checkpoint,
    found: list[str],
    workdir: object,
    say: Callable[[str], None],
    owner: bool = True,
) -> tuple[str | None, list[tuple[str, str]]]:
    """Restore the newest good checkpoint; skip damaged ones (the `owner` sets them aside) and say so."""
    try:
        report, skipped = restore_newest_good(ckpt, found)
    except (ModelMismatchError, ShapeMismatchError) as err:
        # Nothing is written: the folder belongs to another run, whose checkpoints a save would replace.
        raise ModelMismatchError(
            f"{workdir} holds checkpoints of a different model or settings: {err}. "
            "Pass a new --workdir, or the same --model and --no-save-* flags as the run that wrote it"
        ) from None
    for path, reason in skipped:
        # Kept for a post-mortem; the resumed run will save that number again.
        kept = _move_aside(sorted(Path(path).parent.glob(Path(path).name + ".*"))) if owner else []
        where = f" (kept as damaged/{', damaged/'.join(kept)})" if kept else ""
        say(f"skipped {Path(path).name}: {reason}{where}")
    if report is None:
        return None, skipped
    say(f"resumed from {Path(report.path).name} at step {int(ckpt.step.numpy())}")
    return report.path, skipped
