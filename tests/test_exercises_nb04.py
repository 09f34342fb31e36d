"""The exercise checks of notebook 04: the reference solutions pass; cheats and wrong answers get a hint."""

import ckptkit
from ckptkit.exercises.nb04 import (
    _backbone_cases,
    check_backbone_restore,
    check_damaged_keys,
    check_export_parts,
)

import gc

import numpy as np
import tensorflow as tf

from helpers import spells_out

# What the reference solutions call: no ❌ may spell these out.
SOLUTION_CALLS = ("Checkpoint(backbone=", "expect_partial", "assert_existing_objects_matched", "get_tensor(")


def export_parts(model, prefix):
    return tf.train.Checkpoint(backbone=model.dense1, head=model.dense2).write(prefix)


def restore_backbone(path, backbone, sample):
    backbone(sample)  # its variables exist now, so the check below judges them
    status = tf.train.Checkpoint(backbone=backbone).restore(path)
    status.expect_partial()
    status.assert_existing_objects_matched()


def damaged_keys(prefix):
    reader = tf.train.load_checkpoint(prefix)
    damaged = []
    for key in reader.get_variable_to_shape_map():
        try:
            reader.get_tensor(key)
        except tf.errors.OpError:
            damaged.append(key)
    return damaged


def placeholder(*args):
    raise NotImplementedError


def _failed(feedback, *words):
    assert not feedback, feedback
    assert all(word in feedback.message for word in words), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback  # a hint, not the answer
    return feedback


def test_export_parts():
    assert check_export_parts(export_parts)
    # save() as well as write(): both taught, both right
    assert check_export_parts(lambda m, p: tf.train.Checkpoint(backbone=m.dense1, head=m.dense2).save(p))
    notebook_model = ckptkit.MyModel()
    notebook_model(tf.zeros([1, 32]))

    def with_an_iterator(m, p):  # "nothing else": an iterator's state is something else
        data = iter(tf.data.Dataset.range(10))
        return tf.train.Checkpoint(backbone=m.dense1, head=m.dense2, data=data).write(p)

    cheats_and_wrong = [
        (with_an_iterator, "also stores data/.ATTRIBUTES/ITERATOR_STATE"),
        # copying the notebook's cell: the whole model under one name
        (lambda m, p: tf.train.Checkpoint(model=m).write(p), "path of attribute names"),
        (lambda m, p: tf.train.Checkpoint(net=m).write(p), "net/dense1/_kernel"),
        # aliasing the notebook's model instead of the one passed in
        (
            lambda m, p: tf.train.Checkpoint(
                backbone=notebook_model.dense1, head=notebook_model.dense2
            ).write(p),
            "not the given model's",
        ),
        (
            lambda m, p: tf.train.Checkpoint(backbone=m.dense2, head=m.dense1).write(p),
            "not the given model's",
        ),
        (
            lambda m, p: tf.train.Checkpoint(backbone=m.dense1, head=m.dense2, step=tf.Variable(1)).write(p),
            "also stores step",
        ),
        (lambda m, p: tf.train.Checkpoint(backbone=m.dense1).write(p), "nothing is stored at head/_kernel"),
        (lambda m, p: tf.train.Checkpoint(backbone=m.dense1, head=m.dense2).write(p) and None, "must return"),
        (lambda m, p: p, "no checkpoint at the path"),
    ]
    for answer, words in cheats_and_wrong:
        _failed(check_export_parts(answer), words)
    _failed(check_export_parts(placeholder), "still the placeholder")
    _failed(check_export_parts(lambda m, p: 1 / 0), "raised ZeroDivisionError")
    _failed(check_export_parts("backbone/_kernel"), "pass your function itself")


