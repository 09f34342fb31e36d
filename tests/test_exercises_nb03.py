"""The exercise checks of notebook 03: right answers pass, wrong ones get a hint."""

import tensorflow as tf

from helpers import saved_keras


def test_own_folder(tmp_path):
    from ckptkit.exercises.nb03 import check_own_folder

    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    a = tf.train.CheckpointManager(ckpt, tmp_path / "a", max_to_keep=1)
    a.save()
    b = tf.train.CheckpointManager(ckpt, tmp_path / "a", max_to_keep=1)
    assert "another stage's folder" in check_own_folder(b, [a]).message
    ckpt.save(tmp_path / "shared" / "pretrain-checkpoint")  # the trap folder, no manager of its own
    shared = check_own_folder(tf.train.CheckpointManager(ckpt, tmp_path / "shared", 1), [a])
    assert not shared and "already holds checkpoints" in shared.message
    panel = tf.train.CheckpointManager(ckpt, tmp_path / "panel", None)
    panel.save(checkpoint_number=1)  # a panel's folder: files named like the new manager's own
    mine = check_own_folder(tf.train.CheckpointManager(ckpt, tmp_path / "panel", 1), [a])
    assert not mine and "ckpt-1.index" in mine.message
    assert check_own_folder(tf.train.CheckpointManager(ckpt, tmp_path / "eval", 1), [a, b])
    assert "not a tf.train.CheckpointManager" in check_own_folder(str(tmp_path), [a]).message


def test_backbone_restored(tmp_path):
    from ckptkit.exercises.nb03 import check_backbone_restored
    from ckptkit.runs.models import regression_data

    path, _ = saved_keras(tmp_path)
    x = regression_data()[0]

    def right(model, p):
        model(x[:1])
        status = tf.train.Checkpoint(model=tf.train.Checkpoint(dense1=model.dense1)).restore(p)
        status.assert_existing_objects_matched().expect_partial()

    def restore_then_build(model, p):
        tf.train.Checkpoint(model=tf.train.Checkpoint(dense1=model.dense1)).restore(p).expect_partial()
        model(x[:1])

    assert check_backbone_restored(right, path)
    late = check_backbone_restored(restore_then_build, path)
    assert not late and "built before the restore" in late.message
    assert "still unbuilt" in check_backbone_restored(lambda model, p: None, path).message
    assert "differs from the checkpoint" in check_backbone_restored(lambda m, p: m(x[:1]), path).message
    assert "must be a function" in check_backbone_restored(None, path).message  # e.g. ex_model = ft_model
    assert "no checkpoint" in check_backbone_restored(right, tmp_path / "missing").message


def test_frozen():
    from ckptkit.exercises.nb03 import check_frozen
    from ckptkit.runs.models import FinetuneModel, regression_data

    model = FinetuneModel()
    assert "not built" in check_frozen(model).message
    model(regression_data()[0][:1])
    before = [v.numpy().copy() for v in model.variables]
    assert "still moves dense1" in check_frozen(model).message
    assert all((v.numpy() == b).all() for v, b in zip(model.variables, before, strict=True))  # put back
    model.dense1.trainable = False
    assert check_frozen(model)
    model.trainable = False
    assert "nothing is trainable" in check_frozen(model).message
    assert "not a model" in check_frozen(None).message
