"""The exercise checks of notebook 06_resume_after_a_crash.ipynb.

Exercise 1 is checked by what matters: a run resumed from the learner's checkpoint must end with the
same weights, bit for bit, as the run that was never interrupted. Exercise 2 gets folders holding
what crashes leave behind, built here, with the right answer known by construction; an answer that
lets a ckptkit helper do the reading is refused, since the exercise is about TensorFlow's own calls.
"""

from __future__ import annotations

from ckptkit.exercises.feedback import (
    Feedback,
    answer_of,
    answer_without_helpers,
    drawn_order,
    judged,
    tracked,
)
from ckptkit.lab.folder import STATE_FILE
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.runs.models import seed_states
from ckptkit.runs.step import apply_step

import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["check_newest_restorable", "check_resumable"]

Parts = tuple[tf.keras.Model, tf.keras.optimizers.Optimizer, object, tf.random.Generator, tf.Variable]


def _parts(seed: int) -> Parts:
    """A model with a BatchNormalization and Dropouts where `seed` puts them, one nested; Adam, data, a
    generator, a step."""
    dense, dropout = tf.keras.layers.Dense, tf.keras.layers.Dropout
    rng = np.random.default_rng(seed)
    block = tf.keras.Sequential([dense(12, activation="relu"), dropout(0.2, seed=seed + 1)])
    # A BatchNormalization's moving statistics are the model's alone: no optimizer tracks them.
    hidden = [dense(12, activation="relu"), tf.keras.layers.BatchNormalization(), block]
    for n in range(int(rng.integers(1, 3))):  # one or two more, at drawn places: no fixed layer index works
        hidden.insert(int(rng.integers(0, len(hidden) + 1)), dropout(0.3, seed=seed + 2 + n))
    model = tf.keras.Sequential([tf.keras.Input((6,)), *hidden, dense(1)])
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
    seeds = seed_states(model)
    norm = tf.keras.layers.BatchNormalization
    moving = [v for layer in model.layers if isinstance(layer, norm) for v in layer.non_trainable_variables]
    for missing, why in (
        (model.trainable_variables, "the model's weights are not all saved"),
        (moving, "the BatchNormalization's moving mean and variance are not saved with the model"),
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
        seed = int(np.random.default_rng().integers(1, 10_000))  # a new layout on every run
        first = _parts(seed)
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
        second = _parts(seed)  # a new process after the crash: every object built afresh
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
    dropouts = len(seed_states(first[0]))
    return Feedback(
        True,
        f"right: a model with a BatchNormalization and {dropouts} Dropout layers, one in a nested block, "
        "saved after 3 steps and resumed in fresh objects, ended 4 steps later with the uninterrupted run's "
        "weights, bit for bit",
    )


def _save(folder: Path, steps: int) -> None:
    """`steps` checkpoints ckpt-1 ... of a small model, saved by a `CheckpointManager` that keeps them all."""
    ckpt = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64), w=tf.Variable(tf.zeros([64])))
    manager = tf.train.CheckpointManager(ckpt, str(folder), max_to_keep=None)
    for step in range(1, steps + 1):
        ckpt.step.assign(step)
        ckpt.w.assign(tf.random.stateless_normal([64], seed=[step, 6]))
        manager.save()


def _copy(folder: Path, source: str, target: str) -> None:
    """Copy checkpoint `source`'s files to `target`'s names, as unlisted leftovers of a crash."""
    for file in folder.glob(source + ".*"):
        shutil.copy(file, folder / (target + file.name[len(source) :]))


