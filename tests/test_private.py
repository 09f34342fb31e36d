"""The private TensorFlow and Keras names the kit uses still exist and mean what the kit assumes."""

import ckptkit
import ckptkit.live.restore
from ckptkit.live.private import (
    PrivateApiError,
    learning_rate_variable,
    optimizer_slot,
    replaced_rename,
    replaced_save_op,
    replaced_shard_writer,
    unrestored_warner,
)

import gc

import pytest
import tensorflow as tf


def _built_adam() -> tuple[tf.keras.Model, tf.keras.optimizers.Adam]:
    model, optimizer = ckptkit.MyModel(4), tf.keras.optimizers.Adam(0.01)
    ckptkit.live.restore.build_keras(model, optimizer, tf.zeros([1, 3]))
    return model, optimizer


def test_optimizer_slot_is_the_moment_of_that_variable():
    model, optimizer = _built_adam()
    kernel = model.dense1.kernel
    x, y = tf.ones([2, 3]), tf.ones([2, 1])
    ckptkit.train_step(model, None, optimizer, x, y)
    momentum = optimizer_slot(optimizer, "_momentums", kernel)
    assert tuple(momentum.shape) == tuple(kernel.shape)
    # After one Adam step from zero, m = (1 - beta_1) * gradient: nonzero exactly where the gradient is.
    assert float(tf.reduce_sum(tf.abs(momentum))) > 0
    assert optimizer_slot(optimizer, "_velocities", model.dense2.bias).shape == model.dense2.bias.shape


def test_learning_rate_variable_holds_the_rate_and_none_for_a_schedule():
    _, optimizer = _built_adam()
    assert float(learning_rate_variable(optimizer)) == pytest.approx(0.01)
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert learning_rate_variable(tf.keras.optimizers.Adam(schedule)) is None


def test_a_missing_private_name_is_one_clear_error():
    with pytest.raises(PrivateApiError, match="install the versions pinned"):
        optimizer_slot(object(), "_momentums", None)
    with pytest.raises(PrivateApiError, match="_learning_rate"):
        learning_rate_variable(object())
    with (
        pytest.raises(PrivateApiError, match=r"gen_io_ops\.no_such_op"),
        replaced_save_op("no_such_op", print),
    ):
        pass


def test_replaced_save_op_is_what_a_save_calls_and_is_put_back(tmp_path):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("stopped before the merge")

    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    with (
        replaced_save_op("merge_v2_checkpoints", refuse),
        pytest.raises(RuntimeError, match="before the merge"),
    ):
        ckpt.save(str(tmp_path / "ckpt"))
    assert len(calls) == 1
    # The real op is back: the next save commits (numbered 2: the stopped save had counted as 1).
    path = ckpt.save(str(tmp_path / "ckpt"))
    value = tf.train.load_checkpoint(path).get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE")
    assert path.endswith("ckpt-2") and float(value) == 1.0


def test_replaced_save_op_can_call_the_real_op_first(tmp_path):
    def merge_then_refuse(merge, *args, **kwargs):
        merge(*args, **kwargs)
        raise RuntimeError("stopped after the merge")

    ckpt = tf.train.Checkpoint(v=tf.Variable(3.0))
    with (
        replaced_save_op("merge_v2_checkpoints", merge_then_refuse) as original,
        pytest.raises(RuntimeError, match="after the merge"),
    ):
        ckpt.save(str(tmp_path / "ckpt"))
    assert callable(original)
    # The merge ran: the data and the index are in place, the state file was never written.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-1.data-00000-of-00001", "ckpt-1.index"]


def test_replaced_shard_writer_is_called_once_per_shard_into_the_temp_folder(tmp_path):
    shards = []

    def record(save_v2, prefix, *args, **kwargs):
        shards.append(prefix.numpy().decode())
        return save_v2(prefix, *args, **kwargs)

    ckpt = tf.train.Checkpoint(a=tf.Variable(tf.zeros([300])), b=tf.Variable(tf.zeros([300])))
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=1500)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    with replaced_shard_writer(record):
        path = ckpt.write(str(tmp_path / "ckpt"), options=options)
    assert len(shards) >= 2 and all("/ckpt_temp/part-" in shard for shard in shards)
    assert float(tf.reduce_sum(tf.train.load_variable(path, "a/.ATTRIBUTES/VARIABLE_VALUE"))) == 0.0
    with replaced_shard_writer(record):
        pass
    from tensorflow.python.ops import io_ops

    assert io_ops.save_v2.__name__ == "save_v2"  # put back


def test_replaced_rename_sees_the_state_file_commit(tmp_path):
    renames = []

    def record(rename, old, new, *args):
        renames.append((old.rsplit("/", 1)[-1][:14], new.rsplit("/", 1)[-1]))
        return rename(old, new, *args)

    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), str(tmp_path), 2)
    with replaced_rename(record):
        manager.save()
    # CheckpointManager writes the state file twice per save: before and after removing old files.
    assert renames == [("checkpoint.tmp", "checkpoint")] * 2
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")


def test_unrestored_warner_logs_now_what_the_status_logs_when_collected(tmp_path, caplog):
    path = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable(2.0)).write(tmp_path / "ab")

    def logged(action):
        caplog.clear()
        with caplog.at_level("WARNING"):
            action()
        return [r.getMessage() for r in caplog.records]

    def collected():  # b is left in the file, nothing said: TensorFlow warns once this is collected
        tf.train.Checkpoint(a=tf.Variable(0.0)).read(path)
        gc.collect()

    kept = tf.train.Checkpoint(a=tf.Variable(0.0)).read(path)
    said = logged(unrestored_warner(kept))
    assert said == logged(collected) and any("could not be found" in line for line in said)
    del kept  # said once: nothing more when it is collected
    assert logged(gc.collect) == []
    told = tf.train.Checkpoint(a=tf.Variable(0.0)).read(path).expect_partial()
    whole = tf.train.Checkpoint(a=tf.Variable(0.0), b=tf.Variable(0.0)).read(path)
    quiet = [unrestored_warner(s) for s in (told, whole, tf.train.Checkpoint().restore(None))]
    assert logged(lambda: [warn() for warn in quiet]) == []
