"""The exercise checks of notebook 03: reference solutions pass; cheats and wrong answers get a hint."""

import ckptkit
from ckptkit.exercises.nb03 import check_backbone, check_fine_tune_head, check_stage_latest
from ckptkit.runs.models import FinetuneModel, regression_data

import glob
import os
from pathlib import Path

import tensorflow as tf

from helpers import missing_sections, spells_out

# Calls the reference solutions make: no ❌ may hand them over.
SOLUTION_CALLS = (
    "glob(",
    "list_variables",
    "GradientTape",
    "assert_existing_objects_matched",
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
KEY = "model/{}/{}/.ATTRIBUTES/VARIABLE_VALUE"
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_pretrain_finetune.ipynb"


def _wrong(feedback) -> str:
    """A ❌'s message, checked for leaks on the way."""
    assert not feedback and repr(feedback).startswith("❌"), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message
    if "(section " in feedback.message:  # a section it points to is a heading of the notebook
        assert not missing_sections(NOTEBOOK, feedback.message[feedback.message.rindex("(section ") :])
    return feedback.message


# The reference solutions, kept here and never in the notebook.
def stage_latest(folder, stage):
    prefixes = [
        p.removesuffix(".index") for p in glob.glob(os.path.join(folder, f"{stage}-checkpoint-*.index"))
    ]
    return max(prefixes, key=lambda p: int(p.rsplit("-", 1)[1]))


def backbone_name(model, path):
    """The name of the file's layer whose kernel maps the 32 inputs to the model's width, or KeyError."""
    width = model.dense1.units
    for key, shape in tf.train.list_variables(path):
        if key.startswith("model/") and key.split("/")[2] == "_kernel" and shape == [32, width]:
            return key.split("/")[1]
    raise KeyError(f"no backbone of width {width} in {path}")


def load_backbone(model, path):
    name = backbone_name(model, path)
    model(SAMPLE)
    status = tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).restore(path)
    status.expect_partial().assert_existing_objects_matched()
    return name


def head_loop(model, optimizer, x, y, steps):
    """A loop of the learner's own: the loss under a tape, its gradient over the trainable variables."""
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        losses.append(float(loss))
    return losses


def fine_tune_head(model, x, y, steps):
    model.dense1.trainable = False
    return head_loop(model, tf.keras.optimizers.Adam(learning_rate=0.01), x, y, steps)


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
        assert feedback and "6 stages" in feedback.message, feedback


def test_stage_latest_wrong_answers_and_cheats():
    def as_text(folder, stage):  # "-9" sorts after "-12"
        return max(
            p.removesuffix(".index") for p in glob.glob(os.path.join(folder, f"{stage}-checkpoint-*.index"))
        )

    def substring(folder, stage):  # "tune" is in "finetune" too
        names = [p.removesuffix(".index") for p in glob.glob(os.path.join(folder, "*.index")) if stage in p]
        return max(names, key=lambda p: int(p.rsplit("-", 1)[1]))

    def prefix(folder, stage):  # "pre" starts "pretrain" too
        names = [p.removesuffix(".index") for p in glob.glob(os.path.join(folder, f"{stage}*.index"))]
        return max(names, key=lambda p: int(p.rsplit("-", 1)[1]))

    def count_of_files(folder, stage):  # N of the newest = how many are left: not after a deletion
        n = len(glob.glob(os.path.join(folder, f"{stage}-checkpoint-*.index")))
        return os.path.join(folder, f"{stage}-checkpoint-{n}")

    def index_file(folder, stage):
        return stage_latest(folder, stage) + ".index"

    assert "by another stage" in _wrong(
        check_stage_latest(lambda folder, stage: tf.train.latest_checkpoint(folder))
    )
    assert "not its newest, the one with the largest N as a number" in _wrong(check_stage_latest(as_text))
    assert "not a checkpoint of 'pre'" in _wrong(check_stage_latest(prefix))
    assert "by another stage" in _wrong(check_stage_latest(substring))  # finetune's newest, saved last
    assert "not its prefix" in _wrong(check_stage_latest(index_file))
    assert "the first 3 deleted" in _wrong(check_stage_latest(count_of_files))
    assert "not a checkpoint path" in _wrong(check_stage_latest(lambda folder, stage: 3))


