"""A trainer that resumes bit-identically after a crash: model, optimizer, step, data, RNG, layer seeds."""

from __future__ import annotations

from ckptkit.errors import ModelMismatchError, ShapeMismatchError
from ckptkit.files.reader import checkpoints_in
from ckptkit.live.determinism import seed_everything
from ckptkit.live.private import replaced_rename, replaced_save_op, replaced_shard_writer
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.restore import restore_newest_good
from ckptkit.live.snapshot import snapshot
from ckptkit.runs import loop
from ckptkit.runs.loop import (
    INGREDIENTS,
    KILL_POINTS,
    WORKDIR,
    check_steps,
    check_workdir,
    kill_self,
    say_flushed,
)
from ckptkit.runs.models import run_setup, seed_states
from ckptkit.runs.step import apply_step

import hashlib
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["INGREDIENTS", "KILL_POINTS", "TrainResult", "train"]


@dataclass
class TrainResult:
    """How a training run ended: its step, the final weights and their hash, what it resumed from."""

    step: int
    weights: dict[str, np.ndarray]
    resumed_from: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        """SHA-256 over the final weights' bytes, in key order."""
        digest = hashlib.sha256()
        for key in sorted(self.weights):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(self.weights[key]).tobytes())
        return digest.hexdigest()


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


def _set_aside(prefix: str) -> list[str]:
    """Move a damaged checkpoint's files into `damaged/` beside it."""
    return _move_aside(sorted(Path(prefix).parent.glob(Path(prefix).name + ".*")))


def _checked_folder(workdir: Path, say: Callable[[str], None]) -> list[str] | None:
    """Refuse a folder of others' files; if its state file cannot be parsed, list the `ckpt-N` on disk.

    A power cut while the state file is written can leave it empty or cut short: TensorFlow then raises
    (empty) or ignores it (cut), and a run would start over from step 0 beside its own checkpoints. The
    file is set aside instead, and the `ckpt-N` on disk are returned, oldest first (None: file fine).
    """
    check_workdir(workdir)
    if not (workdir / "checkpoint").exists():
        return None
    with captured_tf_logs():  # a cut file makes TensorFlow log a parse warning
        try:
            if tf.train.get_checkpoint_state(os.fspath(workdir)) is not None:
                return None
        except ValueError:  # an empty file: "Invalid checkpoint state"
            pass
    kept = _move_aside([workdir / "checkpoint"])
    say(f"the state file could not be read (kept as damaged/{kept[0]}): resuming from the files on disk")
    return checkpoints_in(workdir)  # the folder holds only the trainer's files: its ckpt-N, oldest first


def train(
    model: str = "keras",
    steps: int = 60,
    save_every: int = 10,
    seed: int = 0,
    workdir: str | os.PathLike[str] = WORKDIR,
    drop: tuple[str, ...] = (),
    kill_at_step: int | None = None,
    kill_during_save: int | None = None,
    kill_point: str = "merge",
    stop_at_step: int | None = None,
    say: Callable[[str], None] = say_flushed,
) -> TrainResult:
    """Train to `steps`, saving every `save_every`; resume from `workdir` if it holds a checkpoint.

    `drop` leaves ingredients out of the checkpoint (see `INGREDIENTS`). `kill_at_step` SIGKILLs the
    process after that step, `kill_during_save` inside the save at that step at `kill_point` (one of
    `KILL_POINTS`; by default between shard and merge); `stop_at_step` returns early instead.
    """
    if kill_point not in KILL_POINTS:
        raise ValueError(f"kill_point {kill_point!r} is not one of {', '.join(KILL_POINTS)}")
    steps, save_every = check_steps(steps), max(1, check_steps(save_every))
    seed_everything(seed)
    predict, variables, objects, optimizer, (inputs, targets) = run_setup(model, seed)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    iterator = iter(dataset.shuffle(64, seed=seed, reshuffle_each_iteration=True).repeat().batch(8))
    generator = tf.random.Generator.from_seed(seed)  # input noise: the run's own random stream
    step = tf.Variable(0, dtype=tf.int64)
    optional = {"optimizer": optimizer, "iterator": iterator, "rng": generator}
    ckpt = tf.train.Checkpoint(
        step=step, **objects, **_kept(optional | {"layer_seeds": seed_states(predict)}, drop)
    )
    on_disk = _checked_folder(Path(workdir), say)  # before the manager reads the state file
    manager = tf.train.CheckpointManager(ckpt, os.fspath(workdir), max_to_keep=3)
    resumed_from, skipped = _resume(ckpt, manager if on_disk is None else on_disk, workdir, say)

    def advance() -> float:
        x, y = next(iterator)
        x = x + 0.05 * generator.normal(tf.shape(x))
        loss = apply_step(predict, variables, optimizer, x, y, training=True)
        step.assign_add(1)
        return float(loss)

    def save(at: int, loss: float) -> None:
        with _killed_inside_save(kill_point) if at == kill_during_save else nullcontext():
            path = manager.save(checkpoint_number=at)
        say(f"saved {Path(path).name} at step {at}, loss {loss:.4g}")

    loop.run(
        advance,
        lambda: int(step),
        steps,
        save_every,
        save,
        kill_at_step=kill_at_step,
        stop_at_step=stop_at_step,
    )
    weights = snapshot(tf.train.Checkpoint(**objects))
    np.savez(Path(workdir) / "final-weights.npz", **weights)
    return TrainResult(int(step), weights, resumed_from, skipped)


