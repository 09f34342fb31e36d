"""The exercise checks of notebook 01: right answers pass, wrong ones get a hint."""

from ckptkit.exercises.nb01 import check_checkpoint, check_restored, check_save_schedule

import tensorflow as tf


def _objects():
    return tf.Variable([[1.0]]), tf.Variable([0.5]), tf.keras.optimizers.SGD(0.01)


def test_checkpoint_right_answer():
    w, b, opt = _objects()
    ckpt = tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b), optimizer=opt)
    assert check_checkpoint(ckpt, w, b, opt)
    assert repr(check_checkpoint(ckpt, w, b, opt)).startswith("✅")


def test_checkpoint_wrong_answers_hint_without_the_fix():
    w, b, opt = _objects()
    step = tf.Variable(0)
    cases = [
        (None, "not a tf.train.Checkpoint"),
        (tf.train.Checkpoint(model_variables=(w, b), optimizer=opt), "no integer step counter"),
        (
            tf.train.Checkpoint(step=tf.Variable(0.5), model_variables=(w, b), optimizer=opt),
            "no integer step counter",
        ),
        (tf.train.Checkpoint(step=step, model_variables=(w,), optimizer=opt), "does not reach b"),
        (tf.train.Checkpoint(step=step, model_variables=(w, b)), "track the optimizer"),
    ]
    for ckpt, words in cases:
        feedback = check_checkpoint(ckpt, w, b, opt)
        assert not feedback and words in feedback.message, feedback
        assert repr(feedback).startswith("❌")
        assert "=" not in feedback.message  # a hint, not the line to type


def test_save_schedule_accepts_every_right_rule():
    assert check_save_schedule(lambda e: (e + 1) % 10 == 0)
    assert check_save_schedule(lambda e: e % 10 == 0 or e == 19)
    assert check_save_schedule(lambda e: e % 10 == 9)


def test_save_schedule_rejects_wrong_rules_with_a_hint():
    seed_rule = check_save_schedule(lambda e: e % 10 == 0)
    assert not seed_rule and "last 9 epochs are never saved" in seed_rule.message
    assert "% 10" not in seed_rule.message  # the hint does not hand over the rule
    too_often = check_save_schedule(lambda e: (e + 1) % 5 == 0)
    assert not too_often and "not every 10 epochs" in too_often.message
    only_last = check_save_schedule(lambda e: e == 19)
    assert not only_last and "a crash before that" in only_last.message
    assert "never saves" in check_save_schedule(lambda e: False).message
    assert "raised ZeroDivisionError" in check_save_schedule(lambda e: 1 / 0).message


def test_restored(tmp_path):
    w, b, _ = _objects()
    path = tf.train.Checkpoint(model_variables=(w, b)).save(str(tmp_path / "c"))
    w.assign([[3.0]])
    later = tf.train.Checkpoint(model_variables=(w, b)).save(str(tmp_path / "later"))
    w2, b2 = tf.Variable([[0.0]]), tf.Variable([0.0])
    wrong = check_restored(w2, b2, path)
    assert not wrong and "w = [0] but the checkpoint stores [1]" in wrong.message
    assert "restore(" not in wrong.message
    tf.train.Checkpoint(model_variables=(w2, b2)).restore(later).expect_partial()  # the wrong file
    assert "w = [3] but the checkpoint stores [1]" in check_restored(w2, b2, path).message
    tf.train.Checkpoint(model_variables=(w2, b2)).restore(path).expect_partial()
    assert check_restored(w2, b2, path)
    assert "shape" in check_restored(tf.Variable([0.0, 1.0]), b2, path).message
    assert "no checkpoint" in check_restored(w2, b2, tmp_path / "missing").message