def test_stage_latest_placeholder_and_errors():
    def placeholder(folder, stage): ...

    assert "still the placeholder" in _wrong(check_stage_latest(placeholder))
    assert "raised IndexError" in _wrong(check_stage_latest(lambda folder, stage: [][0]))
    assert "must be a function" in _wrong(check_stage_latest("pretrain-checkpoint-3"))


def _restore_under(model, path, name):
    """Build the model, restore `model/<name>/` into its dense1, handle the status; return `name`."""
    model(SAMPLE)
    tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).restore(path).expect_partial()
    return name


def test_backbone_right_answers():
    def assert_first(model, path):  # the status asserted, then told the rest stays out on purpose
        name = backbone_name(model, path)
        model(SAMPLE)
        status = tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).restore(path)
        status.assert_existing_objects_matched().expect_partial()
        return name

    def read_by_shape(model, path):  # read(); kernels keyed by shape, so a missing one is a KeyError
        kernels = {tuple(s): k.split("/")[1] for k, s in tf.train.list_variables(path) if "/_kernel/" in k}
        name = kernels[(32, model.dense1.units)]
        model(SAMPLE)
        status = tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).read(path)
        status.expect_partial().assert_existing_objects_matched()
        return name

    def by_reader(model, path):  # TensorFlow's reader's shape map
        shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
        names = [
            k.split("/")[1]
            for k, s in shapes.items()
            if k.startswith("model/") and s == [32, model.dense1.units]
        ]
        if not names:
            raise LookupError("no backbone of this width")
        return _restore_under(model, path, names[0])

    for answer in (load_backbone, assert_first, read_by_shape, by_reader):
        feedback = check_backbone(answer)
        assert feedback and "widths 8 and 24" in feedback.message, feedback


def test_backbone_cheats_fail():
    def load_variable(model, path):
        name = backbone_name(model, path)
        model(SAMPLE)
        model.dense1.kernel.assign(tf.train.load_variable(path, KEY.format(name, "_kernel")))
        model.dense1.bias.assign(tf.train.load_variable(path, KEY.format(name, "bias")))
        return name

    def snapshot(model, path):  # ckptkit's reader, assigned by hand
        name = backbone_name(model, path)
        model(SAMPLE)
        stored = ckptkit.snapshot(path)
        model.dense1.kernel.assign(stored[f"model/{name}/_kernel"])
        model.dense1.bias.assign(stored[f"model/{name}/bias"])
        return name

    def helper(model, path):  # ckptkit's checked restore, which assigns the values itself
        name = backbone_name(model, path)
        model(SAMPLE)
        ckptkit.restore_checked(tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})), path)
        return name

    for cheat in (load_variable, snapshot, helper):
        assert "did not arrive through a checkpoint restore" in _wrong(check_backbone(cheat))

    def guessed(model, path):  # the notebook's names, tried in turn: the check draws others
        for name in ("backbone", "dense1"):
            model(SAMPLE)
            status = tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).restore(path)
            try:
                status.expect_partial().assert_existing_objects_matched()
            except AssertionError:
                continue
            return name
        raise KeyError("no backbone under a known name")

    assert "raised KeyError" in _wrong(check_backbone(guessed))


