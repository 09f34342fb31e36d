"""The exercise checks of notebook 01: reference solutions pass; cheats and wrong answers get a hint."""

from ckptkit.exercises.nb01 import check_next_number, check_restore_into_fresh, check_save_schedule

import glob
import os

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
    "glob(",
    "max(",
    "rsplit",
)
KEY = "model_variables/{}/.ATTRIBUTES/VARIABLE_VALUE"


def _wrong(feedback) -> str:
    """A ❌'s message, checked for leaks on the way."""
    assert not feedback and repr(feedback).startswith("❌"), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message
    return feedback.message


# The reference solutions, kept here and never in the notebook.
def save_schedule(steps, every):
    return sorted(set(range(every - 1, steps, every)) | {steps - 1})


def restore_into_fresh(path):
    w, b = tf.Variable(tf.zeros([1, 1])), tf.Variable(tf.zeros([1]))
    tf.train.Checkpoint(model_variables=(w, b)).restore(path).expect_partial()
    return w, b


def next_number(folder):
    numbers = [int(p.removesuffix(".index").rsplit("-", 1)[1]) for p in glob.glob(f"{folder}/ckpt-*.index")]
    return max(numbers, default=0) + 1


def test_save_schedule_right_answers():
    assert check_save_schedule(save_schedule)
    assert check_save_schedule(lambda n, k: [e for e in range(n) if (e + 1) % k == 0 or e == n - 1])
    assert check_save_schedule(lambda n, k: tuple(e for e in range(n) if e % k == k - 1 or e + 1 == n))
    assert "7 runs" in check_save_schedule(save_schedule).message
    assert save_schedule(25, 10) == [9, 19, 24]  # the worked example the notebook gives


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


def test_save_schedule_placeholder_and_bad_types():
    def placeholder(epochs, every): ...

    assert "still the placeholder" in _wrong(check_save_schedule(placeholder))
    assert "raised ZeroDivisionError" in _wrong(check_save_schedule(lambda n, k: 1 / 0))
    assert "not a list of whole numbers" in _wrong(check_save_schedule(lambda n, k: "9, 19"))
    assert "not a list of whole numbers" in _wrong(check_save_schedule(lambda n, k: [9.0, 19.0]))
    assert "must be a function" in _wrong(check_save_schedule([9, 19]))


def test_restore_into_fresh_right_answers():
    def with_read(path):
        pair = (tf.Variable([[0.0]]), tf.Variable([0.0]))
        tf.train.Checkpoint(model_variables=pair).read(path).expect_partial()
        return pair

    def whole(path):  # the same structure as the saved checkpoint: everything consumed
        w, b = tf.Variable([[0.0]]), tf.Variable([0.0])
        optimizer = tf.keras.optimizers.SGD(0.01)
        optimizer.build([w, b])
        ckpt = tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b), optimizer=optimizer)
        ckpt.restore(path).assert_consumed()
        return [w, b]

    for answer in (restore_into_fresh, with_read, whole):
        feedback = check_restore_into_fresh(answer)
        assert feedback and "2 checkpoints" in feedback.message, feedback


def test_restore_into_fresh_cheats_fail(tmp_path):
    w, b = tf.Variable([[1.0]]), tf.Variable([0.5])
    ckpt = tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b))

    def aliasing(path):  # restore into the notebook's own variables, hand them over
        ckpt.restore(path).expect_partial()
        return w, b

    def load_variable(path):  # values without any checkpoint restore
        return tuple(tf.Variable(tf.train.load_variable(path, KEY.format(i))) for i in (0, 1))

    def assigned(path):  # a restore happened, but into other variables
        new = (tf.Variable([[0.0]]), tf.Variable([0.0]))
        restore_into_fresh(path)
        for i, v in enumerate(new):
            v.assign(tf.train.load_variable(path, KEY.format(i)))
        return new

    def helper(path):  # ckptkit's snapshot, assigned by hand
        import ckptkit

        stored = ckptkit.snapshot(path)
        return tf.Variable(stored["model_variables/0"]), tf.Variable(stored["model_variables/1"])

    other = tf.train.Checkpoint(step=tf.Variable(11), model_variables=(w, b)).save(str(tmp_path / "nb"))

    def copied_cell(path):  # the notebook's cell, still restoring the notebook's own file
        w_new, b_new = tf.Variable(tf.zeros([1, 1])), tf.Variable(tf.zeros([1]))
        fresh = tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w_new, b_new))
        fresh.restore(other).expect_partial()
        return w_new, b_new

    assert "but the file stores" in _wrong(check_restore_into_fresh(copied_cell))
    assert "existed before" in _wrong(check_restore_into_fresh(aliasing))
    for cheat in (load_variable, assigned, helper):
        assert "did not arrive through a checkpoint's restore" in _wrong(check_restore_into_fresh(cheat))


def test_restore_into_fresh_wrong_answers():
    def no_status(path):
        w, b = tf.Variable([[0.0]]), tf.Variable([0.0])
        tf.train.Checkpoint(model_variables=(w, b)).restore(path)
        return w, b

    def flat(path):  # not shaped like the saved checkpoint: nothing matches
        w, b = tf.Variable([[0.0]]), tf.Variable([0.0])
        tf.train.Checkpoint(w=w, b=b).restore(path).expect_partial()
        return w, b

    def swapped(path):
        w, b = tf.Variable([[0.0]]), tf.Variable([0.0])
        tf.train.Checkpoint(model_variables=(b, w)).restore(path).expect_partial()
        return w, b

    assert "warnings" in _wrong(check_restore_into_fresh(no_status))
    assert "did not reach" in _wrong(check_restore_into_fresh(flat))
    assert "ValueError" in _wrong(check_restore_into_fresh(swapped))  # TensorFlow refuses the shapes
    assert "pair of tf.Variable" in _wrong(check_restore_into_fresh(lambda p: tf.Variable(1.0)))


def test_restore_into_fresh_placeholder_and_errors():
    def placeholder(path): ...

    assert "still the placeholder" in _wrong(check_restore_into_fresh(placeholder))
    assert "raised KeyError" in _wrong(check_restore_into_fresh(lambda p: {}["w"]))
    assert "must be a function" in _wrong(check_restore_into_fresh(None))


def test_next_number_right_answers():
    def by_listing(folder):
        numbers = [
            int(name[5:-6])
            for name in os.listdir(folder)
            if name.startswith("ckpt-") and name.endswith(".index")
        ]
        return 1 + max(numbers) if numbers else 1

    for answer in (next_number, by_listing):
        feedback = check_next_number(answer)
        assert feedback and "5 folders" in feedback.message, feedback


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
    empty = check_next_number(lambda folder: max([]))  # echoes the learner's own error, so no leak check
    assert not empty and "on a folder holding no checkpoint" in empty.message


def test_next_number_placeholder_and_bad_types():
    def placeholder(folder): ...

    assert "still the placeholder" in _wrong(check_next_number(placeholder))
    assert "not a whole number" in _wrong(check_next_number(lambda folder: "13"))
    assert "must be a function" in _wrong(check_next_number(13))


@pytest.mark.parametrize("check", [check_save_schedule, check_restore_into_fresh, check_next_number])
def test_a_check_never_raises(check):
    class Strange:
        def __call__(self, *args):
            raise SystemError("boom")

    assert "raised SystemError" in _wrong(check(Strange()))
