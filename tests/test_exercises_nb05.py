"""The exercise checks of notebook 05: the reference solutions pass; cheats and wrong answers get a hint."""

import ckptkit
from ckptkit.exercises.nb05 import check_convert, check_latest_step, tf1_checkpoint
from ckptkit.runs.models import MyModel

import glob
import re

import numpy as np
import tensorflow as tf

from helpers import spells_out

# What the reference solutions call or write: no ❌ may spell these out.
SOLUTION_CALLS = ("MyModel(hidden=", "get_tensor(", "has_tensor", "latest_checkpoint(", "Checkpoint(model=")


def _layers(model):
    return {
        "hidden/weights": model.dense1.kernel,
        "hidden/biases": model.dense1.bias,
        "out/weights": model.dense2.kernel,
        "out/biases": model.dense2.bias,
    }


def _either_layout(model, names):  # the notebook's scopes, or the names tf.compat.v1.layers.dense gave
    if "hidden/weights" in names:
        return _layers(model)
    variables = (model.dense1.kernel, model.dense1.bias, model.dense2.kernel, model.dense2.bias)
    return dict(zip(("dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"), variables, strict=True))


def convert(tf1_path, prefix):
    reader = tf.train.load_checkpoint(tf1_path)
    shapes = reader.get_variable_to_shape_map()
    model = MyModel(hidden=shapes["hidden/weights" if "hidden/weights" in shapes else "dense/kernel"][1])
    model(tf.zeros([1, 4]))
    for name, variable in _either_layout(model, shapes).items():  # the Momentum slots stay behind
        variable.assign(reader.get_tensor(name))
    step = tf.Variable(reader.get_tensor("global_step"))  # int64, as TF1 stored it
    return tf.train.Checkpoint(model=model, step=step).save(prefix)


def latest_step(folder):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(folder))
    if reader.has_tensor("global_step"):  # a TF1 Saver: keys are global names
        return int(reader.get_tensor("global_step"))
    return int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))  # TF2: object paths


def placeholder(*args):
    raise NotImplementedError


def _failed(feedback, *words):
    assert not feedback, feedback
    assert all(word in feedback.message for word in words), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback
    return feedback


def test_tf1_checkpoint_is_name_based(tmp_path):
    values = tf1_checkpoint(str(tmp_path), hidden=3, steps=(2, 5), seed=1)
    path = tf.train.latest_checkpoint(str(tmp_path))
    assert path.endswith("model-5") and tf.train.load_variable(path, "global_step") == 5
    assert np.array_equal(tf.train.load_variable(path, "out/weights"), values["out/weights"])
    assert sorted(values) == sorted(key for key, _ in tf.train.list_variables(path))


def test_tf1_checkpoint_in_the_layers_layout_holds_momentum_slots(tmp_path):
    values = tf1_checkpoint(str(tmp_path), hidden=3, steps=(4,), seed=1, layout="layers")
    path = tf.train.latest_checkpoint(str(tmp_path))
    keys = [key for key, _ in tf.train.list_variables(path)]
    assert "dense_1/kernel/Momentum" in keys and "hidden/weights" not in keys and sorted(values) == keys
    assert np.any(values["dense/kernel/Momentum"] != 0)  # a slot with a value, not left at zero
    assert np.array_equal(tf.train.load_variable(path, "dense/bias"), values["dense/bias"])


