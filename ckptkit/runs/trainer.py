"""A trainer that resumes bit-identically after a crash: model, optimizer, step, data, RNG, layer seeds."""

from __future__ import annotations

from ckptkit.live.determinism import seed_everything
from ckptkit.live.private import replaced_rename, replaced_save_op, replaced_shard_writer
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import snapshot
from ckptkit.runs import loop
from ckptkit.runs.loop import (
    INGREDIENTS,
    KILL_POINTS,
    WORKDIR,
    check_steps,
    kill_self,
    say_flushed,
)
from ckptkit.runs.models import run_setup, seed_states
from ckptkit.runs.resume import candidates, resume
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
    found = candidates(Path(workdir), say)  # before the manager reads the state file
    manager = tf.train.CheckpointManager(ckpt, os.fspath(workdir), max_to_keep=3)
    resumed_from, skipped = resume(ckpt, found, workdir, say)

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

    ends = {"kill_at_step": kill_at_step, "stop_at_step": stop_at_step}  # a crash rehearsal, an early stop
    loop.run(advance, lambda: int(step), steps, save_every, save, say=say, **ends)
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
