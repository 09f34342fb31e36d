"""The exercise check of notebook 00, and the watcher the checks of 00-03 share."""

import ckptkit
from ckptkit.exercises.feedback import is_placeholder, placeholder_or_error, watch
from ckptkit.exercises.nb00 import check_save_x

import gc
import sys

import pytest
import tensorflow as tf

from helpers import spells_out

# Calls the reference solution makes: no ❌ may hand them over.
SOLUTION_CALLS = ("Checkpoint(", ".save(", ".write(", "tf.Variable(")


def save_x(folder, values):  # the reference solution, kept here and never in the notebook
    return tf.train.Checkpoint(x=tf.Variable(values)).save(folder / "ckpt")


def _wrong(feedback) -> str:
    """A ❌'s message, checked for leaks on the way."""
    assert not feedback and repr(feedback).startswith("❌"), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message
    return feedback.message


def test_every_right_answer_passes():
    assert check_save_x(save_x)
    assert check_save_x(lambda folder, values: tf.train.Checkpoint(x=tf.Variable(values)).write(folder / "x"))
    feedback = check_save_x(lambda folder, values: str(save_x(folder, values)))
    assert repr(feedback).startswith("✅") and "3 and 5 values" in feedback.message


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        # three plausible wrong answers
        (lambda f, v: tf.train.Checkpoint(v=tf.Variable(v)).save(f / "ckpt"), "no value named x"),
        (lambda f, v: tf.train.Checkpoint(x=tf.Variable([1.0, 2.0, 3.0])).save(f / "ckpt"), "came back as"),
        (lambda f, v: tf.train.Checkpoint(x=tf.Variable([int(e) for e in v])).save(f / "ckpt"), "int32"),
        # saved into the folder's parent: the path is the folder itself plus a suffix
        (lambda f, v: tf.train.Checkpoint(x=tf.Variable(v)).save(f), "beside the folder"),
        # saved, but nothing returned
        (lambda f, v: tf.train.Checkpoint(x=tf.Variable(v)).save(f / "ckpt") and None, "returned None"),
        (lambda f, v: 42, "not the path"),
        (lambda f, v: f / "nothing", "no checkpoint has that path"),
    ],
)
def test_wrong_answers_get_a_hint(answer, hint):
    assert hint in _wrong(check_save_x(answer))


def test_a_checkpoint_saved_elsewhere_fails(tmp_path):
    elsewhere = save_x(tmp_path, [0.25, -4.0, 7.5])  # the notebook's own checkpoint, say

    assert "outside the folder" in _wrong(check_save_x(lambda folder, values: elsewhere))


def test_values_come_from_the_check_not_from_the_notebook():
    # The notebook's own demo values, or the first trial's values, saved whatever is asked.
    def fixed(folder, values):
        return tf.train.Checkpoint(x=tf.Variable([0.25, -4.0, 7.5])).save(folder / "ckpt")

    assert "shape [3]" in _wrong(check_save_x(fixed))


def test_placeholder_raising_and_non_functions_get_one_sentence():
    def placeholder(folder, values): ...

    def not_yet(folder, values):
        raise NotImplementedError

    assert "still the placeholder" in _wrong(check_save_x(placeholder))
    assert "returned None" in _wrong(check_save_x(lambda f, v: print(end="")))
    assert "still the placeholder" in _wrong(check_save_x(not_yet))
    assert "raised ZeroDivisionError" in _wrong(check_save_x(lambda f, v: 1 / 0))
    assert "must be a function" in _wrong(check_save_x("ckpt-1"))


def test_placeholders_are_told_apart_from_real_bodies():
    def handed_out(folder, values):
        # your answer
        ...

    def written(folder, values):
        return save_x(folder, values)

    assert is_placeholder(handed_out) and not is_placeholder(written) and not is_placeholder(print)


def test_watch_records_restores_creations_and_errors(tmp_path):
    with ckptkit.captured_tf_logs():  # what earlier tests left for collection logs now, not in `release`
        gc.collect()
    w, b = tf.Variable([[1.5]]), tf.Variable([0.5])
    path = tf.train.Checkpoint(step=tf.Variable(3), pair=(w, b)).save(str(tmp_path / "c"))

    def restore(p):
        new = (tf.Variable([[0.0]]), tf.Variable([0.0]))
        tf.train.Checkpoint(pair=new).read(p).expect_partial()
        return new

    seen = watch(restore, path)
    assert seen.restores == 1 and seen.restored_through_checkpoint(list(seen.result))
    assert all(seen.created_here(v) for v in seen.result) and not seen.created_here(w)
    assert not seen.restored_through_checkpoint([w]) and not seen.release()
    failed = watch(lambda p: 1 / 0, path)
    assert isinstance(failed.error, ZeroDivisionError) and failed.restores == 0


def test_watch_leaves_the_profiler_as_it_found_it(tmp_path):
    calls = []

    def outer(frame, event, arg):
        calls.append(event)

    sys.setprofile(outer)
    try:
        watch(lambda: None)
        assert sys.getprofile() is outer and calls
    finally:
        sys.setprofile(None)


def test_errors_from_ckptkit_keep_their_advice_out():
    from ckptkit.errors import UnbuiltModelError

    feedback = placeholder_or_error("f", UnbuiltModelError("call model once (e.g. model(inputs[:1]))"))
    assert "model(" not in feedback.message and "UnbuiltModelError" in feedback.message
