import ckptkit
from ckptkit.lab.lab import LIVE, CheckpointLab

import os

import numpy as np
import pytest


@pytest.fixture(params=["linear", "keras"])
def lab(request, tmp_path):
    return getattr(CheckpointLab, request.param)(seed=0, workdir=tmp_path / "lab")


def test_train_save_restore_compare(lab):
    first = lab.train(5)
    assert int(lab.step) == 5 and np.isfinite(first)
    a = lab.save()
    lab.train(5)
    b = lab.save()
    assert lab.checkpoints() == [b, a]  # newest first
    assert os.path.basename(a) == "ckpt-1" and lab.step_of(a) == 5  # numbered by save, step recorded
    assert not lab.compare(a, LIVE).identical
    report = lab.restore(a)
    assert report.complete and int(lab.step) == 5
    assert lab.compare(a, LIVE).identical
    lab.train(5)
    # deterministic training: the branch retraces the original run up to save_counter
    assert lab.compare(b, LIVE).names("changed") == ["save_counter"]
    c = lab.save()  # the same step as b, on another branch: a new file, b is kept
    assert lab.checkpoints() == [c, b, a] and lab.step_of(c) == lab.step_of(b) == 10
    assert os.path.basename(c) == "ckpt-3"


def test_restore_starts_a_branch_at_the_restored_step(lab):
    lab.train(4)
    path = lab.save()
    lab.train(4)
    lab.restore(path)
    lab.train(2)
    branch = lab.history.run
    assert (branch.parent, branch.start_step, branch.steps) == ("run 1", 4, [5, 6])


def test_wrong_actions_raise_clear_errors(lab):
    with pytest.raises(ckptkit.InvalidStepsError):
        lab.train(-1)
    path = lab.save()
    os.remove(path + ".index")
    assert lab.checkpoints() == []
    with pytest.raises(ckptkit.CheckpointNotFoundError, match="gone from disk"):
        lab.restore(path)
    with pytest.raises(ckptkit.CheckpointNotFoundError, match="gone from disk"):
        lab.compare(path, LIVE)


def test_variable_rows_show_change_since_save(lab):
    assert {r.change for r in lab.variable_rows()} == {"not saved yet"}
    lab.save()
    assert {r.change for r in lab.variable_rows()} == {"0"}
    lab.train(3)
    assert all(float(r.change) > 0 for r in lab.variable_rows())


def test_own_keras_model_is_built_for_restore(tmp_path):
    from ckptkit.runs.models import regression_data

    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(4), tf.keras.layers.Dense(1)])
    lab = CheckpointLab.from_keras(model, tf.keras.optimizers.SGD(0.01), regression_data(n=8), tmp_path)
    path = lab.save()
    lab.train(2)
    assert lab.restore(path).complete and int(lab.step) == 0


def test_a_lab_over_a_notebooks_own_objects(tmp_path):
    from ckptkit.errors import CheckpointError
    from ckptkit.runs.models import linear_data, linear_model, linear_variables

    import tensorflow as tf

    w, b = linear_variables(0)
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
    ckpt = tf.train.Checkpoint(step=tf.Variable(7), model_variables=(w, b), optimizer=optimizer)
    train = "ckptkit.fit(linear_model, [w, b], optimizer, inputs, targets, {steps}, step=ckpt.step)"
    lab = CheckpointLab.over(
        ckpt,
        lambda x: linear_model(x, w, b),
        linear_data(),
        tmp_path / "panel",
        variables=[w, b],
        code={"ckpt": "ckpt", "train": train},
    )
    assert lab.checkpoint is ckpt and lab.step is ckpt.step and lab.optimizer is optimizer
    before = w.numpy().copy()
    lab.train(2)
    assert int(ckpt.step) == 9 and not np.array_equal(before, w.numpy())  # the notebook's own w trains
    assert lab.last_call == train.format(steps=2)
    path = lab.save()
    assert lab.last_call == "lab.manager.save(checkpoint_number=1)"
    lab.restore(path)
    assert lab.last_call == 'ckpt.restore(f"{lab.manager.directory}/ckpt-1").assert_consumed()'
    lab.compare(path, LIVE)
    assert lab.last_call == 'ckptkit.compare(f"{lab.manager.directory}/ckpt-1", ckpt)'
    (tmp_path / "panel" / "ckpt-5.index").write_bytes(b"not the lab's")  # a file the lab did not write
    assert os.path.basename(lab.save()) == "ckpt-6"  # numbered past it, never over it
    with pytest.raises(CheckpointError, match="tracks step"):
        CheckpointLab.over(tf.train.Checkpoint(w=w), linear_model, linear_data(), tmp_path / "x")
