"""The exercise checks of notebook 01: reference solutions pass; cheats and wrong answers get a hint."""

from ckptkit.exercises.nb01 import (
    SCHEDULES,
    _momentum_run,
    check_next_number,
    check_resume,
    check_save_schedule,
)

import contextlib
import glob
import os
import re
import tempfile
from pathlib import Path

import pytest
import tensorflow as tf

from helpers import spells_out

# Calls the reference solutions make: no ❌ may hand them over.
SOLUTION_CALLS = (
    "range(",
    "% every",
    "steps - 1",
    "Checkpoint(",
    ".restore(",
    ".read(",
    "expect_partial",
    "tf.Variable(",
    "list_variables",
    "build(",
    "SGD(",
    "glob(",
    "max(",
    "rsplit",
    "isdigit",
)
KEY = "model_variables/{}/.ATTRIBUTES/VARIABLE_VALUE"


def _wrong(feedback) -> str:
    """A ❌'s message, checked for leaks on the way."""
    assert not feedback and repr(feedback).startswith("❌"), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message
    return feedback.message


# The reference solutions, kept here and never in the notebook.
def save_schedule(steps, every):
    return sorted(set(range(every - 1, steps, every)) | {steps - 1}) if steps else []


def resume(path):
    shapes = dict(tf.train.list_variables(path))
    w, b = (tf.Variable(tf.zeros(shapes[KEY.format(i)])) for i in (0, 1))
    optimizer = tf.keras.optimizers.SGD(momentum=0.9)
    tf.train.Checkpoint(model_variables=(w, b), optimizer=optimizer).restore(path).expect_partial()
    return w, b, optimizer


def next_number(folder):
    suffixes = [p.removesuffix(".index").rsplit("-", 1)[1] for p in glob.glob(f"{folder}/ckpt-*.index")]
    return max((int(n) for n in suffixes if n.isascii() and n.isdigit()), default=0) + 1


def test_save_schedule_right_answers():
    assert check_save_schedule(save_schedule)
    assert check_save_schedule(lambda n, k: [e for e in range(n) if (e + 1) % k == 0 or e == n - 1])
    assert check_save_schedule(lambda n, k: tuple(e for e in range(n) if e % k == k - 1 or e + 1 == n))
    assert "8 runs" in check_save_schedule(save_schedule).message
    table = {run: save_schedule(*run) for run in SCHEDULES}  # the fixed runs' answers, looked up
    assert "saving every" in _wrong(check_save_schedule(lambda n, k: table.get((n, k), [])))
    # the worked examples the notebook gives
    assert [save_schedule(*run) for run in ((25, 10), (20, 10), (5, 10), (0, 10))] == [
        [9, 19, 24],
        [9, 19],
        [4],
        [],
    ]


def test_save_schedule_wrong_answers_and_cheats():
    # the notebook's own rule, and two plausible fixes that miss a case
    assert "never saved" in _wrong(check_save_schedule(lambda n, k: [e for e in range(n) if e % k == 0]))
    only_multiples = _wrong(check_save_schedule(lambda n, k: [e for e in range(n) if (e + 1) % k == 0]))
    assert "23 steps" in only_multiples and "final 3 steps" in only_multiples
    shifted = _wrong(check_save_schedule(lambda n, k: [e for e in range(n) if e % k == 0 or e == n - 1]))
    assert "other steps than steps 10, 20" in shifted and "i = 9" in shifted
    # counted from 1, as step numbers
    assert "counts i from 0 to 19" in _wrong(
        check_save_schedule(lambda n, k: [e for e in range(1, n + 1) if e % k == 0 or e == n])
    )
    # the answer for the notebook's run only, or the worked example, as a fixed list
    assert "23 steps" in _wrong(check_save_schedule(lambda n, k: [9, 19]))
    assert "counts i from 0 to 19" in _wrong(check_save_schedule(lambda n, k: [9, 19, 24]))
    assert "never saves" not in _wrong(check_save_schedule(lambda n, k: []))
    # each i once, in order, and nothing for a run of no steps
    twice = _wrong(check_save_schedule(lambda n, k: [e for e in range(n) if (e + 1) % k == 0] + [n - 1]))
    assert "i = 19 more than once" in twice
    unordered = _wrong(
        check_save_schedule(lambda n, k: [n - 1] + [e for e in range(n - 1) if (e + 1) % k == 0])
    )
    assert "not in increasing order" in unordered
    last = _wrong(check_save_schedule(lambda n, k: sorted(set(range(k - 1, n, k)) | {n - 1})))
    assert "a run of 0 steps" in last and "never enters its loop" in last


