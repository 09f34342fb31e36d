import ckptkit
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


def test_checkpoint_wrong_answers_hint_without_the_fix():
    w, b, opt = _objects()
    step = tf.Variable(0)
    cases = [
        (None, "not a tf.train.Checkpoint"),
        (tf.train.Checkpoint(model_variables=(w, b), optimizer=opt), "no integer step counter"),
        (
            tf.train.Checkpoint(step=tf.Variable(0.5), model_variables=(w, b), optimizer=opt),
            "no integer step counter",
        ),
        (tf.train.Checkpoint(step=step, model_variables=(w,), optimizer=opt), "does not reach b"),
        (tf.train.Checkpoint(step=step, model_variables=(w, b)), "track the optimizer"),
    ]
    for ckpt, words in cases:
        feedback = check_checkpoint(ckpt, w, b, opt)
        assert not feedback and words in feedback.message, feedback
        assert repr(feedback).startswith("❌")
        assert "=" not in feedback.message  # a hint, not the line to type


def test_save_schedule_accepts_every_right_rule():
    assert check_save_schedule(lambda e: (e + 1) % 10 == 0)
    assert check_save_schedule(lambda e: e % 10 == 0 or e == 19)
    assert check_save_schedule(lambda e: e % 10 == 9)


def test_save_schedule_rejects_wrong_rules_with_a_hint():
    seed_rule = check_save_schedule(lambda e: e % 10 == 0)
    assert not seed_rule and "last 9 epochs are never saved" in seed_rule.message
    assert "% 10" not in seed_rule.message  # the hint does not hand over the rule
    too_often = check_save_schedule(lambda e: (e + 1) % 5 == 0)
    assert not too_often and "not every 10 epochs" in too_often.message
    only_last = check_save_schedule(lambda e: e == 19)
    assert not only_last and "a crash before that" in only_last.message
    assert "never saves" in check_save_schedule(lambda e: False).message
    assert "raised ZeroDivisionError" in check_save_schedule(lambda e: 1 / 0).message


def test_restored(tmp_path):
    w, b, _ = _objects()
    path = tf.train.Checkpoint(model_variables=(w, b)).save(str(tmp_path / "c"))
    w.assign([[3.0]])
    later = tf.train.Checkpoint(model_variables=(w, b)).save(str(tmp_path / "later"))
    w2, b2 = tf.Variable([[0.0]]), tf.Variable([0.0])
    wrong = check_restored(w2, b2, path)
    assert not wrong and "w = [0] but the checkpoint stores [1]" in wrong.message
    assert "restore(" not in wrong.message
    tf.train.Checkpoint(model_variables=(w2, b2)).restore(later).expect_partial()  # the wrong file
    assert "w = [3] but the checkpoint stores [1]" in check_restored(w2, b2, path).message
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
    from ckptkit.exercises import check_velocity_key

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


def _resume_with(how):
    from ckptkit.models import MyModel, regression_data

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


def test_resumed(tmp_path):
    from ckptkit.exercises import check_resumed
    from ckptkit.models import regression_data

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


def test_own_folder(tmp_path):
    from ckptkit.exercises import check_own_folder

    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    a = tf.train.CheckpointManager(ckpt, tmp_path / "a", max_to_keep=1)
    a.save()
    b = tf.train.CheckpointManager(ckpt, tmp_path / "a", max_to_keep=1)
    assert "another stage's folder" in check_own_folder(b, [a]).message
    ckpt.save(tmp_path / "shared" / "pretrain-checkpoint")  # the trap folder, no manager of its own
    shared = check_own_folder(tf.train.CheckpointManager(ckpt, tmp_path / "shared", 1), [a])
    assert not shared and "already holds checkpoints" in shared.message
    panel = tf.train.CheckpointManager(ckpt, tmp_path / "panel", None)
    panel.save(checkpoint_number=1)  # a panel's folder: files named like the new manager's own
    mine = check_own_folder(tf.train.CheckpointManager(ckpt, tmp_path / "panel", 1), [a])
    assert not mine and "ckpt-1.index" in mine.message
    assert check_own_folder(tf.train.CheckpointManager(ckpt, tmp_path / "eval", 1), [a, b])
    assert "not a tf.train.CheckpointManager" in check_own_folder(str(tmp_path), [a]).message