def _half(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


# Each builder makes one folder as crashes leave it and returns (the right answer, why each wrong answer is
# wrong). The cheapest comes first, so a placeholder is answered before the others are built.
Answer = tuple[str | None, dict[str | None, str]]


def _nothing(folder: Path) -> Answer:
    """A first save killed: no state file yet."""
    (folder / "ckpt-1_temp").mkdir(parents=True)
    return None, {}


def _killed(folder: Path) -> Answer:
    """ckpt-1 and ckpt-2 committed; the rest is what kills in later saves left."""
    _save(folder, 2)
    (folder / "ckpt-3_temp").mkdir()
    shard = folder / "ckpt-3_temp" / "part-00000-of-00001.data-00000-of-00001.tempstate77"
    shard.write_bytes((folder / "ckpt-2.data-00000-of-00001").read_bytes()[:100])
    _copy(folder, "ckpt-2", "ckpt-4")
    _half(folder / "ckpt-4.index")
    _copy(folder, "ckpt-2", "ckpt-5")
    state = (folder / STATE_FILE).read_text().replace('"ckpt-2"', '"ckpt-5"')
    (folder / "checkpoint.tmp5e7a").write_text(state)  # written, never renamed into place
    uncommitted = "complete on disk, but no state file lists it: its save was never committed"
    return "ckpt-2", {"ckpt-4": uncommitted, "ckpt-5": uncommitted, "ckpt-1": "ckpt-2 is newer"}


def _power_cut(folder: Path) -> Answer:
    """The state file lists ckpt-3, whose index never reached the disk whole; a killed ckpt-4 is unlisted."""
    _save(folder, 3)
    _half(folder / "ckpt-3.index")
    _copy(folder, "ckpt-2", "ckpt-4")
    return "ckpt-2", {
        "ckpt-3": "it is listed, but its index is cut short: read it back first",
        "ckpt-4": "whole on disk, but the state file, which is there to read, never listed it: its save "
        "was never committed",
    }


def _flipped(folder: Path) -> Answer:
    """ckpt-3's data has a flipped bit, ckpt-2 lost its index."""
    _save(folder, 3)
    data = bytearray((folder / "ckpt-3.data-00000-of-00001").read_bytes())
    data[len(data) // 3] ^= 0x04
    (folder / "ckpt-3.data-00000-of-00001").write_bytes(bytes(data))
    (folder / "ckpt-2.index").unlink()
    return "ckpt-1", {
        "ckpt-3": "it is listed, but one of its values fails its checksum: read every value",
        "ckpt-2": "it is listed, but its index is gone",
    }


def _empty_state(folder: Path) -> Answer:
    """A power cut emptied the state file; ckpt-3's index never reached the disk whole."""
    _save(folder, 3)
    _half(folder / "ckpt-3.index")
    (folder / STATE_FILE).write_text("")
    return "ckpt-2", {
        "ckpt-3": "its index is cut short: read it back first",
        None: "the state file is empty, as a power cut can leave it, and ckpt-2 is whole on disk: when the "
        "state file cannot be read, fall back to the ckpt-N files on disk, newest first",
    }


def _zeroed_state(folder: Path) -> Answer:
    """A power cut left the state file full of zero bytes: TensorFlow reads no state, and says nothing."""
    _save(folder, 3)
    _half(folder / "ckpt-3.index")
    (folder / STATE_FILE).write_bytes(bytes(40))
    return "ckpt-2", {
        "ckpt-3": "its index is cut short: read it back first",
        None: "the state file holds zero bytes, as a power cut can leave it: TensorFlow then reads no state "
        "and raises nothing, as in a folder with no checkpoint, yet ckpt-2 is whole on disk: fall back to it",
    }


def _lost_state(folder: Path) -> Answer:
    """The state file is gone (deleted, or never copied), and ckpt-1 to ckpt-11 are whole on disk."""
    _save(folder, 11)
    (folder / STATE_FILE).unlink()
    return "ckpt-11", {
        None: "there is no state file, yet ckpt-11 is whole on disk: with no state file to say which saves "
        "were committed, the newest whole ckpt-N file on disk is the best guess",
        "ckpt-9": "ckpt-11 is newer and whole: order the files by N as a number, not as text",
        "ckpt-10": "ckpt-11 is newer and whole",
    }


def _healthy(folder: Path) -> Answer:
    """Three whole, committed checkpoints."""
    _save(folder, 3)
    return "ckpt-3", {"ckpt-2": "ckpt-3 is newer and whole", "ckpt-1": "ckpt-3 is newer and whole"}


_FOLDERS = {"nothing": _nothing, "killed": _killed, "power-cut": _power_cut, "flipped": _flipped}
_FOLDERS |= {"healthy": _healthy, "empty-state": _empty_state, "zeroed-state": _zeroed_state}
_FOLDERS |= {"lost-state": _lost_state}


@judged
def check_newest_restorable(newest_restorable: object) -> Feedback:
    """06 exercise 2: `newest_restorable(folder)` finds the newest committed, whole checkpoint, or None."""
    # Unseeded names that do not tell a folder's case, asked in an order of the check's own.
    numbers = random.Random().sample(range(16**6), len(_FOLDERS))
    names = {case: f"run-{number:06x}" for case, number in zip(_FOLDERS, numbers, strict=True)}
    asked = drawn_order(_FOLDERS)
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as root:
        built = {case: build(Path(root) / names[case]) for case, build in _FOLDERS.items()}
        answers = {
            case: answer_without_helpers(newest_restorable, "newest_restorable", f"{root}/{names[case]}")
            for case in asked
        }
        for case, (right, wrong) in built.items():  # judged in a fixed order: one answer, one hint
            got, problem = answers[case]
            if problem is not None:
                return problem
            feedback = _judge(got, right, wrong)
            if feedback is not None:
                return feedback
    return Feedback(
        True,
        "right: past kill debris, a cut index, a flipped bit and a lost index to the newest good "
        "checkpoint, the newest one in a healthy folder, None where nothing was committed, and past an "
        "empty, a zeroed and a missing state file to the newest whole checkpoint on disk",
    )


def _judge(got: object, right: str | None, wrong: dict[str | None, str]) -> Feedback | None:
    """None when `got` names the right checkpoint (or is None where none is right), else why not."""
    got_name = os.path.basename(os.fspath(got)) if isinstance(got, str | os.PathLike) else got
    if got_name == right:
        return None
    if right is None:
        return Feedback(False, f"in a folder where no save was ever committed it returned {got_name!r}")
    if got is None:
        return Feedback(
            False, wrong.get(None, f"it returned None, but {right} in that folder is committed and whole")
        )
    reason = wrong.get(got_name, "it is not a checkpoint of that folder")
    return Feedback(False, f"it returned {got_name}: {reason} (reread 'Kill it at each stage of a save')")