def test_convert(tmp_path):
    assert check_convert(convert)

    def write_not_save(tf1_path, prefix):  # write() is as right as save()
        reader = tf.train.load_checkpoint(tf1_path)
        shapes = reader.get_variable_to_shape_map()
        model = MyModel(hidden=shapes["out/weights" if "out/weights" in shapes else "dense_1/kernel"][0])
        model(tf.zeros([1, 4]))
        for name, variable in _either_layout(model, shapes).items():
            variable.assign(tf.train.load_variable(tf1_path, name))
        step = tf.Variable(reader.get_tensor("global_step"))
        return tf.train.Checkpoint(model=model, step=step).write(prefix)

    assert check_convert(write_not_save)

    def notebook_names_only(tf1_path, prefix):  # the notebook's map, copied: fails on dense/… names
        reader = tf.train.load_checkpoint(tf1_path)
        model = MyModel(hidden=reader.get_variable_to_shape_map()["hidden/weights"][1])
        model(tf.zeros([1, 4]))
        for name, variable in _layers(model).items():
            variable.assign(reader.get_tensor(name))
        return tf.train.Checkpoint(model=model, step=tf.Variable(reader.get_tensor("global_step"))).save(
            prefix
        )

    def by_shape(tf1_path, prefix):  # each weight from the last key of its shape: a Momentum slot
        reader = tf.train.load_checkpoint(tf1_path)
        shapes = reader.get_variable_to_shape_map()
        model = MyModel(hidden=max(max(s) for s in shapes.values() if s))
        model(tf.zeros([1, 4]))
        for variable in model.weights:
            name = max(k for k, s in shapes.items() if s == list(variable.shape))
            variable.assign(reader.get_tensor(name))
        return tf.train.Checkpoint(model=model, step=tf.Variable(reader.get_tensor("global_step"))).save(
            prefix
        )

    # the notebook's own converted file: aliasing what is in scope
    tf1_checkpoint(str(tmp_path / "tf1"), hidden=16, steps=(20,), seed=0)
    notebook_converted = convert(
        tf.train.latest_checkpoint(str(tmp_path / "tf1")), str(tmp_path / "nb" / "m")
    )

    def notebook_width(tf1_path, prefix):  # copying the cell: a MyModel() of the notebook's width
        model = MyModel()
        model(tf.zeros([1, 4]))
        for name, variable in _layers(model).items():
            variable.assign(tf.train.load_variable(tf1_path, name))
        return tf.train.Checkpoint(model=model, step=tf.Variable(20, dtype=tf.int64)).save(prefix)

    def no_step(tf1_path, prefix):
        model = MyModel(hidden=24)
        model(tf.zeros([1, 4]))
        for name, variable in _layers(model).items():
            variable.assign(tf.train.load_variable(tf1_path, name))
        return tf.train.Checkpoint(model=model).save(prefix)

    def step_as_int32(tf1_path, prefix):
        model = MyModel(hidden=24)
        model(tf.zeros([1, 4]))
        for name, variable in _layers(model).items():
            variable.assign(tf.train.load_variable(tf1_path, name))
        step = tf.Variable(int(tf.train.load_variable(tf1_path, "global_step")))
        return tf.train.Checkpoint(model=model, step=step).save(prefix)

    def unconverted(tf1_path, prefix):  # a built model that never got the TF1 values
        model = MyModel(hidden=24)
        model(tf.zeros([1, 4]))
        step = tf.Variable(tf.train.load_variable(tf1_path, "global_step"))
        return tf.train.Checkpoint(model=model, step=step).save(prefix)

    def with_optimizer(tf1_path, prefix):
        path = convert(tf1_path, prefix + "-plain")
        model = MyModel(hidden=24)
        model(tf.zeros([1, 4]))
        tf.train.Checkpoint(model=model).read(path).expect_partial()
        step = tf.Variable(tf.train.load_variable(tf1_path, "global_step"))
        optimizer = tf.keras.optimizers.SGD(momentum=0.9)
        optimizer.build(model.trainable_variables)
        return tf.train.Checkpoint(model=model, step=step, optimizer=optimizer).save(prefix)

    def step_from_file_name(tf1_path, prefix):  # the number in the name is not always the step
        reader = tf.train.load_checkpoint(tf1_path)
        shapes = reader.get_variable_to_shape_map()
        model = MyModel(hidden=shapes["out/weights" if "out/weights" in shapes else "dense_1/kernel"][0])
        model(tf.zeros([1, 4]))
        for name, variable in _either_layout(model, shapes).items():
            variable.assign(reader.get_tensor(name))
        step = tf.Variable(int(tf1_path.rsplit("-", 1)[1]), dtype=tf.int64)
        return tf.train.Checkpoint(model=model, step=step).write(prefix)

    def widths_by_heart(tf1_path, prefix):  # the two widths the old check used, hard-coded
        shapes = tf.train.load_checkpoint(tf1_path).get_variable_to_shape_map()
        model = MyModel(hidden=24 if "hidden/weights" in shapes else 6)
        model(tf.zeros([1, 4]))
        for name, variable in _either_layout(model, shapes).items():
            variable.assign(tf.train.load_variable(tf1_path, name))
        step = tf.Variable(tf.train.load_variable(tf1_path, "global_step"))
        return tf.train.Checkpoint(model=model, step=step).write(prefix)

    def ckptkit_reader(tf1_path, prefix):  # ckptkit's reader does the reading: refused
        ckptkit.open_checkpoint(tf1_path).stored_keys()
        return convert(tf1_path, prefix)

    cheats_and_wrong = [
        (step_from_file_name, "numbered 3", "step does not hold"),
        (widths_by_heart, "second file", "raised"),
        (ckptkit_reader, "called ckptkit's"),
        (lambda tf1_path, prefix: notebook_converted, "shape (4, 16)"),
        (notebook_width, "raised ValueError"),
        (lambda tf1_path, prefix: tf1_path, "TF1 names again"),
        (no_step, "nothing is stored at step"),
        (step_as_int32, "step is int32"),
        (unconverted, "does not hold the value"),
        (with_optimizer, "also stores optimizer"),
        (notebook_names_only, "dense/… names", "raised", "list the file's keys"),
        (by_shape, "holds dense/kernel/Momentum", "slot"),
        (lambda tf1_path, prefix: None, "must return the path"),
        (lambda tf1_path, prefix: prefix, "no checkpoint at the path"),
    ]
    for answer, *words in cheats_and_wrong:
        _failed(check_convert(answer), *words)
    _failed(check_convert(placeholder), "still the placeholder")