def test_save_schedule_placeholder_and_bad_types():
    def placeholder(epochs, every): ...

    assert "still the placeholder" in _wrong(check_save_schedule(placeholder))
    assert "raised ZeroDivisionError" in _wrong(check_save_schedule(lambda n, k: 1 / 0))
    assert "not a list of whole numbers" in _wrong(check_save_schedule(lambda n, k: "9, 19"))
    assert "not a list of whole numbers" in _wrong(check_save_schedule(lambda n, k: [9.0, 19.0]))
    assert "must be a function" in _wrong(check_save_schedule([9, 19]))


def _fresh(path, order=("w", "b")):
    """New w and b of the file's shapes, and a momentum SGD, not yet restored."""
    shapes = dict(tf.train.list_variables(path))
    w, b = (tf.Variable(tf.zeros(shapes[KEY.format(i)])) for i in (0, 1))
    return w, b, tf.keras.optimizers.SGD(momentum=0.9)


def test_resume_right_answers():
    def everything(path):  # the whole structure, step too: consumed once the slots exist
        w, b, optimizer = _fresh(path)
        tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b), optimizer=optimizer).restore(path)
        return w, b, optimizer

    def built_first(path):  # slots created before the restore: assigned at once, so consumed at once
        w, b, optimizer = _fresh(path)
        optimizer.build([w, b])
        ckpt = tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b), optimizer=optimizer)
        ckpt.restore(path).assert_consumed()
        return [w, b, optimizer]

    def apart(path):  # Keras 3 saves slots by position: a checkpoint of the optimizer alone finds them
        w, b, optimizer = _fresh(path)
        tf.train.Checkpoint(model_variables=(w, b)).restore(path).expect_partial()
        tf.train.Checkpoint(optimizer=optimizer).restore(path).expect_partial()
        return w, b, optimizer

    for answer in (resume, everything, built_first, apart):
        feedback = check_resume(answer)
        assert feedback and "2 momentum runs" in feedback.message, feedback