def _text(value: object) -> str:
    """A path TensorFlow passed to an op as a string tensor, bytes or str."""
    value = value.numpy() if hasattr(value, "numpy") else value
    return os.fsdecode(value)


def _half_written_shard(save_v2: Callable, prefix: object, *args: object, **kwargs: object) -> None:
    """TensorFlow writes the shard; then it is left as a kill in mid-write leaves it, and SIGKILL."""
    save_v2(prefix, *args, **kwargs)
    shard = _text(prefix)
    # TensorFlow writes the data under `<name>.tempstate<random>` and renames it when complete, then
    # writes the shard's index the same way: mid-write, the index is not there yet.
    os.remove(f"{shard}.index")
    data = Path(f"{shard}.data-00000-of-00001")
    written = data.read_bytes()
    data.unlink()
    Path(f"{data}.tempstate{random.getrandbits(64)}").write_bytes(written[: len(written) // 2])
    kill_self()


def _half_written_index(
    merge: Callable, prefixes: object, merged: object, *args: object, **kwargs: object
) -> None:
    """TensorFlow merges; the folder is then left as a kill during the index write leaves it; SIGKILL."""
    parts = [_text(p) for p in prefixes]
    part_indexes = {f"{p}.index": Path(f"{p}.index").read_bytes() for p in parts}
    merge(prefixes, merged, *args, **kwargs)
    # The merge renamed the data files into place, wrote `<prefix>.index` under its final name, and
    # only then deleted the parts' indexes and `_temp/`: put those back and cut the index in half.
    for path, data in part_indexes.items():
        Path(path).parent.mkdir(exist_ok=True)
        Path(path).write_bytes(data)
    index = Path(_text(merged) + ".index")
    index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    kill_self()


def _state_file_not_renamed(rename: Callable, old: str, new: str, *args: object) -> object:
    """SIGKILL before the rename that would commit the state file; every other rename goes through."""
    if os.path.basename(new) == "checkpoint" and ".tmp" in os.path.basename(old):
        kill_self()
    return rename(old, new, *args)


@contextmanager
def _killed_inside_save(point: str) -> Iterator[None]:
    """SIGKILL this process at `point` (one of `KILL_POINTS`) of the save made inside the block."""
    if point == "shard":
        hook = replaced_shard_writer(_half_written_shard)
    elif point == "merge":
        hook = replaced_save_op("merge_v2_checkpoints", lambda *a, **k: kill_self())
    elif point == "index":
        hook = replaced_save_op("merge_v2_checkpoints", _half_written_index)
    else:
        hook = replaced_rename(_state_file_not_renamed)
    with hook:
        yield


def _kept(optional: dict[str, object], drop: tuple[str, ...]) -> dict[str, object]:
    """The ingredients the checkpoint keeps: all but those in `drop` (and a model with no seed states)."""
    unknown = set(drop) - set(INGREDIENTS)
    if unknown:
        raise ValueError(f"cannot drop {sorted(unknown)}: choose from {', '.join(INGREDIENTS)}")
    return {name: obj for name, obj in optional.items() if name not in drop and obj != []}


def _resume(
    ckpt: tf.train.Checkpoint,
    candidates: tf.train.CheckpointManager | list[str],
    workdir: object,
    say: Callable[[str], None],
) -> tuple[str | None, list[tuple[str, str]]]:
    """Restore the newest good checkpoint; set damaged ones aside and say so; return what was resumed."""
    try:
        report, skipped = restore_newest_good(ckpt, candidates)
    except (ModelMismatchError, ShapeMismatchError) as err:
        # Nothing is written: the folder belongs to another run, whose checkpoints a save would replace.
        raise ModelMismatchError(
            f"{workdir} holds checkpoints of a different model or settings: {err}. "
            "Pass a new --workdir, or the same --model and --no-save-* flags as the run that wrote it"
        ) from None
    for path, reason in skipped:
        kept = _set_aside(path)  # kept for a post-mortem; the resumed run will save that number again
        where = f" (kept as damaged/{', damaged/'.join(kept)})" if kept else ""
        say(f"skipped {Path(path).name}: {reason}{where}")
    if report is None:
        return None, skipped
    say(f"resumed from {Path(report.path).name} at step {int(ckpt.step)}")
    return report.path, skipped