def test_backbone_restored(tmp_path):
    from ckptkit.exercises import check_backbone_restored
    from ckptkit.models import regression_data

    path, _ = saved_keras(tmp_path)
    x = regression_data()[0]

    def right(model, p):
        model(x[:1])
        status = tf.train.Checkpoint(model=tf.train.Checkpoint(dense1=model.dense1)).restore(p)
        status.assert_existing_objects_matched().expect_partial()

    def restore_then_build(model, p):
        tf.train.Checkpoint(model=tf.train.Checkpoint(dense1=model.dense1)).restore(p).expect_partial()
        model(x[:1])

    assert check_backbone_restored(right, path)
    late = check_backbone_restored(restore_then_build, path)
    assert not late and "built before the restore" in late.message
    assert "still unbuilt" in check_backbone_restored(lambda model, p: None, path).message
    assert "differs from the checkpoint" in check_backbone_restored(lambda m, p: m(x[:1]), path).message
    assert "must be a function" in check_backbone_restored(None, path).message  # e.g. ex_model = ft_model
    assert "no checkpoint" in check_backbone_restored(right, tmp_path / "missing").message


def test_frozen():
    from ckptkit.exercises import check_frozen
    from ckptkit.models import FinetuneModel, regression_data

    model = FinetuneModel()
    assert "not built" in check_frozen(model).message
    model(regression_data()[0][:1])
    before = [v.numpy().copy() for v in model.variables]
    assert "still moves dense1" in check_frozen(model).message
    assert all((v.numpy() == b).all() for v, b in zip(model.variables, before, strict=True))  # put back
    model.dense1.trainable = False
    assert check_frozen(model)
    model.trainable = False
    assert "nothing is trainable" in check_frozen(model).message
    assert "not a model" in check_frozen(None).message


def test_stored_key_status_method_read_value(tmp_path):
    from ckptkit.exercises import check_status_method, check_stored_key

    path, _ = saved_keras(tmp_path)
    assert check_stored_key("model/dense2/bias/.ATTRIBUTES/VARIABLE_VALUE", path, "model/dense2/bias")
    assert "another value" in check_stored_key("model/dense1/bias", path, "model/dense2/bias").message
    assert "not a key" in check_stored_key("dense2/bias", path, "model/dense2/bias").message
    assert check_status_method("assert_existing_objects_matched")
    assert "checks nothing" in check_status_method("expect_partial").message
    assert "not a status method" in check_status_method("restore").message


def test_written_key_runs_the_learners_file(tmp_path):
    from ckptkit.exercises import check_written_key

    model, _, _ = built_keras()
    key = "head/bias/.ATTRIBUTES/VARIABLE_VALUE"
    right = tf.train.Checkpoint(head=model.dense2).write(str(tmp_path / "right"))
    assert check_written_key(right, key, model.dense2.bias)
    assert "no checkpoint there" in check_written_key(tmp_path / "nothing", key, model.dense2.bias).message
    whole = tf.train.Checkpoint(model=model).write(str(tmp_path / "whole"))
    assert "keyword you pass" in check_written_key(whole, key, model.dense2.bias).message
    wrong_layer = tf.train.Checkpoint(head=model.dense1).write(str(tmp_path / "wrong"))
    assert "other values" in check_written_key(wrong_layer, key, model.dense2.bias).message


def test_step_reader_is_run_on_checkpoints_it_never_saw():
    from ckptkit.exercises import check_step_reader

    key = "step/.ATTRIBUTES/VARIABLE_VALUE"
    assert check_step_reader(lambda path: tf.train.load_variable(path, key))
    assert check_step_reader(lambda path: ckptkit.open_checkpoint(path).get(key))
    assert "returned None" in check_step_reader(lambda path: None).message
    assert "whose step is 7" in check_step_reader(lambda path: 10).message  # the number printed above
    assert "raised" in check_step_reader(lambda path: tf.train.load_variable(path, "step")).message


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


def test_async_options_answer_when_the_save_fails(monkeypatch):
    from ckptkit.exercises import check_async_options

    def failing_save(self, file_prefix, options=None):
        raise tf.errors.UnknownError(None, None, "disk full\nmore detail")

    monkeypatch.setattr(tf.train.Checkpoint, "save", failing_save)
    answer = check_async_options(tf.train.CheckpointOptions(enable_async=True))
    assert not answer and answer.message == "a save with these options failed: disk full"


def test_async_options_and_save_interval():
    from ckptkit.exercises import check_async_options, check_save_interval

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


def test_branches_of_the_playground():
    from ckptkit.exercises import check_branches
    from ckptkit.history import History

    h = History()
    h.record(1, 1.0)
    h.mark_save("ckpt-1", 1)
    h.record(2, 0.5)
    h.mark_restore("ckpt-1", 1)
    h.record(2, 0.6)
    h.mark_restore("ckpt-1", 1)  # notebook 08's starting answer: a third branch, not trained yet
    untrained = check_branches(h)
    assert not untrained and "2 branch(es) with training so far, 1 without" in untrained.message
    assert "restore_button" not in untrained.message  # a hint, not the solution
    assert "pass the lab's history" in check_branches(None).message
    assert "pass the lab's history" in check_branches(h.runs["run 1"]).message  # one run, not the history
    h.record(2, 0.7)
    assert check_branches(h)
