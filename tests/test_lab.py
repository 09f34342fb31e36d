import ckptkit
from ckptkit.lab.lab import LIVE, CheckpointLab

import os
import re
from pathlib import Path

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
    assert (
        lab.last_call.splitlines()[1] == 'ckpt.restore(f"{lab.manager.directory}/ckpt-1").assert_consumed()'
    )
    lab.compare(path, LIVE)
    assert lab.last_call == 'ckptkit.compare(f"{lab.manager.directory}/ckpt-1", ckpt)'
    (tmp_path / "panel" / "ckpt-5.index").write_bytes(b"not the lab's")  # a file the lab did not write
    assert os.path.basename(lab.save()) == "ckpt-6"  # numbered past it, never over it
    with pytest.raises(CheckpointError, match="tracks step"):
        CheckpointLab.over(tf.train.Checkpoint(w=w), linear_model, linear_data(), tmp_path / "x")


def _record_restores(monkeypatch):
    """Patch `tf.train.Checkpoint.restore`: record each path and each status method called on its result."""
    import tensorflow as tf

    calls, real = [], tf.train.Checkpoint.restore

    class Recorded:
        def __init__(self, status):
            self.status = status

        def __getattr__(self, name):
            calls.append(("status", name))
            return getattr(self.status, name)

    def restore(self, save_path, *args, **kwargs):
        calls.append(("restore", save_path))
        return Recorded(real(self, save_path, *args, **kwargs))

    monkeypatch.setattr(tf.train.Checkpoint, "restore", restore)
    return calls


def test_restore_runs_the_lines_it_shows(lab, monkeypatch):
    lab.train(3)
    path = lab.save()
    lab.train(3)
    calls = _record_restores(monkeypatch)
    lab.restore(path)
    check_line, tf_line = lab.last_call.splitlines()
    assert (
        check_line.startswith("lab.check_restore(") and "# ckptkit's own check; changes nothing" in check_line
    )
    shown = re.fullmatch(r"lab\.checkpoint\.restore\((.+)\)\.(\w+)\(\)", tf_line)
    assert shown, tf_line
    shown_path = eval(shown[1], {"lab": lab})  # the path exactly as the line spells it
    assert calls == [("restore", shown_path), ("status", shown[2])]
    assert shown_path == path and shown[2] == "assert_consumed" and int(lab.step) == 3
    assert eval(check_line.split("  #")[0], {"lab": lab}).complete  # the shown check runs as written


def _values(lab):
    return {name: np.array(var.numpy()) for name, var in ckptkit.live_variables(lab.checkpoint)}


def _unchanged(before, lab):
    after = _values(lab)
    return before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("where", ["first byte", "middle byte"])
def test_a_damaged_file_is_refused_and_live_values_stay(lab, where):
    lab.train(2)
    path = lab.save()
    lab.train(2)
    data = Path(path + ".data-00000-of-00001")
    damaged = bytearray(data.read_bytes())
    damaged[0 if where == "first byte" else len(damaged) // 2] ^= 0xFF  # a value, or the object graph
    data.write_bytes(bytes(damaged))
    before = _values(lab)
    with pytest.raises(ckptkit.CorruptCheckpointError, match="is damaged") as err:
        lab.restore(path)
    assert "\n" not in str(err.value) and _unchanged(before, lab)
    assert lab.history.current == "run 1"  # no branch starts from a restore that did not happen


def test_a_failing_status_check_puts_every_value_back(lab, monkeypatch):
    import tensorflow as tf

    lab.train(2)
    path = lab.save()
    lab.train(2)
    before = _values(lab)
    real = tf.train.Checkpoint.restore

    class Refusing:
        def assert_consumed(self):
            raise AssertionError("Unresolved object in checkpoint (root).x\nmore lines")

    def restore(self, save_path, *args, **kwargs):
        real(self, save_path).expect_partial()  # TensorFlow has assigned every value by now
        return Refusing()

    monkeypatch.setattr(tf.train.Checkpoint, "restore", restore)
    with pytest.raises(ckptkit.CheckpointError, match=r"assert_consumed\(\) failed: Unresolved") as err:
        lab.restore(path)
    assert "\n" not in str(err.value) and _unchanged(before, lab)


@pytest.mark.parametrize("other", ["another model", "wider"])
def test_another_models_checkpoint_is_refused_before_anything_changes(lab, tmp_path, other):
    from ckptkit.runs.models import MyModel, regression_data

    import tensorflow as tf

    if other == "another model":  # the Keras lab gets the linear model's file, and the other way round
        kind = "linear" if lab.variables is None else "keras"
        path = getattr(CheckpointLab, kind)(workdir=tmp_path / "o").save()
        expected = (ckptkit.ModelMismatchError, ckptkit.ShapeMismatchError)  # whichever it meets first
    elif lab.variables is None:  # the same Keras model with 24 hidden units instead of 16: other shapes
        optimizer = tf.keras.optimizers.Adam(0.01)
        wide = CheckpointLab.from_keras(MyModel(24), optimizer, regression_data(), tmp_path / "w")
        path, expected = wide.save(), ckptkit.ShapeMismatchError
    else:
        pytest.skip("the linear model has one size")
    lab.train(2)
    before = _values(lab)
    with pytest.raises(expected) as err:
        lab.restore(path)
    assert "\n" not in str(err.value) and _unchanged(before, lab)


def test_an_unbuilt_model_is_refused_by_the_check(lab, tmp_path):
    from ckptkit.lab.check import check_restore
    from ckptkit.runs.models import MyModel

    import tensorflow as tf

    path = CheckpointLab.keras(seed=0, workdir=tmp_path / "k").save()
    unbuilt = tf.train.Checkpoint(
        model=MyModel(), optimizer=tf.keras.optimizers.Adam(0.01), step=tf.Variable(0)
    )
    with pytest.raises(ckptkit.UnbuiltModelError, match="not built"):
        check_restore(unbuilt, path)