def test_backbone_wrong_answers():
    def copied_cell(model, path):  # the notebook's whole-model restore: names must match
        model(SAMPLE)
        tf.train.Checkpoint(model=model).restore(path).expect_partial()
        return "dense1"

    def restore_then_build(model, path):
        name = backbone_name(model, path)
        tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).restore(path).expect_partial()
        model(SAMPLE)
        return name

    def no_status(model, path):
        name = backbone_name(model, path)
        model(SAMPLE)
        tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).restore(path)
        return name

    kept = []

    def status_kept(model, path):  # the same, its status kept where the check's collection never reaches
        name = backbone_name(model, path)
        model(SAMPLE)
        kept.append(tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).restore(path))
        return name

    def silent(model, path):  # no backbone found: returns quietly, dense1 still random
        try:
            name = backbone_name(model, path)
        except KeyError:
            model(SAMPLE)
            return None
        return _restore_under(model, path, name)

    def no_name(model, path):
        _restore_under(model, path, backbone_name(model, path))

    def first_sorted(model, path):  # the file's first layer: right only when the backbone's name sorts first
        name = next(key.split("/")[1] for key, _ in tf.train.list_variables(path) if key.startswith("model/"))
        return _restore_under(model, path, name)

    def last_sorted(model, path):  # the file's last layer: right only when the backbone's name sorts last
        name = [key.split("/")[1] for key, _ in tf.train.list_variables(path) if key.startswith("model/")][-1]
        return _restore_under(model, path, name)

    assert "differs from the file's backbone" in _wrong(check_backbone(copied_cell))
    assert "stray copy" in _wrong(check_backbone(restore_then_build))
    assert "warnings" in _wrong(check_backbone(no_status))
    assert "warnings" in _wrong(check_backbone(status_kept))
    assert "returned without an error" in _wrong(check_backbone(silent))

    def first_dim_only(model, path):  # ignores the width: TensorFlow's own shape check raises ValueError
        shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
        name = next(k.split("/")[1] for k, s in shapes.items() if k.startswith("model/") and s[0] == 32)
        return _restore_under(model, path, name)

    def caught(model, path):  # the same, TensorFlow's ValueError turned into a LookupError
        try:
            return first_dim_only(model, path)
        except ValueError as err:
            raise LookupError("no backbone") from err

    def stop_iteration(model, path):  # next() with no default: a StopIteration, not a LookupError
        name = next(
            k.split("/")[1] for k, s in tf.train.list_variables(path) if s == [32, model.dense1.units]
        )
        return _restore_under(model, path, name)

    assert "raised ValueError, not a LookupError" in _wrong(check_backbone(first_dim_only))
    assert "only after a restore" in _wrong(check_backbone(caught))
    assert "raised StopIteration, not a LookupError" in _wrong(check_backbone(stop_iteration))
    assert "not the name" in _wrong(check_backbone(no_name))
    for by_order in (first_sorted, last_sorted):  # each run has a file where the order misleads
        assert "a stored layer of another shape into dense1" in _wrong(check_backbone(by_order))

    def build_call(model, path):  # Keras 3: build() of a subclassed model without one creates nothing
        model.build((None, 32))
        name = backbone_name(model, path)
        tf.train.Checkpoint(model=tf.train.Checkpoint(**{name: model.dense1})).read(path).expect_partial()
        return name

    assert "still unbuilt" in _wrong(
        check_backbone(lambda model, path: tf.train.Checkpoint(m=model).read(path))
    )
    assert "still unbuilt" in _wrong(check_backbone(build_call))


def test_backbone_placeholder_and_errors():
    def placeholder(model, path): ...

    assert "still the placeholder" in _wrong(check_backbone(placeholder))
    assert "raised ValueError" in _wrong(check_backbone(lambda model, path: int("dense1")))
    assert "raised TypeError" in _wrong(check_backbone(lambda model, path, name: model))  # a third argument
    assert "must be a function" in _wrong(check_backbone(None))


