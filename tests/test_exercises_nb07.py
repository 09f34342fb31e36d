"""The exercise checks of notebook 07: right answers pass, wrong ones get a hint."""

import numpy as np
import tensorflow as tf


def test_async_options_answer_when_the_save_fails(monkeypatch):
    from ckptkit.exercises.nb07 import check_async_options

    def failing_save(self, file_prefix, options=None):
        raise tf.errors.UnknownError(None, None, "disk full\nmore detail")

    monkeypatch.setattr(tf.train.Checkpoint, "save", failing_save)
    answer = check_async_options(tf.train.CheckpointOptions(enable_async=True))
    assert not answer and answer.message == "a save with these options failed: disk full"


def test_async_options_and_save_interval():
    from ckptkit.exercises.nb07 import check_async_options, check_save_interval

    assert check_async_options(tf.train.CheckpointOptions(enable_async=True))
    sync = check_async_options(tf.train.CheckpointOptions())
    assert not sync and "synchronously" in sync.message and "enable_async=True" not in sync.message
    assert "build tf.train.CheckpointOptions" in check_async_options({"enable_async": True}).message
    assert not check_async_options(None)
    # notebook 07: a step takes 12 ms, a save 30 ms; saves within 5 % of all the time (training plus
    # saving): 30 / (12 n + 30) <= 0.05 holds from n = 48 on
    assert check_save_interval(48)
    assert check_save_interval(np.int64(48))
    share_of_training = check_save_interval(50)  # 30 / (12 * 50) = 5 %: the share of training time only
    assert not share_of_training and "shorter interval" in share_of_training.message
    assert "48" not in share_of_training.message  # a hint, not the answer
    assert "save less often" in check_save_interval(47).message  # 5.05 %: rounded down
    assert "save less often" in check_save_interval(10).message
    assert "whole number" in check_save_interval(0).message
    assert "whole number" in check_save_interval(48.0).message
    assert "whole number" in check_save_interval(True).message
    # another problem: a step of 10 ms, a save of 20 ms: 20 / (10 n + 20) <= 0.05 from n = 38 on
    assert check_save_interval(38, step_ms=10.0, save_ms=20.0)
    assert not check_save_interval(40, step_ms=10.0, save_ms=20.0)
