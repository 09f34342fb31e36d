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
if "{mode}" == "unmuted":
    atexit.unregister(quiet._mute_tf_logger)
path = tf.train.Checkpoint(a=tf.Variable(1.0), b=tf.Variable(2.0)).save("{folder}/ckpt")
left = tf.train.Checkpoint(a=tf.Variable(0.0))
status = left.restore(path)  # b is left over: TensorFlow warns when the restore is collected
print(float(left.a))
cycle = [left, status]  # in a cycle, the restore is collected only as the process ends
cycle.append(cycle)
del left, status
"""

# Runs EXIT_CODE in a Jupyter kernel, as a notebook cell; the kernel's stderr is this process's. The
# kernel gets a minute to exit by itself (5 s by default): on a busy machine it was killed before its exit
# handlers ran, and then it logs nothing, hook or not.
IN_KERNEL = """
import sys, jupyter_client, nbclient, nbformat
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(sys.argv[1])])
km = jupyter_client.KernelManager(shutdown_wait_time=60)
nbclient.NotebookClient(nb, km=km, timeout=120).execute()
km.shutdown_kernel()  # a request, then up to 60 s for the kernel to exit on its own
print(nb.cells[0].outputs[0]["text"].strip())
"""

LEFT_OVER = "Value in checkpoint could not be found in the restored object: (root).b"


def _exit_logs(tmp_path, mode: str, in_kernel: bool) -> tuple[str, str]:
    """EXIT_CODE's stdout and stderr, run as a script or in a kernel, with the exit hook or without."""
    code = EXIT_CODE.format(mode=mode, folder=tmp_path / f"{mode}-{in_kernel}")
    argv = [sys.executable, "-c", IN_KERNEL, code] if in_kernel else [sys.executable, "-c", code]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    return done.stdout.strip(), done.stderr


def test_a_kernel_logs_nothing_at_exit_about_values_a_restore_left_over(tmp_path):
    out, err = _exit_logs(tmp_path, "muted", in_kernel=True)
    assert out == "1.0" and "Logging error" not in err and LEFT_OVER not in err
    # The control: without the exit hook, the kernel's stream is closed by the time `left` is
    # collected, and each warning reaches the server's terminal as a logging traceback.
    out, err = _exit_logs(tmp_path, "unmuted", in_kernel=True)
    assert out == "1.0" and "Logging error" in err


def test_a_script_still_gets_tensorflows_exit_warning(tmp_path):
    out, err = _exit_logs(tmp_path, "muted", in_kernel=False)
    assert out == "1.0" and LEFT_OVER in err and "Logging error" not in err


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
