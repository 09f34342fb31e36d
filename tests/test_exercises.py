from ckptkit.exercises import check_checkpoint, check_restored, check_save_schedule

import numpy as np
import tensorflow as tf

from helpers import built_keras, saved_keras


def _objects():
    return tf.Variable([[1.0]]), tf.Variable([0.5]), tf.keras.optimizers.SGD(0.01)


def test_checkpoint_right_answer():
    w, b, opt = _objects()
    ckpt = tf.train.Checkpoint(step=tf.Variable(0), model_variables=(w, b), optimizer=opt)
    assert check_checkpoint(ckpt, w, b, opt)
    assert repr(check_checkpoint(ckpt, w, b, opt)).startswith("✅")


def test_checkpoint_wrong_answers_say_what_to_add():
    w, b, opt = _objects()
    step = tf.Variable(0)
    cases = [
        (None, "not a checkpoint"),
        (tf.train.Checkpoint(model_variables=(w, b), optimizer=opt), "no step counter"),
        (
            tf.train.Checkpoint(step=tf.Variable(0.5), model_variables=(w, b), optimizer=opt),
            "no step counter",
        ),
        (tf.train.Checkpoint(step=step, model_variables=(w,), optimizer=opt), "does not track b"),
        (tf.train.Checkpoint(step=step, model_variables=(w, b)), "track the optimizer"),
    ]
    for ckpt, words in cases:
        feedback = check_checkpoint(ckpt, w, b, opt)
        assert not feedback and words in feedback.message, feedback
        assert repr(feedback).startswith("❌")


def test_save_schedule():
    assert check_save_schedule(lambda e: (e + 1) % 10 == 0)
    seed_rule = check_save_schedule(lambda e: e % 10 == 0)
    assert not seed_rule and "last 9 epochs are never saved" in seed_rule.message
    too_often = check_save_schedule(lambda e: (e + 1) % 5 == 0)
    assert not too_often and "not every 10 epochs" in too_often.message


def test_restored(tmp_path):
    w, b, _ = _objects()
    path = tf.train.Checkpoint(model_variables=(w, b)).save(str(tmp_path / "c"))
    w2, b2 = tf.Variable([[0.0]]), tf.Variable([0.0])
    wrong = check_restored(w2, b2, path)
    assert not wrong and "w = [0] but the checkpoint stores [1]" in wrong.message
    tf.train.Checkpoint(model_variables=(w2, b2)).restore(path).expect_partial()
    assert check_restored(w2, b2, path)
    assert "shape" in check_restored(tf.Variable([0.0, 1.0]), b2, path).message
    assert "no checkpoint" in check_restored(w2, b2, tmp_path / "missing").message


def test_ready_to_restore(tmp_path):
    from ckptkit.exercises import check_ready_to_restore
    from ckptkit.models import MyModel, regression_data

    path, _ = saved_keras(tmp_path)
    model, opt = MyModel(), tf.keras.optimizers.Adam(0.01)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt, step=tf.Variable(0))
    unbuilt = check_ready_to_restore(ckpt, path)
    assert not unbuilt and "is not built" in unbuilt.message
    model(regression_data()[0][:1])
    opt.build(model.trainable_variables)
    assert check_ready_to_restore(ckpt, path)
    partial = check_ready_to_restore(tf.train.Checkpoint(model=model), path)
    assert not partial and "optimizer/_iterations" in partial.message


def test_velocity_key():
    from ckptkit.exercises import check_velocity_key

    model, opt, _ = built_keras()
    assert check_velocity_key("optimizer/_variables/7", model, opt)
    assert "first moment" in check_velocity_key("optimizer/_variables/6", model, opt).message
    assert "trainable variable 2" in check_velocity_key("optimizer/_variables/2", model, opt).message


def test_resumed():
    from ckptkit.exercises import check_resumed

    reference = [0.5, 0.25, 0.125]
    assert check_resumed(list(reference), reference)
    assert "no losses yet" in check_resumed([], reference).message
    assert "3 to compare" in check_resumed([0.5], reference).message
    off = check_resumed([0.5, 0.25000001, 0.125], reference)
    assert not off and "step 2 after the restore" in off.message


