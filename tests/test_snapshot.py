import ckptkit
from ckptkit.files.reader import resolve_checkpoint
from ckptkit.live.snapshot import live_variables, snapshot

import numpy as np
import pytest
import tensorflow as tf

from helpers import built_keras, saved_keras


def test_live_keys_equal_the_keys_a_save_writes(tmp_path):
    path, ckpt = saved_keras(tmp_path)
    stored = snapshot(path)
    live = snapshot(ckpt)
    assert set(stored) == set(live)
    assert "model/dense1/_kernel" in live and "optimizer/_variables/2" in live
    assert ckptkit.diff(stored, live).identical


def test_each_variable_once_under_its_shortest_path():
    model, _, ckpt = built_keras()
    paths = [p for p, _ in live_variables(ckpt)]
    assert len(paths) == len(set(paths))
    assert not any(p.startswith("optimizer/_trainable_variables") for p in paths)
    assert len([p for p in paths if p.startswith("model/")]) == len(model.variables)


def test_mapping_and_path_sources(tmp_path):
    w = tf.Variable([1.0, 2.0])
    assert snapshot({"w": w})["w"].tolist() == [1.0, 2.0]
    prefix = tf.train.Checkpoint(w=w).save(str(tmp_path / "c"))
    assert snapshot(tmp_path)["w"].tolist() == [1.0, 2.0]  # a folder means its latest checkpoint
    assert resolve_checkpoint(tmp_path) == prefix


def test_values_are_copies(tmp_path):
    w = tf.Variable([1.0])
    snap = snapshot({"w": w})
    w.assign([5.0])
    assert snap["w"].tolist() == [1.0]


@pytest.mark.parametrize("make", ["empty_folder", "missing_prefix", "missing_folder"])
def test_missing_checkpoints_name_what_is_there(tmp_path, make):
    tf.train.Checkpoint(w=tf.Variable(1.0)).save(str(tmp_path / "real" / "ckpt"))
    (tmp_path / "empty").mkdir()
    target = {
        "empty_folder": tmp_path / "empty",
        "missing_prefix": tmp_path / "real" / "ckpt-7",
        "missing_folder": tmp_path / "nowhere" / "ckpt-1",
    }[make]
    with pytest.raises(ckptkit.CheckpointNotFoundError) as info:
        snapshot(target)
    message = str(info.value)
    assert "\n" not in message and str(target) in message
    assert {"empty_folder": "holds: nothing", "missing_prefix": "ckpt-1", "missing_folder": "does not exist"}[
        make
    ] in message


def test_numeric_values_round_trip(tmp_path):
    ints = tf.Variable(np.arange(6, dtype=np.int64).reshape(2, 3))
    path = tf.train.Checkpoint(ints=ints).save(str(tmp_path / "c"))
    assert snapshot(path)["ints"].dtype == np.int64


def test_compare_checkpoint_with_live_and_filter(tmp_path):
    path, ckpt = saved_keras(tmp_path)
    same = ckptkit.compare(path, ckpt, only="model/")
    assert same.identical and len(same.rows) == 4
    assert same.label_a == "ckpt-1" and same.label_b == "live"
    ckpt.model.dense1.bias.assign_add(tf.ones_like(ckpt.model.dense1.bias))
    moved = ckptkit.compare(path, ckpt, only="model/dense1")
    assert moved.names("changed") == ["model/dense1/bias"]
    assert moved["model/dense1/bias"].max_abs == pytest.approx(1.0)
    frozen = ckptkit.compare({"a": np.zeros(2)}, {"a": np.zeros(2)}, label_a="x", label_b="y")
    assert frozen.identical and frozen.summary().startswith("x vs y")


def test_a_checkpoint_file_names_its_checkpoint(tmp_path):
    prefix = tf.train.Checkpoint(w=tf.Variable(1.0)).save(str(tmp_path / "c"))
    assert resolve_checkpoint(prefix + ".index") == prefix
    assert resolve_checkpoint(prefix + ".data-00000-of-00001") == prefix


def test_brief_shows_each_value_to_four_digits():
    from ckptkit.live.snapshot import brief

    assert brief(np.array([[1.23456, 2.0]])) == "[1.235, 2]"
    assert brief(np.float32(0.5)) == "[0.5]"
