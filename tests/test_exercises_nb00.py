"""The exercise check of notebook 00, and the watcher the checks of 00-03 share."""

import ckptkit
from ckptkit.exercises.feedback import (
    Feedback,
    drawn_order,
    is_placeholder,
    judged,
    placeholder_or_error,
    watch,
)
from ckptkit.exercises.nb00 import MAP, check_load_x

import gc
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import missing_sections, spells_out

# Calls the reference solution makes: no ❌ may hand them over.
SOLUTION_CALLS = ("Checkpoint(", ".restore(", "assert_existing_objects_matched", "tf.Variable(", "tf.zeros(")
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "00_start_here.ipynb"
KEY = "x/.ATTRIBUTES/VARIABLE_VALUE"


def load_x(path, n):  # the reference solution, kept here and never in the notebook
    x = tf.Variable(tf.zeros([n]))
    tf.train.Checkpoint(x=x).restore(path).assert_existing_objects_matched()
    return x


def copied(path, n):  # the notebook's demo cell with v renamed x: its status check judges every stored value
    ckpt = tf.train.Checkpoint(x=tf.Variable(tf.zeros([n])))
    ckpt.restore(path).assert_consumed()
    return ckpt.x


def unchecked(path, n):  # the demo without its status check: it never asks whether x was found
    x = tf.Variable(tf.zeros([n]))
    tf.train.Checkpoint(x=x).restore(path)
    return x


def _wrong(feedback) -> str:
    """A ❌'s message, checked for leaks on the way."""
    assert not feedback and repr(feedback).startswith("❌"), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message
    return feedback.message


def test_every_right_answer_passes():
    def matched(path, n):
        x = tf.Variable([0.0] * n)
        tf.train.Checkpoint(x=x).restore(path).expect_partial().assert_existing_objects_matched()
        return x

    def read(path, n):  # read() leaves the save counter alone, and this status check does not ask for it
        x = tf.Variable(tf.zeros([n]))
        tf.train.Checkpoint(x=x).read(path).assert_existing_objects_matched()
        return x

    def by_reader(path, n):  # TensorFlow's reader raises for a missing key; the size is checked by hand
        value = tf.train.load_checkpoint(path).get_tensor(KEY)
        if value.shape != (n,):
            raise ValueError(f"x holds {value.shape}, not {n} floats")
        return tf.Variable(value)

    feedback = check_load_x(load_x)
    assert repr(feedback).startswith("✅") and "3, 5 and 4 floats, the last all zeros" in feedback.message
    assert check_load_x(matched) and check_load_x(read) and check_load_x(by_reader)

    def keras_variable(path, n):  # a Keras 3 variable is a variable too
        x = keras.Variable(np.zeros(n, np.float32))
        tf.train.Checkpoint(x=x).restore(path).assert_existing_objects_matched()
        return x

    assert check_load_x(keras_variable)


def test_zeros_taken_for_a_missing_x_are_refused():
    def zeros_mean_missing(path, n):  # judges by the values, not by the status
        x = tf.Variable(tf.zeros([n]))
        tf.train.Checkpoint(x=x).restore(path)
        if not np.any(x.numpy()):
            raise ValueError("x not found")
        return x

    assert "holds 4 zeros: zeros are values too" in _wrong(check_load_x(zeros_mean_missing))


def test_a_copied_demo_cell_raises_on_the_step_beside_x():
    message = _wrong(check_load_x(copied))
    assert "beside a step" in message and "only the objects you pass" in message and MAP in message
    assert not missing_sections(NOTEBOOK, message[message.rindex("section ") :])


def test_an_answer_with_no_status_check_fails_on_the_checkpoint_without_x():
    message = _wrong(check_load_x(unchecked))
    assert "with no x" in message and "instead of raising" in message
    assert not missing_sections(NOTEBOOK, message[message.rindex("(section ") :])


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        # the demo's keyword kept: the status raises on the check's first checkpoint
        (
            lambda p, n: tf.train.Checkpoint(v=tf.Variable(tf.zeros([n]))).restore(p).assert_consumed(),
            "raised",
        ),
        # values the check never saved
        (lambda p, n: tf.Variable([0.25, -4.0, 7.5]), "shape (3,), not 5 floats"),
        (lambda p, n: tf.Variable(tf.ones([n])), "but the checkpoint's x holds"),
        # the values, but not in a variable
        (lambda p, n: tf.train.load_checkpoint(p).get_tensor(KEY), "return the new variable itself"),
        # a reader with no size check returns 5 floats when asked for 3
        (lambda p, n: tf.Variable(tf.train.load_checkpoint(p).get_tensor(KEY)), "holds 5 floats"),
        (lambda p, n: [load_x(p, n), None][1], "returned None"),
    ],
)
def test_wrong_answers_get_a_hint(answer, hint):
    assert hint in _wrong(check_load_x(answer))