def test_fine_tune_head_right_answers():
    def explicit_variables(model, x, y, steps):  # the head's four variables, named one by one
        model.dense1.trainable = False
        optimizer, head = tf.keras.optimizers.Adam(learning_rate=0.01), model.trainable_variables
        losses = []
        for _ in range(steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))
            optimizer.apply_gradients(zip(tape.gradient(loss, head), head, strict=True))
            losses.append(float(loss))
        return losses

    def built_over_all_first(model, x, y, steps):  # the optimizer saw dense1 too, but never updates it
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
        optimizer.build(model.trainable_variables)
        model.dense1.trainable = False
        return head_loop(model, optimizer, x, y, steps)

    def keras_loss(model, x, y, steps):  # written from the spec: Keras' loss function
        model.dense1.trainable = False
        optimizer, loss_fn, losses = tf.keras.optimizers.Adam(learning_rate=0.01), tf.keras.losses.MSE, []
        for _ in range(steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(loss_fn(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            losses.append(loss)  # tensors: the check takes float() of each
        return losses

    for answer in (fine_tune_head, explicit_variables, built_over_all_first, keras_loss):
        feedback = check_fine_tune_head(answer)
        assert feedback and "4 steps" in feedback.message, feedback


def test_fine_tune_head_refuses_ckptkit_helpers():
    def copied_cells(model, x, y, steps):  # the notebook's freeze and ckptkit.fit, as in its cells
        model.dense1.trainable = False
        return ckptkit.fit(model, None, tf.keras.optimizers.Adam(learning_rate=0.01), x, y, steps)

    def one_step_at_a_time(model, x, y, steps):
        model.dense1.trainable = False
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
        return [ckptkit.train_step(model, None, optimizer, x, y) for _ in range(steps)]

    def kit_loss(model, x, y, steps):
        model.dense1.trainable = False
        optimizer, losses = tf.keras.optimizers.Adam(learning_rate=0.01), []
        for _ in range(steps):
            with tf.GradientTape() as tape:
                loss = ckptkit.mse(model(x), y)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            losses.append(float(loss))
        return losses

    def keras_fit(model, x, y, steps):  # the right losses, from Keras' loop, not one of the learner's own
        model.dense1.trainable = False
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.01), loss="mse")
        return model.fit(x, y, batch_size=len(x), epochs=steps, shuffle=False, verbose=0).history["loss"]

    def keras_batches(model, x, y, steps):
        model.dense1.trainable = False
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.01), loss="mse")
        return [float(model.train_on_batch(x, y)) for _ in range(steps)]

    assert "called Keras' TensorFlowTrainer.fit" in _wrong(check_fine_tune_head(keras_fit))
    assert "called Keras' TensorFlowTrainer.train_on_batch" in _wrong(check_fine_tune_head(keras_batches))
    assert "called ckptkit's fit" in _wrong(check_fine_tune_head(copied_cells))
    assert "called ckptkit's train_step" in _wrong(check_fine_tune_head(one_step_at_a_time))
    assert "called ckptkit's mse" in _wrong(check_fine_tune_head(kit_loss))


def test_fine_tune_head_wrong_answers():
    def unfrozen(model, x, y, steps):
        return head_loop(model, tf.keras.optimizers.Adam(learning_rate=0.01), x, y, steps)

    def zeroed(model, x, y, steps):  # ReLU's gradient at 0 is 0: dense1 stops moving without being frozen
        for v in model.dense1.variables:
            v.assign(tf.zeros_like(v))
        return unfrozen(model, x, y, steps)

    def thawed(model, x, y, steps):  # frozen for training, unfrozen again before returning
        losses = fine_tune_head(model, x, y, steps)
        model.dense1.trainable = True
        return losses

    def whole_model(model, x, y, steps):
        model.trainable = False
        return [0.0] * steps

    def slow(model, x, y, steps):
        model.dense1.trainable = False
        return head_loop(model, tf.keras.optimizers.Adam(learning_rate=0.001), x, y, steps)

    def reused(model, x, y, steps):  # an optimizer built for another model's variables
        other = tf.keras.optimizers.Adam(learning_rate=0.01)
        other.build([tf.Variable(tf.zeros([2]))])
        model.dense1.trainable = False
        return head_loop(model, other, x, y, steps)

    notebook_model = FinetuneModel()
    notebook_model(SAMPLE)

    def copied_freeze(model, x, y, steps):  # the notebook's line, freezing the notebook's own model
        notebook_model.dense1.trainable = False
        return unfrozen(model, x, y, steps)

    for answer in (copied_freeze, unfrozen, zeroed, thawed):
        assert "still among the model's trainable variables" in _wrong(check_fine_tune_head(answer))
    assert "no variable moved" in _wrong(check_fine_tune_head(whole_model))
    assert "differ from a head-only run" in _wrong(check_fine_tune_head(slow))
    assert "built for other variables" in _wrong(check_fine_tune_head(reused))
    assert "not the list" in _wrong(check_fine_tune_head(lambda m, x, y, s: fine_tune_head(m, x, y, s)[0]))


def test_fine_tune_head_placeholder_and_errors():
    def placeholder(model, x, y, steps): ...

    assert "still the placeholder" in _wrong(check_fine_tune_head(placeholder))
    assert "raised TypeError" in _wrong(check_fine_tune_head(lambda model, x, y: model))
    assert "must be a function" in _wrong(check_fine_tune_head(None))
