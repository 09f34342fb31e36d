"""The exercise checks of notebook 02: right answers pass, wrong ones get a hint."""

import tensorflow as tf

from helpers import built_keras, saved_keras


def _resume_with(how):
    from ckptkit.runs.models import MyModel, regression_data

    def resume(path):
        model, optimizer = MyModel(), tf.keras.optimizers.Adam(learning_rate=0.01)
        if how in ("right", "weights only"):
            model(regression_data()[0][:1])
        if how == "right":
            optimizer.build(model.trainable_variables)
        if how == "right":
            tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        elif how in ("weights only", "unbuilt"):
            tf.train.Checkpoint(model=model).restore(path).expect_partial()
        return model, optimizer

    return resume


def test_ready_to_restore(tmp_path):
    from ckptkit.exercises.nb02 import check_ready_to_restore
    from ckptkit.runs.models import MyModel, regression_data

    path, _ = saved_keras(tmp_path)
    model, opt = MyModel(), tf.keras.optimizers.Adam(0.01)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt, step=tf.Variable(0))
    unbuilt = check_ready_to_restore(ckpt, path, model, opt)
    assert not unbuilt and "is not built" in unbuilt.message
    _, _, other_ckpt = built_keras()  # someone else's built checkpoint, like ckpt2
    borrowed = check_ready_to_restore(other_ckpt, path, model, opt)
    assert not borrowed and "does not track the new model" in borrowed.message
    model(regression_data()[0][:1])
    half = check_ready_to_restore(ckpt, path, model, opt)  # the optimizer is still unbuilt
    assert not half and "'optimizer' (Adam) is not built" in half.message
    opt.build(model.trainable_variables)
    assert check_ready_to_restore(ckpt, path, model, opt)
    partial = check_ready_to_restore(tf.train.Checkpoint(model=model, optimizer=opt), path, model, opt)
    assert not partial and "step" in partial.message
    assert "no checkpoint" in check_ready_to_restore(ckpt, tmp_path / "none", model, opt).message


def test_velocity_key():
    from ckptkit.exercises.nb02 import check_velocity_key

    assert check_velocity_key(lambda i: f"optimizer/_variables/{2 + 2 * i + 1}")
    assert check_velocity_key(lambda i: f"optimizer/_variables/{2 * i + 3}/.ATTRIBUTES/VARIABLE_VALUE")
    momentum = check_velocity_key(lambda i: f"optimizer/_variables/{2 + 2 * i}")
    assert not momentum and "first moment" in momentum.message
    no_scalars = check_velocity_key(lambda i: f"optimizer/_variables/{2 * i + 1}")
    assert not no_scalars and "moments are optimizer/_variables/2 to 13" in no_scalars.message
    shifted = check_velocity_key(lambda i: f"optimizer/_variables/{2 * i + 5}")  # one variable off
    assert not shifted and "count every optimizer value" in shifted.message
    printed = check_velocity_key(lambda i: "optimizer/_variables/7")  # the key looked up in 02's table
    assert not printed
    assert "not a key" in check_velocity_key(lambda i: f"optimizer/_variables/{100 + i}").message
    assert "must be a function" in check_velocity_key("optimizer/_variables/7").message


def test_resumed(tmp_path):
    from ckptkit.exercises.nb02 import check_resumed
    from ckptkit.runs.models import regression_data

    path, _ = saved_keras(tmp_path)
    inputs, targets = regression_data()
    assert check_resumed(_resume_with("right"), path, inputs, targets)
    weights_only = check_resumed(_resume_with("weights only"), path, inputs, targets)
    assert not weights_only and "the optimizer does not carry on" in weights_only.message
    nothing = check_resumed(_resume_with("nothing"), path, inputs, targets)
    assert not nothing and "does not start from every stored weight" in nothing.message
    unbuilt = check_resumed(_resume_with("unbuilt"), path, inputs, targets)
    assert not unbuilt and "does not start from every stored weight" in unbuilt.message
    copied = check_resumed([0.5, 0.4], path, inputs, targets)  # a list of losses copied from above
    assert not copied and "must be a function" in copied.message
    assert "must return the pair" in check_resumed(lambda p: None, path, inputs, targets).message
    assert "no checkpoint" in check_resumed(_resume_with("right"), tmp_path / "x", inputs, targets).message

    class Needs(tf.keras.Model):  # a model class the check cannot build a second time on its own
        def __init__(self, width):
            super().__init__()
            self.dense = tf.keras.layers.Dense(width)

        def call(self, x):
            return self.dense(x)

    odd = check_resumed(lambda p: (Needs(1), tf.keras.optimizers.Adam()), path, inputs, targets)
    assert not odd and "building a second Needs" in odd.message
