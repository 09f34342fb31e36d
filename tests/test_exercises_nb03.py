"""The exercise checks of notebook 03: reference solutions pass; cheats and wrong answers get a hint."""

import ckptkit
from ckptkit.exercises.nb03 import check_backbone, check_fine_tune_head, check_stage_latest
from ckptkit.runs.models import FinetuneModel, regression_data

import glob
import os

import tensorflow as tf

from helpers import spells_out

# Calls the reference solutions make: no ❌ may hand them over.
SOLUTION_CALLS = (
    "glob(",
    "latest_checkpoint(",
    "Checkpoint(",
    ".restore(",
    "expect_partial",
    "trainable = False",
    "Adam(",
    "fit(",
    "model(",
)
SAMPLE = regression_data()[0][:1]  # the notebook's x_ft[:1]: 32 features
KEY = "model/dense1/{}/.ATTRIBUTES/VARIABLE_VALUE"


def _wrong(feedback) -> str:
    """A ❌'s message, checked for leaks on the way."""
    assert not feedback and repr(feedback).startswith("❌"), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message
    return feedback.message


# The reference solutions, kept here and never in the notebook.
def stage_latest(folder, stage):
    prefixes = [
        p.removesuffix(".index") for p in glob.glob(os.path.join(folder, f"{stage}-checkpoint-*.index"))
    ]
    return max(prefixes, key=lambda p: int(p.rsplit("-", 1)[1]))


def load_backbone(model, path):
    model(SAMPLE)
    tf.train.Checkpoint(model=model).restore(path).expect_partial()


def fine_tune_head(model, x, y, steps):
    model.dense1.trainable = False
    return ckptkit.fit(model, None, tf.keras.optimizers.Adam(learning_rate=0.01), x, y, steps)


def test_stage_latest_right_answers():
    def by_number(folder, stage):
        names = [
            n for n in os.listdir(folder) if n.startswith(f"{stage}-checkpoint-") and n.endswith(".index")
        ]
        return folder / max((n.removesuffix(".index") for n in names), key=lambda n: int(n.rsplit("-", 1)[1]))

    def as_path(folder, stage):  # a Path, as the exercise allows
        found = folder.glob(f"{stage}-checkpoint-*.index")
        return max((p.with_suffix("") for p in found), key=lambda p: int(p.name.rsplit("-", 1)[1]))

    for answer in (stage_latest, by_number, as_path):
        feedback = check_stage_latest(answer)
        assert feedback and "3 stages" in feedback.message, feedback


def test_stage_latest_wrong_answers_and_cheats():
    def as_text(folder, stage):  # "-9" sorts after "-12"
        return max(
            p.removesuffix(".index") for p in glob.glob(os.path.join(folder, f"{stage}-checkpoint-*.index"))
        )

    def substring(folder, stage):  # "tune" is in "finetune" too
        names = [p.removesuffix(".index") for p in glob.glob(os.path.join(folder, "*.index")) if stage in p]
        return max(names, key=lambda p: int(p.rsplit("-", 1)[1]))

    def index_file(folder, stage):
        return stage_latest(folder, stage) + ".index"

    assert "by another stage" in _wrong(
        check_stage_latest(lambda folder, stage: tf.train.latest_checkpoint(folder))
    )
    assert "not its newest" in _wrong(check_stage_latest(as_text))
    assert "by another stage" in _wrong(check_stage_latest(substring))  # finetune's newest, saved last
    assert "not its prefix" in _wrong(check_stage_latest(index_file))
    assert "not a checkpoint path" in _wrong(check_stage_latest(lambda folder, stage: 3))


def test_stage_latest_placeholder_and_errors():
    def placeholder(folder, stage): ...

    assert "still the placeholder" in _wrong(check_stage_latest(placeholder))
    assert "raised IndexError" in _wrong(check_stage_latest(lambda folder, stage: [][0]))
    assert "must be a function" in _wrong(check_stage_latest("pretrain-checkpoint-3"))


def test_backbone_right_answers():
    def stand_in(model, path):  # a checkpoint that reaches only dense1, its status asserted
        model(SAMPLE)
        status = tf.train.Checkpoint(model=tf.train.Checkpoint(dense1=model.dense1)).restore(path)
        status.assert_existing_objects_matched().expect_partial()

    def read_then_partial(model, path):
        model(SAMPLE)
        tf.train.Checkpoint(model=model).read(path).expect_partial()

    for answer in (load_backbone, stand_in, read_then_partial):
        feedback = check_backbone(answer)
        assert feedback and "widths 8 and 24" in feedback.message, feedback


def test_backbone_cheats_fail():
    def load_variable(model, path):
        model(SAMPLE)
        model.dense1.kernel.assign(tf.train.load_variable(path, KEY.format("_kernel")))
        model.dense1.bias.assign(tf.train.load_variable(path, KEY.format("bias")))

    def snapshot(model, path):  # ckptkit's reader, assigned by hand
        model(SAMPLE)
        stored = ckptkit.snapshot(path)
        model.dense1.kernel.assign(stored["model/dense1/_kernel"])
        model.dense1.bias.assign(stored["model/dense1/bias"])

    def helper(model, path):  # ckptkit's checked restore, which assigns the values itself
        model(SAMPLE)
        ckptkit.restore_checked(tf.train.Checkpoint(model=tf.train.Checkpoint(dense1=model.dense1)), path)

    for cheat in (load_variable, snapshot, helper):
        assert "did not arrive through a checkpoint restore" in _wrong(check_backbone(cheat))