def test_resume_file_is_as_the_exercise_says():
    # "saved as tf.Checkpoint(step=tf.Variable(n), ...) after n steps of training"
    with tempfile.TemporaryDirectory() as root:
        run = _momentum_run(Path(root), 3, 3, 0.02)
        step = tf.train.load_checkpoint(run.path).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")
        assert step.dtype == tf.Variable(0).dtype.as_numpy_dtype and step == 3
        iterations = tf.train.load_variable(run.path, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")
        assert iterations == 3


def test_resume_cheats_fail():
    w, b = tf.Variable([[1.0]]), tf.Variable([0.5])

    def aliasing(path):  # hand over variables that existed before
        _, _, optimizer = _fresh(path)
        return w, b, optimizer

    def load_variable(path):  # values without any checkpoint restore
        return *(tf.Variable(tf.train.load_variable(path, KEY.format(i))) for i in (0, 1)), _fresh(path)[2]

    def copied_cell(path):  # the notebook's cell: the shapes of its own w and b
        w_new, b_new = tf.Variable(tf.zeros([1, 1])), tf.Variable(tf.zeros([1]))
        resumed = tf.keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        tf.train.Checkpoint(model_variables=(w_new, b_new), optimizer=resumed).restore(path)
        return w_new, b_new, resumed

    assert "existed before" in _wrong(check_resume(aliasing))
    assert "through a checkpoint's restore" in _wrong(check_resume(load_variable))
    assert "w has shape (3, 1)" in _wrong(check_resume(copied_cell))


def test_resume_wrong_answers():
    def no_optimizer(path):  # the optimizer stays as built: its learning rate and slots are its own
        w, b, optimizer = _fresh(path)
        tf.train.Checkpoint(model_variables=(w, b)).restore(path).expect_partial()
        return w, b, optimizer

    def by_hand(path):  # the learning rate copied over, the slots left at zero
        w, b, optimizer = _fresh(path)
        tf.train.Checkpoint(model_variables=(w, b)).restore(path).expect_partial()
        optimizer.learning_rate.assign(
            tf.train.load_variable(path, "optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE")
        )
        return w, b, optimizer

    def plain(path):
        w, b, _ = _fresh(path)
        optimizer = tf.keras.optimizers.SGD()
        tf.train.Checkpoint(model_variables=(w, b), optimizer=optimizer).restore(path).expect_partial()
        return w, b, optimizer

    def unhandled(path):  # step left in the file, nothing said
        w, b, optimizer = _fresh(path)
        tf.train.Checkpoint(model_variables=(w, b), optimizer=optimizer).restore(path)
        return w, b, optimizer

    kept = []

    def unhandled_kept(path):  # the same, its status kept where the check's collection never reaches
        w, b, optimizer = _fresh(path)
        kept.append(tf.train.Checkpoint(model_variables=(w, b), optimizer=optimizer).restore(path))
        return w, b, optimizer

    def too_early(path):  # the slots do not exist yet
        w, b, optimizer = _fresh(path)
        ckpt = tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b), optimizer=optimizer)
        ckpt.restore(path).assert_consumed()
        return w, b, optimizer

    def swapped(path):  # built over [b, w]: each slot meets the other variable's shape
        w, b, optimizer = _fresh(path)
        optimizer.build([b, w])
        tf.train.Checkpoint(model_variables=(w, b), optimizer=optimizer).restore(path).expect_partial()
        return w, b, optimizer

    assert "learning rate is 0.01, the file's 0.02" in _wrong(check_resume(no_optimizer))
    assert "momentum slots did not start" in _wrong(check_resume(by_hand))
    assert "momentum is 0.0" in _wrong(check_resume(plain))
    assert "warnings" in _wrong(check_resume(unhandled))
    assert "warnings" in _wrong(check_resume(unhandled_kept))
    assert "AssertionError from a status check" in _wrong(check_resume(too_early))
    assert "ValueError on a shape" in _wrong(check_resume(swapped))
    assert "(w, b, optimizer)" in _wrong(check_resume(lambda p: _fresh(p)[:2]))


def test_resume_placeholder_and_errors():
    def placeholder(path): ...

    assert "still the placeholder" in _wrong(check_resume(placeholder))
    assert "raised KeyError" in _wrong(check_resume(lambda p: {}["w"]))
    assert "must be a function" in _wrong(check_resume(None))


def test_next_number_right_answers():
    def by_listing(folder):
        numbers = [
            int(name[5:-6])
            for name in os.listdir(folder)
            if name.startswith("ckpt-")
            and name.endswith(".index")
            and name[5:-6].isascii()
            and name[5:-6].isdigit()
        ]
        return 1 + max(numbers) if numbers else 1

    for answer in (next_number, by_listing):
        feedback = check_next_number(answer)
        assert feedback and "9 folders" in feedback.message, feedback


