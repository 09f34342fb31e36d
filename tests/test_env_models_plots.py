import ckptkit
from ckptkit.runs.models import DropoutModel, MyModel, linear_data, regression_data, seed_states

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf


def test_workspace_is_emptied_each_time(tmp_path):
    folder = ckptkit.workspace("nb", root=tmp_path)
    (folder / "old.txt").write_text("left by a past run")
    again = ckptkit.workspace("nb", root=tmp_path)
    assert again == folder and list(again.iterdir()) == []


def test_seeding_repeats_random_values():
    ckptkit.seed_everything(3)
    first = tf.random.normal([4]).numpy()
    ckptkit.seed_everything(3)
    assert np.array_equal(first, tf.random.normal([4]).numpy())


def test_import_prints_nothing_on_stderr():
    code = "import ckptkit; tf = ckptkit.import_tensorflow(); print(float(tf.constant(2.0) * 2))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "4.0"
    assert done.stderr == ""


EXIT_CODE = """
import atexit, sys
import ckptkit
from ckptkit.live import quiet
import tensorflow as tf
if sys.argv[1] == "unmuted":
    atexit.unregister(quiet._mute_tf_logger)
path = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable(2.0)).save(sys.argv[2] + "/ckpt")
left = tf.train.Checkpoint(a=tf.Variable(0.0))
left.restore(path)  # b is left over: TensorFlow warns as `left` is collected at exit
print(float(left.a))
"""


def test_values_a_restore_left_over_are_not_logged_at_exit(tmp_path):
    runs = {
        mode: subprocess.run(
            [sys.executable, "-c", EXIT_CODE, mode, str(tmp_path / mode)],
            capture_output=True,
            text=True,
            check=True,
        )
        for mode in ("muted", "unmuted")
    }
    assert runs["muted"].stdout.strip() == "1.0" and runs["muted"].stderr == ""
    # The control: without the exit hook, the same script logs the leftover value.
    assert "Value in checkpoint could not be found in the restored object: (root).b" in runs["unmuted"].stderr


def test_models_and_data_have_the_seed_shapes():
    inputs, targets = linear_data()
    assert np.array_equal(targets.numpy(), 2 * inputs.numpy())
    x, y = regression_data(n=8, features=32)
    model = MyModel()
    assert model(x).shape == (8, 1) and y.shape == (8, 1)
    assert [v.shape for v in model.trainable_variables] == [(32, 16), (16,), (16, 1), (1,)]


def test_finetune_model_shares_the_backbone_path():
    from ckptkit.live.snapshot import live_variables
    from ckptkit.runs.models import FinetuneModel

    model = FinetuneModel()
    model(regression_data(n=2)[0])
    paths = [p for p, _ in live_variables(model)]
    assert paths[:2] == ["dense1/_kernel", "dense1/bias"]


def test_captured_tf_logs_collect_instead_of_printing(capsys):
    with ckptkit.captured_tf_logs() as logs:
        tf.get_logger().warning("something %s", "odd")
    assert logs == ["something odd"]
    tf.get_logger().info("not captured any more")
    assert "something odd" not in capsys.readouterr().err


def test_captured_tf_logs_include_absl(capsys):
    """TensorFlow's async checkpoint writer and functional saver log through absl, not "tensorflow"."""
    from absl import logging as absl_logging

    with ckptkit.captured_tf_logs() as logs:
        absl_logging.warning("from %s", "absl")
        tf.get_logger().warning("from tensorflow")
    assert logs == ["from absl", "from tensorflow"]
    assert "from absl" not in capsys.readouterr().err


def test_seed_states_are_the_dropout_seed_generators_only():
    model = DropoutModel()
    model(regression_data()[0][:1])
    states = seed_states(model)
    assert [v.path.rsplit("/", 1)[-1] for v in states] == ["seed_generator_state"]
    assert not {id(v) for v in states} & {id(v) for v in model.trainable_variables}
    assert seed_states(lambda x: x) == []  # a plain function has no variables