def test_backbone_restore():
    assert check_backbone_restore(restore_backbone)

    def with_read_and_own_error(path, backbone, sample):  # read() as well as restore(); any exception type
        backbone(sample)
        status = tf.train.Checkpoint(backbone=backbone).read(path)
        status.expect_partial()
        try:
            status.assert_existing_objects_matched()
        except AssertionError as err:
            raise ValueError("the file lacks part of the backbone") from err

    assert check_backbone_restore(with_read_and_own_error)

    def call_after_restore(path, backbone, sample):  # the queued values arrive at the call (a Sequential)
        status = tf.train.Checkpoint(backbone=backbone).restore(path)
        status.expect_partial()
        backbone(sample)
        status.assert_existing_objects_matched()

    assert check_backbone_restore(call_after_restore)

    def copied_notebook_cell(path, backbone, sample):  # the 'net=' cell, renamed: the model is never called
        status = tf.train.Checkpoint(backbone=backbone).restore(path)
        status.assert_existing_objects_matched()
        status.expect_partial()

    def without_expect_partial(path, backbone, sample):
        backbone(sample)
        tf.train.Checkpoint(backbone=backbone).restore(path).assert_existing_objects_matched()

    def with_consumed(path, backbone, sample):
        backbone(sample)
        tf.train.Checkpoint(backbone=backbone).restore(path).assert_consumed()

    def only_expect_partial(path, backbone, sample):
        backbone(sample)
        tf.train.Checkpoint(backbone=backbone).restore(path).expect_partial()

    def other_name(path, backbone, sample):
        backbone(sample)
        status = tf.train.Checkpoint(model=backbone).restore(path)
        status.expect_partial()

    def by_key(path, backbone, sample):  # reading keys by hand where a Checkpoint restore is the lesson
        backbone(sample)
        layer = backbone.layers[0]
        layer.kernel.assign(tf.train.load_variable(path, "backbone/_kernel/.ATTRIBUTES/VARIABLE_VALUE"))

    def the_helper(path, backbone, sample):  # ckptkit's checked restore without complete=True
        backbone(sample)
        ckptkit.restore_checked(tf.train.Checkpoint(backbone=backbone), path)

    def helper_complete(path, backbone, sample):
        backbone(sample)
        ckptkit.restore_checked(tf.train.Checkpoint(backbone=backbone), path, complete=True)

    level, filters = tf.get_logger().level, tf.get_logger().filters[:]

    def logger_silenced(path, backbone, sample):  # hides the warnings instead of expecting them
        backbone(sample)
        tf.get_logger().setLevel("ERROR")
        tf.train.Checkpoint(backbone=backbone).restore(path).assert_existing_objects_matched()

    def unchanged_means_missing(path, backbone, sample):  # a zero bias stays zero, yet it did arrive
        backbone(sample)
        before = [w.numpy().copy() for w in backbone.weights]
        tf.train.Checkpoint(backbone=backbone).restore(path).expect_partial()
        if any(np.array_equal(b, w.numpy()) for b, w in zip(before, backbone.weights, strict=True)):
            raise ValueError("a weight got no value")

    def logger_filtered(path, backbone, sample):  # a filter on the logger instead of expect_partial()
        backbone(sample)
        tf.get_logger().addFilter(lambda record: "Value in checkpoint" not in record.getMessage())
        tf.train.Checkpoint(backbone=backbone).restore(path).assert_existing_objects_matched()

    def handlers_emptied(path, backbone, sample):  # the logger's handlers thrown away
        backbone(sample)
        tf.get_logger().handlers.clear()
        tf.train.Checkpoint(backbone=backbone).restore(path).assert_existing_objects_matched()

    kept = []

    def status_kept(path, backbone, sample):  # kept where the check's collection never reaches it
        backbone(sample)
        status = tf.train.Checkpoint(backbone=backbone).restore(path)
        status.assert_existing_objects_matched()
        kept.append(status)

    cheats_and_wrong = [
        (status_kept, "logged", "warnings"),
        (logger_filtered, "logged", "warnings"),
        (handlers_emptied, "logged", "warnings"),
        (unchanged_means_missing, "raised ValueError on a checkpoint holding the backbone and more"),
        (logger_silenced, "logged", "warnings"),
        (copied_notebook_cell, "no variables", "nothing to judge"),
        (without_expect_partial, "logged", "warnings"),
        (with_consumed, "left in the file on purpose are fine"),
        (only_expect_partial, "lacks a bias", "restored without complaint"),
        (other_name, "did not arrive"),
        (by_key, "raised NotFoundError"),
        (the_helper, "lacks a bias"),
        (helper_complete, "raised ModelMismatchError"),
    ]
    for answer, *words in cheats_and_wrong:
        _failed(check_backbone_restore(answer), *words)
    _failed(check_backbone_restore(placeholder), "still the placeholder")
    assert tf.get_logger().level == level  # the check set it back after logger_silenced
    assert tf.get_logger().filters == filters  # and took logger_filtered's filter off again

    def only_called(path, backbone, sample):  # builds the backbone, restores nothing
        backbone(sample)

    _failed(check_backbone_restore(only_called), "did not arrive")