def test_backbone_wrong_answers():
    def restore_then_build(model, path):
        tf.train.Checkpoint(model=model).restore(path).expect_partial()
        model(SAMPLE)

    def no_status(model, path):
        model(SAMPLE)
        tf.train.Checkpoint(model=model).restore(path)

    def wrong_name(model, path):  # a stand-in named otherwise reaches nothing
        model(SAMPLE)
        tf.train.Checkpoint(backbone=model.dense1).restore(path).expect_partial()

    assert "stray copy" in _wrong(check_backbone(restore_then_build))
    assert "warnings" in _wrong(check_backbone(no_status))
    assert "differs from the checkpoint" in _wrong(check_backbone(wrong_name))

    def build_call(model, path):  # Keras 3: build() of a subclassed model without one creates nothing
        model.build((None, 32))
        tf.train.Checkpoint(model=model).read(path).expect_partial()

    assert "still unbuilt" in _wrong(
        check_backbone(lambda model, path: tf.train.Checkpoint(m=model).read(path))
    )
    assert "still unbuilt" in _wrong(check_backbone(build_call))


def test_backbone_placeholder_and_errors():
    def placeholder(model, path): ...

    assert "still the placeholder" in _wrong(check_backbone(placeholder))
    assert "raised ValueError" in _wrong(check_backbone(lambda model, path: int("dense1")))
    assert "must be a function" in _wrong(check_backbone(None))


def test_fine_tune_head_right_answers():
    def explicit_variables(model, x, y, steps):
        model.dense1.trainable = False
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
        return ckptkit.fit(model, model.trainable_variables, optimizer, x, y, steps)

    def built_over_all_first(model, x, y, steps):  # the optimizer saw dense1 too, but never updates it
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
        optimizer.build(model.trainable_variables)
        model.dense1.trainable = False
        return [float(loss) for loss in ckptkit.fit(model, None, optimizer, x, y, steps)]

    def own_tape(model, x, y, steps):  # written from the spec: Keras' loss, a tape of its own
        model.dense1.trainable = False
        optimizer, loss_fn, losses = tf.keras.optimizers.Adam(learning_rate=0.01), tf.keras.losses.MSE, []
        for _ in range(steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(loss_fn(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            losses.append(float(loss))
        return losses

    for answer in (fine_tune_head, explicit_variables, built_over_all_first, own_tape):
        feedback = check_fine_tune_head(answer)
        assert feedback and "4 steps" in feedback.message, feedback


def test_fine_tune_head_cheats_and_wrong_answers():
    def unfrozen(model, x, y, steps):
        return ckptkit.fit(model, None, tf.keras.optimizers.Adam(learning_rate=0.01), x, y, steps)

    def zeroed(model, x, y, steps):  # ReLU's gradient at 0 is 0: dense1 stops moving without being frozen
        for v in model.dense1.variables:
            v.assign(tf.zeros_like(v))
        return unfrozen(model, x, y, steps)

    def whole_model(model, x, y, steps):
        model.trainable = False
        return [0.0] * steps

    def slow(model, x, y, steps):
        model.dense1.trainable = False
        return ckptkit.fit(model, None, tf.keras.optimizers.Adam(learning_rate=0.001), x, y, steps)

    def reused(model, x, y, steps):  # an optimizer built for another model's variables
        other = tf.keras.optimizers.Adam(learning_rate=0.01)
        other.build([tf.Variable(tf.zeros([2]))])
        model.dense1.trainable = False
        return ckptkit.fit(model, None, other, x, y, steps)

    notebook_model = FinetuneModel()
    notebook_model(SAMPLE)

    def copied_cell(model, x, y, steps):  # the notebook's line, freezing the notebook's own model
        notebook_model.dense1.trainable = False
        return unfrozen(model, x, y, steps)

    assert "still among the model's trainable variables" in _wrong(check_fine_tune_head(copied_cell))
    assert "still among the model's trainable variables" in _wrong(check_fine_tune_head(unfrozen))
    assert "still among the model's trainable variables" in _wrong(check_fine_tune_head(zeroed))
    assert "no variable moved" in _wrong(check_fine_tune_head(whole_model))
    assert "differ from a head-only run" in _wrong(check_fine_tune_head(slow))
    assert "built for other variables" in check_fine_tune_head(reused).message
    assert "not the list" in _wrong(check_fine_tune_head(lambda m, x, y, s: fine_tune_head(m, x, y, s)[0]))


def test_fine_tune_head_placeholder_and_errors():
    def placeholder(model, x, y, steps): ...

    assert "still the placeholder" in _wrong(check_fine_tune_head(placeholder))
    assert "raised TypeError" in _wrong(check_fine_tune_head(lambda model, x, y: model))
    assert "must be a function" in _wrong(check_fine_tune_head(None))
