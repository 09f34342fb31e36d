"""The exercise checks of notebook 06_resume_after_a_crash.ipynb.

Exercise 1 is checked by what matters: a run resumed from the learner's checkpoint must end with the
same weights, bit for bit, as the run that was never interrupted. Exercise 2 gets folders holding
what crashes leave behind, built here, with the right answer known by construction.
"""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, answer_of, tracked
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.runs.step import apply_step

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_newest_restorable", "check_resumable"]

Parts = tuple[tf.keras.Model, tf.keras.optimizers.Optimizer, object, tf.random.Generator, tf.Variable]


def _parts(seed: int) -> Parts:
    """Two Dropout layers in a 6 -> 12 -> 12 -> 1 model, Adam, a shuffled iterator, a generator, a step."""
    dense, dropout = tf.keras.layers.Dense, tf.keras.layers.Dropout
    hidden = [dense(12, activation="relu"), dropout(0.3, seed=seed)]
    hidden += [dense(12, activation="relu"), dropout(0.2, seed=seed + 1)]
    model = tf.keras.Sequential([tf.keras.Input((6,)), *hidden, dense(1)])
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(0.5 * rng.normal(size=variable.shape).astype(np.float32))
    optimizer = tf.keras.optimizers.Adam(0.01)
    optimizer.build(model.trainable_variables)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = np.tanh(x.sum(axis=1, keepdims=True)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(40, seed=seed).repeat().batch(4)
    return model, optimizer, iter(data), tf.random.Generator.from_seed(seed), tf.Variable(0, dtype=tf.int64)


def _train(parts: Parts, steps: int) -> None:
    """Train `steps` steps: the next batch, input noise from the generator, Dropout active."""
    model, optimizer, iterator, generator, step = parts
    for _ in range(steps):
        x, y = next(iterator)
        apply_step(model, None, optimizer, x + 0.1 * generator.normal(tf.shape(x)), y, training=True)
        step.assign_add(1)


def _why_it_diverged(ckpt: tf.train.Checkpoint, parts: Parts) -> str:
    """The first ingredient the learner's checkpoint does not track, as a hint naming its row in 06."""
    model, optimizer, iterator, generator, _ = parts
    found = tracked(ckpt)
    seeds = [v for v in model.variables if "seed_generator_state" in v.path]
    for missing, why in (
        (model.trainable_variables, "the model's weights are not all saved"),
        ([optimizer], "Adam restarted with zero moments (the optimizer row of the table)"),
        ([iterator], "the data restarted from a fresh shuffle (the iterator row of the table)"),
        ([generator], "the random stream restarted, so the input noise differs (the rng row)"),
        (seeds, "the Dropout layers' seed states are not saved with the model (the last row of the table)"),
    ):
        if not all(id(obj) in found for obj in missing):
            return why
    return "some state that shapes the next step was not saved"


def check_resumable(resumable: object) -> Feedback:
    """06 exercise 1: a run resumed from `resumable(model, optimizer, iterator, generator, step)` is exact."""
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as folder:
        first = _parts(seed=606)
        ckpt, problem = answer_of(resumable, "resumable", *first)
        if problem is not None:
            return problem
        if not isinstance(ckpt, tf.train.Checkpoint):
            return Feedback(False, f"resumable returned {type(ckpt).__name__}: return a tf.train.Checkpoint")
        _train(first, 3)
        try:
            path = ckpt.write(os.path.join(folder, "ckpt"))
        except (tf.errors.OpError, ValueError, TypeError) as err:
            return Feedback(False, f"its checkpoint cannot be written: {str(err).splitlines()[0]}")
        _train(first, 4)  # the uninterrupted run goes on
        second = _parts(seed=606)  # a new process after the crash: every object built afresh
        again, problem = answer_of(resumable, "resumable", *second)
        if problem is not None:
            return problem
        with captured_tf_logs():
            again.read(path).expect_partial()
        if int(second[4]) != 3:
            return Feedback(
                False,
                f"after the restore the step is {int(second[4])}, not 3: the resumed run counts from the "
                "wrong step",
            )
        _train(second, 4)
    if not all(
        np.array_equal(a, b) for a, b in zip(first[0].get_weights(), second[0].get_weights(), strict=True)
    ):
        return Feedback(False, f"the resumed run ended with other weights: {_why_it_diverged(again, second)}")
    return Feedback(
        True,
        "right: a model with two Dropout layers, saved after 3 steps and resumed in fresh objects, ended "
        "4 steps later with the uninterrupted run's weights, bit for bit",
    )


def _save(folder: Path, steps: int) -> tf.train.Checkpoint:
    """`steps` checkpoints ckpt-1 ... of a small model, saved by a `CheckpointManager` that keeps them all."""
    ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), w=tf.Variable(tf.zeros([64])))
    manager = tf.train.CheckpointManager(ckpt, str(folder), max_to_keep=None)
    for step in range(1, steps + 1):
        ckpt.step.assign(step)
        ckpt.w.assign(tf.random.stateless_normal([64], seed=[step, 6]))
        manager.save()
    return ckpt