def test_own_folder(tmp_path):
    from ckptkit.exercises import check_own_folder

    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    a = tf.train.CheckpointManager(ckpt, tmp_path / "a", max_to_keep=1)
    b = tf.train.CheckpointManager(ckpt, tmp_path / "a", max_to_keep=1)
    c = tf.train.CheckpointManager(ckpt, tmp_path / "c", max_to_keep=1)
    assert not check_own_folder(b, [a])
    assert check_own_folder(c, [a, b])


def test_backbone_and_frozen(tmp_path):
    from ckptkit.exercises import check_backbone_restored, check_frozen
    from ckptkit.models import FinetuneModel, regression_data

    path, _ = saved_keras(tmp_path)
    model = FinetuneModel()
    assert "not built" in check_backbone_restored(model, path).message
    assert "not built" in check_frozen(model).message
    model(regression_data()[0][:1])
    assert "differs from the checkpoint" in check_backbone_restored(model, path).message
    tf.train.Checkpoint(model=tf.train.Checkpoint(dense1=model.dense1)).restore(path).expect_partial()
    assert check_backbone_restored(model, path)
    assert "still trainable" in check_frozen(model).message
    model.dense1.trainable = False
    assert check_frozen(model)
    model.trainable = False
    assert "nothing is trainable" in check_frozen(model).message


def test_stored_key_status_method_read_value(tmp_path):
    from ckptkit.exercises import check_read_value, check_status_method, check_stored_key

    path, _ = saved_keras(tmp_path)
    assert check_stored_key("model/dense2/bias/.ATTRIBUTES/VARIABLE_VALUE", path, "model/dense2/bias")
    assert "another value" in check_stored_key("model/dense1/bias", path, "model/dense2/bias").message
    assert "not a key" in check_stored_key("dense2/bias", path, "model/dense2/bias").message
    assert check_status_method("assert_existing_objects_matched")
    assert "checks nothing" in check_status_method("expect_partial").message
    assert "not a status method" in check_status_method("restore").message
    key = "step/.ATTRIBUTES/VARIABLE_VALUE"
    assert check_read_value(tf.train.load_variable(path, key), path, key)
    assert "no value yet" in check_read_value(None, path, key).message
    assert not check_read_value(99, path, key)


def test_branches():
    from ckptkit.exercises import check_branches
    from ckptkit.history import History

    h = History()
    h.record(1, 1.0)
    assert not check_branches(h, wanted=2)
    h.mark_save("c", 1)
    h.mark_restore("c", 1)
    h.record(2, 0.5)
    assert check_branches(h, wanted=2)


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
    from ckptkit.models import MyModel

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
    from ckptkit.exercises import check_converted
    from ckptkit.models import MyModel

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
    from ckptkit.exercises import check_converted
    from ckptkit.models import MyModel

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
    from ckptkit.exercises import check_saved_by_step

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


def test_resumable_right_and_wrong():
    from ckptkit.exercises import check_resumable
    from ckptkit.models import DropoutModel, regression_data, seed_states

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
    from ckptkit.exercises import check_seed_states
    from ckptkit.models import DropoutModel, regression_data

    model = DropoutModel()
    model(regression_data()[0][:1])
    seeds = [v for v in model.variables if "seed_generator_state" in v.path]
    assert len(seeds) == 1 and check_seed_states(seeds, model)
    assert "saved with the model already" in check_seed_states(model.trainable_variables, model).message
    assert "look in model.variables" in check_seed_states([], model).message
    assert "pick the seed states" in check_seed_states(model.variables, model).message


def test_async_options_and_save_interval():
    from ckptkit.exercises import check_async_options, check_save_interval

    assert check_async_options(tf.train.CheckpointOptions(enable_async=True))
    assert "synchronously" in check_async_options(tf.train.CheckpointOptions()).message
    assert "build tf.train.CheckpointOptions" in check_async_options({"enable_async": True}).message
    # a step takes 10 ms, a save 20 ms: under 5 % needs saves at least 40 steps apart
    assert check_save_interval(40, step_ms=10.0, save_ms=20.0)
    assert "save less often" in check_save_interval(10, step_ms=10.0, save_ms=20.0).message
    assert "40 steps would too" in check_save_interval(100, step_ms=10.0, save_ms=20.0).message
    assert "whole number" in check_save_interval(0, step_ms=10.0, save_ms=20.0).message
