"""The exercise checks of notebook 05: right answers pass, wrong ones get a hint."""

import numpy as np
import tensorflow as tf


def _tf1_checkpoint(folder):
    """A name-based checkpoint laid out as notebook 05's: hidden/ and out/ weights, global_step 20."""
    rng = np.random.default_rng(0)
    values = {
        "hidden/weights": rng.normal(size=(4, 16)).astype(np.float32),
        "hidden/biases": rng.normal(size=16).astype(np.float32),
        "out/weights": rng.normal(size=(16, 1)).astype(np.float32),
        "out/biases": rng.normal(size=1).astype(np.float32),
    }
    graph = tf.Graph()
    with graph.as_default():
        for name, value in values.items():
            tf.compat.v1.get_variable(name, initializer=value)
        step = tf.compat.v1.train.get_or_create_global_step()
        assign = step.assign(20)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(assign)
            return saver.save(sess, str(folder / "tf1" / "model"), global_step=step)


def _converted(tf1_path, folder, names=None, carry_step=True, extra=None):
    from ckptkit.runs.models import MyModel

    model = MyModel()
    model(tf.zeros([1, 4]))
    where = {
        "hidden/weights": model.dense1.kernel,
        "hidden/biases": model.dense1.bias,
        "out/weights": model.dense2.kernel,
        "out/biases": model.dense2.bias,
    }
    for name in where if names is None else names:
        where[name].assign(tf.train.load_variable(tf1_path, name))
    step = tf.Variable(tf.train.load_variable(tf1_path, "global_step") if carry_step else 0, dtype=tf.int64)
    return tf.train.Checkpoint(model=model, step=step, **(extra or {})).save(str(folder / "model"))


def test_converted_right_and_wrong(tmp_path):
    from ckptkit.exercises.nb05 import check_converted
    from ckptkit.runs.models import MyModel

    tf1_path = _tf1_checkpoint(tmp_path)
    right = check_converted(_converted(tf1_path, tmp_path / "right"), tf1_path)
    assert right and "step = 20" in right.message, right
    sgd = {"optimizer": tf.keras.optimizers.SGD(momentum=0.9)}
    cases = [
        (_converted(tf1_path, tmp_path / "half", names=["hidden/weights"]), "TF1 run's value"),
        (_converted(tf1_path, tmp_path / "nostep", carry_step=False), "ended at global step 20"),
        (_converted(tf1_path, tmp_path / "opt", extra=sgd), "also holds"),
        (tf1_path, "name-based (TF1)"),
        (str(tmp_path / "nowhere" / "model-1"), "no checkpoint"),
        (None, "no checkpoint yet"),
    ]
    for path, words in cases:
        feedback = check_converted(path, tf1_path)
        assert not feedback and words in feedback.message, (path, feedback)
    mine = MyModel()
    mine(tf.zeros([1, 4]))
    names = ["hidden/weights", "hidden/biases", "out/weights", "out/biases"]
    for name, variable in zip(names, mine.weights, strict=True):
        variable.assign(tf.train.load_variable(tf1_path, name))
    step = tf.Variable(tf.train.load_variable(tf1_path, "global_step"))
    path = tf.train.Checkpoint(model=mine, step=step).save(str(tmp_path / "mine" / "model"))
    assert check_converted(path, tf1_path, mine)
    untouched = MyModel()
    untouched(tf.zeros([1, 4]))
    someone_elses = check_converted(_converted(tf1_path, tmp_path / "theirs"), tf1_path, untouched)
    assert not someone_elses and "your model does not hold" in someone_elses.message


def test_converted_names_what_is_missing(tmp_path):
    from ckptkit.exercises.nb05 import check_converted
    from ckptkit.runs.models import MyModel

    tf1_path = _tf1_checkpoint(tmp_path)
    model = MyModel()
    model(tf.zeros([1, 4]))
    no_step = tf.train.Checkpoint(model=model).save(str(tmp_path / "m" / "model"))
    assert "leaves the step behind" in check_converted(no_step, tf1_path).message
    unbuilt = tf.train.Checkpoint(model=MyModel(), step=tf.Variable(20, dtype=tf.int64))
    path = unbuilt.save(str(tmp_path / "u" / "model"))
    assert "nothing stored at model/dense1/_kernel" in check_converted(path, tf1_path).message
    int32 = tf.train.Checkpoint(model=model, step=tf.Variable(20)).save(str(tmp_path / "i" / "model"))
    assert "step is int32" in check_converted(int32, tf1_path).message


def test_saved_by_step_right_and_wrong():
    from ckptkit.exercises.nb05 import check_saved_by_step

    def by_step(ckpt, folder):
        return tf.train.CheckpointManager(ckpt, folder, max_to_keep=3).save(checkpoint_number=ckpt.step)

    def by_count(ckpt, folder):
        return tf.train.CheckpointManager(ckpt, folder, max_to_keep=3).save()

    def copied_number(ckpt, folder):
        return tf.train.CheckpointManager(ckpt, folder, max_to_keep=3).save(checkpoint_number=20)

    def plain_save(ckpt, folder):
        return ckpt.save(f"{folder}/ckpt")

    def write_only(ckpt, folder):
        return ckpt.write(f"{folder}/ckpt-{int(ckpt.step)}")

    assert check_saved_by_step(by_step)
    for answer, words in (
        (by_count, "counts saves"),
        (copied_number, "counts saves"),
        (plain_save, "counts saves"),
        (write_only, "does not find it"),
        ("folder/ckpt-20", "function itself"),
        (lambda ckpt, folder: None, "must return the path"),
        (lambda ckpt, folder: 1 / 0, "ZeroDivisionError"),
    ):
        feedback = check_saved_by_step(answer)
        assert not feedback and words in feedback.message, (answer, feedback)
