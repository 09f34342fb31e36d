import ckptkit
from ckptkit.runs.models import MyModel, regression_data

import os

import numpy as np
import pytest
import tensorflow as tf

import helpers
from helpers import built_keras, saved_keras


def _values(ckpt):
    return ckptkit.snapshot(ckpt)


def test_restore_fills_a_fresh_built_model_and_reports(tmp_path):
    path, trained = saved_keras(tmp_path)
    _, _, fresh = built_keras()
    report = ckptkit.restore_checked(fresh, path)
    assert report.complete and len(report.matched) == 16
    assert ckptkit.diff(_values(trained), _values(fresh)).identical
    assert "16 values matched" in repr(report)


def test_partial_restore_lists_what_was_left(tmp_path):
    path, _ = saved_keras(tmp_path)
    model, _, _ = built_keras()
    report = ckptkit.restore_checked(tf.train.Checkpoint(model=model), tmp_path)
    assert len(report.matched) == 5  # the model's four, and save_counter
    assert "optimizer/_variables/2" in report.only_in_checkpoint and "step" in report.only_in_checkpoint
    extra = tf.train.Checkpoint(model=model, extra=tf.Variable(1.0))
    assert ckptkit.restore_checked(extra, path).only_in_objects == ("extra",)


def test_unbuilt_model_is_refused_before_anything_changes(tmp_path):
    path, _ = saved_keras(tmp_path)
    model, optimizer = MyModel(), tf.keras.optimizers.Adam(0.01)
    step = tf.Variable(42)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
    with pytest.raises(ckptkit.UnbuiltModelError, match=r"'model' \(MyModel\) is not built.*call model once"):
        ckptkit.restore_checked(ckpt, path)
    assert int(step) == 42 and not model.built
    model(regression_data()[0][:1])
    with pytest.raises(ckptkit.UnbuiltModelError, match=r"optimizer.build\(model.trainable_variables\)"):
        ckptkit.restore_checked(ckpt, path)
    assert int(step) == 42


def test_an_unbuilt_optimizer_is_refused_only_when_the_file_holds_its_slots(tmp_path):
    # An unbuilt Keras 3 optimizer already holds its step and learning rate: a file with no slots for it
    # (plain SGD, or a save before the first step) restores whole, as TensorFlow's own restore does.
    w = tf.Variable([1.0, 2.0])
    saved = tf.train.Checkpoint(w=w, optimizer=tf.keras.optimizers.SGD(0.02)).save(tmp_path / "sgd")
    optimizer = tf.keras.optimizers.SGD(0.5)
    report = ckptkit.restore_checked(
        tf.train.Checkpoint(w=tf.Variable([0.0, 0.0]), optimizer=optimizer), saved
    )
    assert report.complete and float(optimizer.learning_rate) == pytest.approx(0.02) and not optimizer.built
    momentum = tf.keras.optimizers.SGD(0.02, momentum=0.9)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(w * w)
    momentum.apply_gradients([(tape.gradient(loss, w), w)])
    slotted = tf.train.Checkpoint(w=w, optimizer=momentum).save(tmp_path / "momentum")
    ckpt = tf.train.Checkpoint(
        w=tf.Variable([0.0, 0.0]), optimizer=tf.keras.optimizers.SGD(0.5, momentum=0.9)
    )
    with pytest.raises(ckptkit.UnbuiltModelError, match=r"'optimizer' \(SGD\) is not built"):
        ckptkit.restore_checked(ckpt, slotted)


def test_shape_mismatch_names_variable_and_shapes(tmp_path):
    path, _ = saved_keras(tmp_path)
    _, _, ckpt = built_keras(hidden=8)
    before = _values(ckpt)
    with pytest.raises(ckptkit.ShapeMismatchError, match=r"'model/dense1/_kernel'.*\(32, 16\).*\(32, 8\)"):
        ckptkit.restore_checked(ckpt, path)
    assert ckptkit.diff(before, _values(ckpt)).identical


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_data_is_detected_and_live_values_stay(tmp_path, damage):
    path, _ = saved_keras(tmp_path)
    helpers.damage(path, damage)
    _, _, ckpt = built_keras()
    before = _values(ckpt)
    with pytest.raises(ckptkit.CorruptCheckpointError, match="damaged") as info:
        ckptkit.restore_checked(ckpt, path)
    assert os.path.basename(path) in str(info.value) and "\n" not in str(info.value)
    assert ckptkit.diff(before, _values(ckpt)).identical


def test_missing_path_is_a_clear_error(tmp_path):
    _, _, ckpt = built_keras()
    with pytest.raises(ckptkit.CheckpointNotFoundError, match="no checkpoint in folder"):
        ckptkit.restore_checked(ckpt, tmp_path)


def test_linear_variables_restore(tmp_path):
    w, b = tf.Variable([[3.0]]), tf.Variable([1.0])
    path = tf.train.Checkpoint(model_variables=(w, b)).save(str(tmp_path / "lin"))
    w2, b2 = tf.Variable([[0.0]]), tf.Variable([0.0])
    report = ckptkit.restore_checked(tf.train.Checkpoint(model_variables=(w2, b2)), path)
    assert np.array_equal(w2.numpy(), [[3.0]]) and report.complete


def test_optimizer_slot_mismatch_explains_positions(tmp_path):
    from ckptkit.runs.models import FinetuneModel

    model = FinetuneModel()
    model(regression_data()[0][:1])
    model.dense1.trainable = False
    frozen_opt = tf.keras.optimizers.Adam(0.01)
    frozen_opt.build(model.trainable_variables)
    path = tf.train.Checkpoint(model=model, optimizer=frozen_opt).save(str(tmp_path / "frozen"))
    model.dense1.trainable = True
    full_opt = tf.keras.optimizers.Adam(0.01)
    full_opt.build(model.trainable_variables)
    with pytest.raises(ckptkit.ShapeMismatchError, match="stored by position"):
        ckptkit.restore_checked(tf.train.Checkpoint(model=model, optimizer=full_opt), path)