def test_backbone_files_are_saved(tmp_path):
    # the exercise says each file is written by save(): its save_counter fills the restorer's own
    paths, _ = _backbone_cases(str(tmp_path))
    for path in paths.values():
        assert "save_counter/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(path))


def test_damaged_keys():
    assert check_damaged_keys(damaged_keys)

    def by_ckptkit_reader(prefix):  # ckptkit's reader, key by key: the same understanding
        with ckptkit.open_checkpoint(prefix) as stored:
            found = []
            for key in stored.stored_keys():
                try:
                    stored.get(key)
                except ckptkit.CorruptCheckpointError:
                    found.append(key)
            return found

    assert check_damaged_keys(by_ckptkit_reader)
    # in any order, as a list, tuple or set
    assert check_damaged_keys(lambda prefix: sorted(damaged_keys(prefix), reverse=True))
    assert check_damaged_keys(lambda prefix: set(damaged_keys(prefix)))

    def first_only(prefix):  # the notebook's cell: one reader that stops at the first bad value
        try:
            ckptkit.inspect_checkpoint(prefix)
        except ckptkit.CorruptCheckpointError as err:
            return [str(err).split("for '")[1].split("'")[0]]
        return []

    def reads_without_catching(prefix):
        reader = tf.train.load_checkpoint(prefix)
        return [key for key in reader.get_variable_to_shape_map() if reader.get_tensor(key) is None]

    def everything(prefix):
        return [k for k, _ in tf.train.list_variables(prefix)]

    def vectors_only(prefix):  # skips scalars: a scalar's bytes carry a checksum too
        reader = tf.train.load_checkpoint(prefix)
        found = []
        for key, shape in reader.get_variable_to_shape_map().items():
            try:
                reader.get_tensor(key) if shape else None
            except tf.errors.OpError:
                found.append(key)
        return found

    cheats_and_wrong = [
        (vectors_only, "it missed s/"),
        (first_only, "it missed d/"),
        (reads_without_catching, "that failure is the answer"),
        (everything, "whose bytes are intact"),
        (lambda prefix: [k.split("/.ATTRIBUTES")[0] for k in damaged_keys(prefix)], "return full keys"),
        (lambda prefix: "b/.ATTRIBUTES/VARIABLE_VALUE", "return a list"),
        (lambda prefix: None, "returned None"),
    ]
    for answer, words in cheats_and_wrong:
        _failed(check_damaged_keys(answer), words)
    _failed(check_damaged_keys(placeholder), "still the placeholder")


def test_backbone_restore_is_not_blamed_for_an_earlier_restores_warnings(tmp_path):
    # A learner's earlier cell left a restore unhandled, its checkpoint in a reference cycle: its
    # warnings come when the cycle is collected, which must happen before the check listens.
    path = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable(2.0)).write(tmp_path / "earlier")
    gc.disable()  # the cycle stays until a collection the check itself runs
    try:
        earlier = tf.train.Checkpoint(a=tf.Variable(0.0))
        earlier.restore(path)  # `b` left unused, and no expect_partial()
        cycle = [earlier]
        cycle.append(cycle)
        del earlier, cycle
        assert check_backbone_restore(restore_backbone)
    finally:
        gc.enable()


def test_an_answers_error_keeps_no_restore_alive_past_the_check(caplog):
    def asserts_first(path, backbone, sample):  # right; on a bad file it raises with the status in its frame
        backbone(sample)
        status = tf.train.Checkpoint(backbone=backbone).restore(path)
        status.assert_existing_objects_matched()
        status.expect_partial()

    assert check_backbone_restore(asserts_first)
    gc.collect()  # what a later cell would do: nothing of the check's restores may log now
    escaped = [r.getMessage() for r in caplog.records if "Value in checkpoint" in r.getMessage()]
    assert not escaped, escaped[:2]