def test_reading_with_the_check_of_every_value_gets_the_same_hint():
    def read(path, n):
        x = tf.Variable(tf.zeros([n]))
        tf.train.Checkpoint(x=x).read(path).assert_consumed()
        return x

    assert "only the objects you pass" in _wrong(check_load_x(read))


def test_values_come_from_the_check_not_from_the_notebook(tmp_path):
    own = tf.train.Checkpoint(x=tf.Variable([0.5, -1.5, 2.0])).save(tmp_path / "ckpt")

    assert "returned [0.5, -1.5, 2]" in _wrong(check_load_x(lambda path, n: load_x(own, n)))


def test_a_variable_made_before_the_call_is_refused():
    made = {n: tf.Variable(tf.zeros([n])) for n in (3, 5)}

    def reused(path, n):  # restores into variables made outside: not the new variable asked for
        tf.train.Checkpoint(x=made[n]).restore(path).assert_existing_objects_matched()
        return made[n]

    assert "did not create" in _wrong(check_load_x(reused))


def test_none_for_a_missing_x_is_named_as_none():
    def none_when_missing(path, n):
        if "x/.ATTRIBUTES/VARIABLE_VALUE" not in dict(tf.train.list_variables(path)):
            return None
        return load_x(path, n)

    assert "returned None instead of raising" in _wrong(check_load_x(none_when_missing))


def test_placeholder_raising_and_non_functions_get_one_sentence():
    def placeholder(path, n): ...

    def not_yet(path, n):
        raise NotImplementedError

    assert "still the placeholder" in _wrong(check_load_x(placeholder))
    assert "returned None" in _wrong(check_load_x(lambda p, n: print(end="")))
    assert "still the placeholder" in _wrong(check_load_x(not_yet))
    assert "raised ZeroDivisionError" in _wrong(check_load_x(lambda p, n: 1 / 0))
    assert "must be a function" in _wrong(check_load_x("ckpt-1"))


def test_placeholders_are_told_apart_from_real_bodies():
    def handed_out(path, n):
        # your answer
        ...

    def written(path, n):
        return load_x(path, n)

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


def test_a_judged_check_freezes_older_objects_for_all_its_calls_and_always_lets_go():
    # Frozen objects are skipped by the collector: each watched call then collects only newer ones.
    counts = []

    @judged
    def check(fail: bool) -> Feedback:
        counts.append(gc.get_freeze_count())
        watch(lambda: counts.append(gc.get_freeze_count()))
        counts.append(gc.get_freeze_count())  # the watch inside left the check's freeze in place
        if fail:
            raise RuntimeError("the check's own bug")
        return Feedback(True, "right")

    assert check(False)
    with pytest.raises(RuntimeError):
        check(True)
    assert len(counts) == 6 and all(counts), counts
    assert gc.get_freeze_count() == 0
    watch(lambda: None)  # alone, a watch freezes and lets go by itself
    assert gc.get_freeze_count() == 0


def test_drawn_order_is_never_the_given_one():
    given = ["a", "b", "c"]
    orders = [drawn_order(given) for _ in range(30)]
    assert all(sorted(order) == given and order != given for order in orders)
    assert (
        drawn_order(["only"]) == ["only"] and drawn_order([]) == []
    )  # nothing else to draw: no endless loop


def test_errors_from_ckptkit_keep_their_advice_out():
    from ckptkit.errors import UnbuiltModelError

    feedback = placeholder_or_error("f", UnbuiltModelError("call model once (e.g. model(inputs[:1]))"))
    assert "model(" not in feedback.message and "UnbuiltModelError" in feedback.message