def test_next_number_wrong_answers_and_cheats():
    def latest_plus_one(folder):  # what the state file names newest
        latest = tf.train.latest_checkpoint(folder)
        return int(latest.rsplit("-", 1)[1]) + 1 if latest else 1

    def manager_list(folder):  # what a manager's state file lists
        listed = tf.train.CheckpointManager(tf.train.Checkpoint(), folder, max_to_keep=None).checkpoints
        return max((int(p.rsplit("-", 1)[1]) for p in listed), default=0) + 1

    def sorted_as_text(folder):  # "ckpt-8" sorts after "ckpt-12"
        names = sorted(glob.glob(f"{folder}/ckpt-*.index"))
        return int(names[-1].removesuffix(".index").rsplit("-", 1)[1]) + 1 if names else 1

    def count(folder):
        return len(glob.glob(f"{folder}/ckpt-*.index")) + 1

    assert "ckpt-8" in _wrong(check_next_number(latest_plus_one))
    assert "could overwrite" in _wrong(check_next_number(manager_list))
    assert "ckpt-8" in _wrong(check_next_number(sorted_as_text))
    assert "overwrite" in _wrong(check_next_number(count))
    assert "too high" in _wrong(check_next_number(lambda folder: next_number(folder) + 1))

    def every_index(folder):  # the notebook's listing: every prefix, every suffix
        return max((int(p.stem.rsplit("-", 1)[1]) for p in folder.glob("*.index")), default=0) + 1

    def digits_anywhere(folder):  # ckpt- files of any ending
        numbers = [int(p.name.split(".")[0][5:]) for p in folder.glob("ckpt-*")]
        return max((n for n in numbers), default=0) + 1

    prefixes = _wrong(check_next_number(every_index))
    assert "other-99" in prefixes and "too high" in prefixes
    named = _wrong(
        check_next_number(lambda f: next_number(f) if "named" not in str(f) else digits_anywhere(f))
    )
    assert "ckpt-best" in named and "raised ValueError" in named
    data = _wrong(check_next_number(lambda f: digits_anywhere(f) if "data" in str(f) else next_number(f)))
    assert "without its .index" in data and "too high" in data

    def unanchored(folder):  # "ckpt-" anywhere in the name: old-ckpt-30 counts
        found = [re.search(r"ckpt-(\d+)\.index$", p.name) for p in folder.iterdir()]
        return max((int(m[1]) for m in found if m), default=0) + 1

    def any_int(folder):  # int() reads "9_9" as 99
        numbers = []
        for p in folder.glob("ckpt-*.index"):
            with contextlib.suppress(ValueError):
                numbers.append(int(p.name[5:-6]))
        return max(numbers, default=0) + 1

    def unicode_digits(folder):  # \d and str.isdigit() take Arabic-Indic digits too: ckpt-٥٠ counts as 50
        found = [re.fullmatch(r"ckpt-(\d+)\.index", p.name) for p in folder.iterdir()]
        return max((int(m[1]) for m in found if m), default=0) + 1

    arabic = _wrong(check_next_number(unicode_digits))
    assert "Arabic-Indic" in arabic and "returned 51" in arabic and "too high" in arabic
    old = _wrong(check_next_number(unanchored))
    assert "old-ckpt-30" in old and "returned 31" in old and "too high" in old
    underscore = _wrong(check_next_number(any_int))
    assert "ckpt-9_9" in underscore and "returned 100" in underscore and "too high" in underscore
    empty = check_next_number(lambda folder: max([]))  # echoes the learner's own error, so no leak check
    assert not empty and "on a folder holding no checkpoint" in empty.message


def test_next_number_placeholder_and_bad_types():
    def placeholder(folder): ...

    assert "still the placeholder" in _wrong(check_next_number(placeholder))
    assert "not a whole number" in _wrong(check_next_number(lambda folder: "13"))
    assert "must be a function" in _wrong(check_next_number(13))


@pytest.mark.parametrize("check", [check_save_schedule, check_resume, check_next_number])
def test_a_check_never_raises(check):
    class Strange:
        def __call__(self, *args):
            raise SystemError("boom")

    assert "raised SystemError" in _wrong(check(Strange()))
