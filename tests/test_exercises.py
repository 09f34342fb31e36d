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


def test_matches_checkpoint_and_branches(tmp_path):
    from ckptkit.exercises import check_branches, check_matches_checkpoint
    from ckptkit.history import History

    w = tf.Variable([1.0, 2.0])
    path = tf.train.Checkpoint(w=w).save(str(tmp_path / "c"))
    assert check_matches_checkpoint({"w": w}, path)
    assert "yours is [0, 0]" in check_matches_checkpoint({"w": tf.Variable([0.0, 0.0])}, path).message
    assert "has no key 'v'" in check_matches_checkpoint({"v": w}, path).message
    h = History()
    h.record(1, 1.0)
    assert not check_branches(h, wanted=2)
    h.mark_save("c", 1)
    h.mark_restore("c", 1)
    h.record(2, 0.5)
    assert check_branches(h, wanted=2)


def test_resumable_and_seed_states():
    from ckptkit.exercises import check_resumable, check_seed_states
    from ckptkit.models import DropoutModel, regression_data

    model, opt = DropoutModel(), tf.keras.optimizers.Adam(0.01)
    model(regression_data()[0][:1])
    it = iter(tf.data.Dataset.range(5))
    gen = tf.random.Generator.from_seed(0)
    step = tf.Variable(0)
    partial = tf.train.Checkpoint(model=model, optimizer=opt, step=step)
    assert "iterator is not tracked" in check_resumable(partial, opt, it, gen).message
    no_step = tf.train.Checkpoint(model=model, optimizer=opt, iterator=it, generator=gen)
    assert "no step counter" in check_resumable(no_step, opt, it, gen).message
    full = tf.train.Checkpoint(model=model, optimizer=opt, step=step, iterator=it, generator=gen)
    assert check_resumable(full, opt, it, gen)
    seeds = [v for v in model.variables if "seed_generator_state" in v.path]
    assert len(seeds) == 1 and check_seed_states(seeds, model)
    assert "saved with the model already" in check_seed_states(model.trainable_variables, model).message
    assert "look in model.variables" in check_seed_states([], model).message


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
