"""The exercise checks of notebook 06: right answers pass, wrong ones get a hint."""

import tensorflow as tf


def test_resumable_right_and_wrong():
    from ckptkit.exercises.nb06 import check_resumable
    from ckptkit.runs.models import DropoutModel, regression_data, seed_states

    model, opt = DropoutModel(), tf.keras.optimizers.Adam(0.01)
    model(regression_data()[0][:1])
    it = iter(tf.data.Dataset.range(5))
    gen = tf.random.Generator.from_seed(0)
    step = tf.Variable(0)
    seeds = seed_states(model)
    objects = {"model": model, "optimizer": opt, "iterator": it, "generator": gen}
    right = tf.train.Checkpoint(step=step, layer_seeds=seeds, **objects)
    assert check_resumable(right, model, opt, it, gen)
    renamed = tf.train.Checkpoint(global_step=step, seeds={"dropout": seeds[0]}, **objects)
    assert check_resumable(renamed, model, opt, it, gen)
    cases = [
        (tf.train.Checkpoint(step=step, **objects), "Dropout seed states are not saved"),
        (tf.train.Checkpoint(step=step, model=model, optimizer=opt, layer_seeds=seeds), "iterator"),
        (tf.train.Checkpoint(layer_seeds=seeds, **objects), "no step counter"),
        (tf.train.Checkpoint(step=step, layer_seeds=seeds, **objects | {"model": seeds}), "model's weights"),
        (objects, "not a tf.train.Checkpoint"),
    ]
    for ckpt, words in cases:
        feedback = check_resumable(ckpt, model, opt, it, gen)
        assert not feedback and words in feedback.message, (ckpt, feedback)


def test_seed_states_right_and_wrong():
    from ckptkit.exercises.nb06 import check_seed_states
    from ckptkit.runs.models import DropoutModel, regression_data

    model = DropoutModel()
    model(regression_data()[0][:1])
    seeds = [v for v in model.variables if "seed_generator_state" in v.path]
    assert len(seeds) == 1 and check_seed_states(seeds, model)
    assert "saved with the model already" in check_seed_states(model.trainable_variables, model).message
    assert "look in model.variables" in check_seed_states([], model).message
    assert "pick the seed states" in check_seed_states(model.variables, model).message