def _copy(folder: Path, source: str, target: str) -> None:
    """Copy checkpoint `source`'s files to `target`'s names, as unlisted leftovers of a crash."""
    for file in folder.glob(source + ".*"):
        shutil.copy(file, folder / (target + file.name[len(source) :]))


def _half(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _crash_folders(root: Path) -> dict[str, tuple[str | None, dict[str, str]]]:
    """Folders as crashes leave them: name -> (the right answer, why each wrong answer is wrong)."""
    debris = root / "killed"  # ckpt-1, ckpt-2 committed; the rest is what kills at later saves left
    _save(debris, 2)
    (debris / "ckpt-3_temp").mkdir()
    shard = debris / "ckpt-3_temp" / "part-00000-of-00001.data-00000-of-00001.tempstate77"
    shard.write_bytes((debris / "ckpt-2.data-00000-of-00001").read_bytes()[:100])
    _copy(debris, "ckpt-2", "ckpt-4")
    _half(debris / "ckpt-4.index")
    _copy(debris, "ckpt-2", "ckpt-5")
    state = (debris / "checkpoint").read_text().replace('"ckpt-2"', '"ckpt-5"')
    (debris / "checkpoint.tmp5e7a").write_text(state)  # written, never renamed into place
    power = root / "power-cut"  # the state file lists ckpt-3, whose index never reached the disk whole
    _save(power, 3)
    _half(power / "ckpt-3.index")
    flipped = root / "flipped"  # ckpt-3's data has a flipped bit, ckpt-2 lost its index
    _save(flipped, 3)
    data = bytearray((flipped / "ckpt-3.data-00000-of-00001").read_bytes())
    data[len(data) // 3] ^= 0x04
    (flipped / "ckpt-3.data-00000-of-00001").write_bytes(bytes(data))
    (flipped / "ckpt-2.index").unlink()
    healthy = root / "healthy"
    _save(healthy, 3)
    nothing = root / "nothing"  # a first save killed: no state file yet
    (nothing / "ckpt-1_temp").mkdir(parents=True)
    uncommitted = "complete on disk, but no state file lists it: its save was never committed"
    return {
        "killed": ("ckpt-2", {"ckpt-4": uncommitted, "ckpt-5": uncommitted, "ckpt-1": "ckpt-2 is newer"}),
        "power-cut": ("ckpt-2", {"ckpt-3": "it is listed, but its index is cut short: read it back first"}),
        "flipped": (
            "ckpt-1",
            {
                "ckpt-3": "it is listed, but one of its values fails its checksum: read every value",
                "ckpt-2": "it is listed, but its index is gone",
            },
        ),
        "healthy": ("ckpt-3", {"ckpt-2": "ckpt-3 is newer and whole", "ckpt-1": "ckpt-3 is newer and whole"}),
        "nothing": (None, {}),
    }


def check_newest_restorable(newest_restorable: object) -> Feedback:
    """06 exercise 2: `newest_restorable(folder)` finds the newest committed, whole checkpoint, or None."""
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as root:
        for name, (right, wrong) in _crash_folders(Path(root)).items():
            with captured_tf_logs():
                got, problem = answer_of(newest_restorable, "newest_restorable", os.path.join(root, name))
            if problem is not None:
                return problem
            got_name = os.path.basename(os.fspath(got)) if isinstance(got, str | os.PathLike) else got
            if got_name == right:
                continue
            if right is None:
                return Feedback(
                    False, f"in a folder where no save was ever committed it returned {got_name!r}"
                )
            if got is None:
                return Feedback(False, f"it returned None, but {right} in that folder is committed and whole")
            reason = wrong.get(got_name, "it is not a checkpoint of that folder")
            return Feedback(
                False, f"it returned {got_name}: {reason} (reread 'Kill it at each step of a save')"
            )
    return Feedback(
        True,
        "right: past kill debris, a cut index, a flipped bit and a lost index to the newest good "
        "checkpoint, the newest one in a healthy folder, and None where nothing was committed",
    )
