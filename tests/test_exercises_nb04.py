"""The exercise checks of notebook 04: right answers pass, wrong ones get a hint."""

import ckptkit

import tensorflow as tf

from helpers import built_keras


def test_status_method():
    from ckptkit.exercises.nb04 import check_status_method

    assert check_status_method("assert_existing_objects_matched")
    assert "checks nothing" in check_status_method("expect_partial").message
    assert "not a status method" in check_status_method("restore").message


def test_written_key_runs_the_learners_file(tmp_path):
    from ckptkit.exercises.nb04 import check_written_key

    model, _, _ = built_keras()
    key = "head/bias/.ATTRIBUTES/VARIABLE_VALUE"
    right = tf.train.Checkpoint(head=model.dense2).write(str(tmp_path / "right"))
    assert check_written_key(right, key, model.dense2.bias)
    assert "no checkpoint there" in check_written_key(tmp_path / "nothing", key, model.dense2.bias).message
    whole = tf.train.Checkpoint(model=model).write(str(tmp_path / "whole"))
    assert "keyword you pass" in check_written_key(whole, key, model.dense2.bias).message
    wrong_layer = tf.train.Checkpoint(head=model.dense1).write(str(tmp_path / "wrong"))
    assert "other values" in check_written_key(wrong_layer, key, model.dense2.bias).message


def test_step_reader_is_run_on_checkpoints_it_never_saw():
    from ckptkit.exercises.nb04 import check_step_reader

    key = "step/.ATTRIBUTES/VARIABLE_VALUE"
    assert check_step_reader(lambda path: tf.train.load_variable(path, key))
    assert check_step_reader(lambda path: ckptkit.open_checkpoint(path).get(key))
    assert "returned None" in check_step_reader(lambda path: None).message
    assert "whose step is 7" in check_step_reader(lambda path: 10).message  # the number printed above
    assert "raised" in check_step_reader(lambda path: tf.train.load_variable(path, "step")).message