def test_latest_step():
    assert check_latest_step(latest_step)
    assert check_latest_step(lambda folder: np.int64(latest_step(folder)))  # what get_tensor returns

    def by_file_name(folder):  # the number in the name: save_counter under TF2
        return int(tf.train.latest_checkpoint(folder).rsplit("-", 1)[1])

    def tf2_key_only(folder):
        return tf.train.load_variable(tf.train.latest_checkpoint(folder), "step/.ATTRIBUTES/VARIABLE_VALUE")

    def save_counter(folder):
        return tf.train.load_variable(
            tf.train.latest_checkpoint(folder), "save_counter/.ATTRIBUTES/VARIABLE_VALUE"
        )

    def oldest(folder):
        path = tf.train.get_checkpoint_state(folder).all_model_checkpoint_paths[0]
        reader = tf.train.load_checkpoint(path)
        key = "global_step" if reader.has_tensor("global_step") else "step/.ATTRIBUTES/VARIABLE_VALUE"
        return int(reader.get_tensor(key))

    def name_based(folder):  # right too: a restore by name into a variable called global_step
        step = tf.Variable(0, dtype=tf.int64, name="global_step")
        tf.train.Checkpoint(step=step).restore(tf.train.latest_checkpoint(folder)).expect_partial()
        return int(step)

    assert check_latest_step(name_based)

    def tf2_key_else_file_name(folder):  # the TF1 step from the file's name: right only when they agree
        path = tf.train.latest_checkpoint(folder)
        try:
            return int(tf.train.load_variable(path, "step/.ATTRIBUTES/VARIABLE_VALUE"))
        except tf.errors.NotFoundError:
            return int(path.rsplit("-", 1)[1])

    def largest_integer(folder):  # right only while save_counter stays below the step
        reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(folder))
        dtypes = reader.get_variable_to_dtype_map().items()
        return max(int(reader.get_tensor(key)) for key, dtype in dtypes if dtype.is_integer)

    def largest_number(folder):  # the file with the largest number, not the one the state file names
        newest = max(glob.glob(f"{folder}/*.index"), key=lambda p: int(re.findall(r"\d+", p)[-1]))
        reader = tf.train.load_checkpoint(newest.removesuffix(".index"))
        key = "global_step" if reader.has_tensor("global_step") else "step/.ATTRIBUTES/VARIABLE_VALUE"
        return int(reader.get_tensor(key))

    cheats_and_wrong = [
        (largest_number, "restarted from step 0", "it says 50", "older checkpoint", "state file"),
        (by_file_name, "numbering its files by epoch", "it says 2", "a file's number"),
        (tf2_key_else_file_name, "numbering its files by epoch", "it says 2"),
        (largest_integer, "saving five times", "it says 5", "save_counter"),
        (lambda folder: ckptkit.open_checkpoint(folder).step(), "called ckptkit's"),
        (tf2_key_only, "raised NotFoundError", "TF1 Saver", "list the keys"),
        (save_counter, "raised NotFoundError"),
        (oldest, "it says 13", "older checkpoint", "notebook 01"),
        (lambda folder: 26, "numbering its saves"),  # the first folder's answer, copied
        (lambda folder: None, "returned None"),
        (tf.train.latest_checkpoint, "return the step as an int"),  # the newest file's path, not its step
        (lambda folder: 26.0, "return the step as an int"),
    ]
    for answer, *words in cheats_and_wrong:
        _failed(check_latest_step(answer), *words)
    _failed(check_latest_step(placeholder), "still the placeholder")
