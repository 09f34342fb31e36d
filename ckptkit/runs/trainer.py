"""A trainer that resumes bit-identically after a crash: model, optimizer, step, data, RNG, layer seeds."""

from __future__ import annotations

from ckptkit.errors import ModelMismatchError, ShapeMismatchError, WorkspaceError
from ckptkit.live.determinism import seed_everything
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.restore import restore_newest_good
from ckptkit.live.snapshot import snapshot
from ckptkit.runs.models import DropoutModel, regression_data, seed_states
from ckptkit.runs.step import check_steps, mse

import hashlib
import os
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["INGREDIENTS", "TrainResult", "train"]

# What exact resumption needs, beyond the model's weights. Each can be left out to see what breaks.
INGREDIENTS = ("optimizer", "iterator", "rng", "layer_seeds")


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


Setup = tuple[Callable, list, dict, tf.keras.optimizers.Optimizer, tuple]  # predict, variables, ...


def _linear(seed: int) -> Setup:
    w = tf.Variable(tf.random.stateless_normal([1, 1], seed=[seed, 0]))
    b = tf.Variable(tf.zeros([1]))
    x = tf.reshape(tf.linspace(-1.0, 1.0, 32), [32, 1])
    predict = lambda t, training: t @ w + b  # noqa: E731
    optimizer = _sgd(0.05)
    optimizer.build([w, b])  # its momentum slots must exist before a restore can fill them
    return predict, [w, b], {"model_variables": (w, b)}, optimizer, (x, 2.0 * x + 1.0)


def _keras(seed: int) -> Setup:
    model = DropoutModel(seed=seed)
    data = regression_data(n=64, seed=seed)
    model(data[0][:1])  # build before any restore (Keras 3)
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
    optimizer.build(model.trainable_variables)
    return model, model.trainable_variables, {"model": model}, optimizer, data


def _sgd(rate: float) -> tf.keras.optimizers.Optimizer:
    # Momentum gives SGD per-variable state, so that leaving the optimizer out visibly matters.
    return tf.keras.optimizers.SGD(learning_rate=rate, momentum=0.9)


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _say(message: str) -> None:
    # Flushed at once: a SIGKILLed process loses whatever its buffer still holds.
    print(message, flush=True)


# What this trainer writes in its folder: the state file, numbered checkpoints, a save's temporary
# folder, damaged checkpoints set aside, and the final weights.
_OWN_FILES = re.compile(
    r"checkpoint(\.tmp\w*)?|ckpt-\d+(\.index|\.data-\d{5}-of-\d{5}|_temp.*)|damaged|final-weights\.npz"
)


def _check_folder(workdir: Path) -> None:
    """Refuse a folder that holds files this trainer did not write: it would mix runs, or lose files."""
    if not workdir.is_dir():
        return
    foreign = sorted(p.name for p in workdir.iterdir() if not _OWN_FILES.fullmatch(p.name))
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise WorkspaceError(
            f"{workdir} holds files that are not this trainer's checkpoints ({shown}): "
            "pass an empty or new folder, or one a previous `ckptkit train` wrote"
        )


def _set_aside(prefix: str) -> list[str]:
    """Move a damaged checkpoint's files into `damaged/` beside it, never over another file."""
    folder = Path(prefix).parent / "damaged"
    folder.mkdir(exist_ok=True)
    moved = []
    for file in sorted(Path(prefix).parent.glob(Path(prefix).name + ".*")):
        target, n = folder / file.name, 1
        while target.exists():
            target, n = folder / f"{file.name}.{n}", n + 1
        file.rename(target)
        moved.append(target.name)
    return moved


def train(
    model: str = "keras",
    steps: int = 60,
    save_every: int = 10,
    seed: int = 0,
    workdir: str | os.PathLike[str] = "workspace/train",
    drop: tuple[str, ...] = (),
    kill_at_step: int | None = None,
    kill_during_save: int | None = None,
    stop_at_step: int | None = None,
    say: Callable[[str], None] = _say,
) -> TrainResult:
    """Train to `steps`, saving every `save_every`; resume from `workdir` if it holds a checkpoint.

    `drop` leaves ingredients out of the checkpoint (see `INGREDIENTS`). `kill_at_step` SIGKILLs the
    process after that step; `kill_during_save` SIGKILLs it inside the save at that step, after the
    data is written and before the checkpoint is committed; `stop_at_step` returns early instead.
    """
    steps, save_every = check_steps(steps), max(1, check_steps(save_every))
    unknown = set(drop) - set(INGREDIENTS)
    if unknown:
        raise ValueError(f"cannot drop {sorted(unknown)}: choose from {', '.join(INGREDIENTS)}")
    seed_everything(seed)
    builders = {"linear": _linear, "keras": _keras}
    if model not in builders:
        raise ValueError(f"unknown model {model!r}: choose linear or keras")
    predict, variables, objects, optimizer, (inputs, targets) = builders[model](seed)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    dataset = dataset.shuffle(64, seed=seed, reshuffle_each_iteration=True).repeat().batch(8)
    iterator = iter(dataset)
    generator = tf.random.Generator.from_seed(seed)  # input noise: the run's own random stream
    step = tf.Variable(0, dtype=tf.int64)

    parts: dict[str, object] = {"step": step, **objects}
    optional = {
        "optimizer": optimizer,
        "iterator": iterator,
        "rng": generator,
        "layer_seeds": seed_states(predict),
    }
    parts |= {name: obj for name, obj in optional.items() if name not in drop and obj != []}
    ckpt = tf.train.Checkpoint(**parts)
    _check_folder(Path(workdir))
    manager = tf.train.CheckpointManager(ckpt, os.fspath(workdir), max_to_keep=3)

    try:
        report, skipped = restore_newest_good(ckpt, manager)
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
    if report is not None:
        say(f"resumed from {Path(report.path).name} at step {int(step)}")

    while int(step) < steps:
        x, y = next(iterator)
        x = x + 0.05 * generator.normal(tf.shape(x))
        with tf.GradientTape() as tape:
            loss = mse(predict(x, training=True), y)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        step.assign_add(1)
        at = int(step)
        if at % save_every == 0 or at == steps:
            if at == kill_during_save:
                from tensorflow.python.ops import gen_io_ops  # the op that commits a save's files

                gen_io_ops.merge_v2_checkpoints = lambda *a, **k: _kill_self()
            path = manager.save(checkpoint_number=at)
            say(f"saved {Path(path).name} at step {at}, loss {float(loss):.4g}")
        if at == kill_at_step:
            _kill_self()
        if at == stop_at_step:
            break
    weights = snapshot(tf.train.Checkpoint(**objects))
    result = TrainResult(int(step), weights, report.path if report else None, skipped)
    np.savez(Path(workdir) / "final-weights.npz", **weights)
    return result
