import ckptkit
from ckptkit.__main__ import main
from ckptkit.files.inventory import inspect_checkpoint, list_folder

import json
import subprocess
import sys

import pytest
import tensorflow as tf
from test_mutation import deadline

import helpers
from helpers import saved_keras


def tf1_checkpoint(folder):
    """A checkpoint written the TensorFlow 1 way: a graph, a Session and a Saver."""
    graph = tf.Graph()
    with graph.as_default():
        w = tf.compat.v1.get_variable("w", [2, 1], initializer=tf.compat.v1.ones_initializer())
        tf.compat.v1.get_variable("b", [1], initializer=tf.compat.v1.zeros_initializer())
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(w.assign([[3.0], [4.0]]))
            return saver.save(sess, str(folder / "model"))


def test_object_based_inventory_and_tree(tmp_path):
    path, _ = saved_keras(tmp_path)
    inv = inspect_checkpoint(path)
    assert inv.object_based and len(inv.values) == 16
    kernel = next(v for v in inv.values if v.key.startswith("model/dense1/_kernel"))
    assert kernel.shape == (32, 16) and kernel.dtype == "float32" and kernel.nbytes == 32 * 16 * 4
    assert inv.total_bytes == sum(v.nbytes for v in inv.values)
    # stored once, under the model, yet the tree also reaches it through the optimizer
    paths = inv.paths_to("model/dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE")
    assert "model/dense1/_kernel" in paths and "optimizer/_trainable_variables/0" in paths
    assert "optimizer/_trainable_variables/0  → model/dense1/_kernel" in inv.text()


def test_name_based_tf1_checkpoint(tmp_path):
    prefix = tf1_checkpoint(tmp_path)
    inv = inspect_checkpoint(tmp_path)  # a folder: its latest
    assert not inv.object_based and inv.tree == []
    assert [(v.key, v.shape) for v in inv.values] == [("b", (1,)), ("w", (2, 1))]
    assert inv.path == prefix and "name-based (TF1 Saver)" in inv.text()


def test_strings_count_their_bytes(tmp_path):
    prefix = tf.train.Checkpoint(s=tf.Variable("hello")).write(str(tmp_path / "s"))
    (value,) = [v for v in inspect_checkpoint(prefix).values if v.key.startswith("s/")]
    assert value.dtype == "string" and value.nbytes == 5


def test_ls_lists_newest_first_and_unlisted_files(tmp_path):
    ckpt = tf.train.Checkpoint(step=tf.Variable(7))
    manager = tf.train.CheckpointManager(ckpt, tmp_path, max_to_keep=2)
    for _ in range(3):
        manager.save()
    tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(tmp_path / "stray"))
    rows = list_folder(tmp_path)
    assert [(r["checkpoint"], r["listed"], r.get("save_counter")) for r in rows] == [
        ("ckpt-3", True, 3),
        ("ckpt-2", True, 2),
        ("stray", False, None),
    ]
    assert rows[0]["step"] == 7


def test_cli_inspect_diff_ls(tmp_path, capsys):
    a, ckpt = saved_keras(tmp_path)
    assert main(["inspect", a]) == 0
    assert "total" in capsys.readouterr().out
    assert main(["inspect", a, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"].startswith("object-based") and len(data["values"]) == 16
    assert main(["diff", a, a]) == 0
    capsys.readouterr()
    ckpt.step.assign_add(1)
    b = ckpt.save(str(tmp_path / "ckpt"))
    assert main(["diff", a, b, "--json"]) == 1
    diff = json.loads(capsys.readouterr().out)
    step = next(v for v in diff["values"] if v["name"] == "step")
    assert not diff["identical"] and diff["rule"].startswith("equal values")
    assert step == {
        "name": "step",
        "status": "changed",
        "reason": "values",
        "shape_a": [],
        "shape_b": [],
        "dtype_a": "int32",
        "dtype_b": "int32",
        "max_abs": 1.0,
        "mean_abs": 1.0,
    }
    assert main(["ls", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("ckpt-2")


@pytest.mark.parametrize("case", ["not_a_checkpoint", "empty_folder", "missing", "flipped", "truncated"])
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys, case):
    path, _ = saved_keras(tmp_path / "good")
    if case == "not_a_checkpoint":
        target = tmp_path / "notes.txt"
        target.write_text("hello")
    elif case == "empty_folder":
        target = tmp_path / "empty"
        target.mkdir()
    elif case == "missing":
        target = tmp_path / "nowhere" / "ckpt-1"
    else:
        if case == "flipped":
            helpers.damage(path, "flip", at=1 / 3, bits=0x01)
        else:
            helpers.damage(path, "truncate")
        target = path
    for command in (["inspect", str(target)], ["ls", str(target)]):
        if case in ("flipped", "truncated") and command[0] == "ls":
            continue  # ls reads only step and save_counter, which may sit in the intact part
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"ckptkit {command[0]}: ")
        if case in ("flipped", "truncated"):
            assert "damaged" in err and "data-00000-of-00001" in err


def test_module_entry_point(tmp_path):
    path, _ = saved_keras(tmp_path)
    done = subprocess.run([sys.executable, "-m", "ckptkit", "inspect", path], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "" and "object tree" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "ckptkit", "inspect", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_iterator_state_is_listed_with_its_stored_size(tmp_path):
    from ckptkit.live.snapshot import snapshot

    iterator = iter(tf.data.Dataset.range(10).shuffle(10, seed=1))
    next(iterator)
    prefix = tf.train.Checkpoint(iterator=iterator, step=tf.Variable(1)).save(str(tmp_path / "it"))
    variants = [v for v in inspect_checkpoint(prefix).values if v.dtype == "variant"]
    with ckptkit.open_checkpoint(prefix) as stored:
        assert variants and all(v.nbytes == stored.stored_size(v.key) > 0 for v in variants)
    assert set(snapshot(prefix)) == {"step", "save_counter"}  # variants have no NumPy form


def test_object_tree_stays_small_on_a_graph_with_exponentially_many_paths(tmp_path):
    level = tf.Module()
    level.v = tf.Variable(1.0)
    for _ in range(40):  # each object refers to the one below twice: 2**40 routes reach the variable
        above = tf.Module()
        above.a = above.b = level
        level = above
    prefix = tf.train.Checkpoint(root=level).write(str(tmp_path / "ckpt"))
    ((key, _),) = [(k, s) for k, s in tf.train.list_variables(prefix) if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    with deadline(5):  # listing every path would not end
        inventory = inspect_checkpoint(prefix)
    # The variable once, by its first path: the key TensorFlow wrote; the other routes counted.
    assert inventory.tree == [(key.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE"), key)]
    assert inventory.unlisted == 2**40 - 1 and inventory.to_dict()["unlisted_paths"] == 2**40 - 1
    assert f"({2**40 - 1:,} more paths through objects reached more than one way" in inventory.text()
    assert "unlisted_paths" not in inspect_checkpoint(saved_keras(tmp_path / "keras")[0]).to_dict()
