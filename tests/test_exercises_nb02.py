"""The exercise checks of notebook 02: reference solutions pass; cheats and wrong answers get a hint."""

import ckptkit
from ckptkit.exercises.nb02 import check_resume, check_velocity_key
from ckptkit.runs.models import MyModel, regression_data

import re
from pathlib import Path

import tensorflow as tf
from keras.optimizers.schedules import LearningRateSchedule

from helpers import missing_sections, spells_out

# Calls the reference solutions make: no ❌ may hand them over.
SOLUTION_CALLS = (
    "enumerate(",
    '_velocity")',
    "_velocities",
    "2 * i",
    "+ 1",
    "MyModel(",
    ".build(",
    "model(",
    "Checkpoint(",
    ".restore(",
    "list_variables",
    "expect_partial",
)
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_keras_model.ipynb"
SAMPLE = regression_data()[0][:1]  # the notebook's inputs[:1]: 32 features


def _wrong(feedback) -> str:
    """A ❌'s message, checked for leaks on the way."""
    assert not feedback and repr(feedback).startswith("❌"), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message
    return feedback.message


# The reference solutions, kept here and never in the notebook.
def velocity_key(optimizer, i):
    velocities = [n for n, v in enumerate(optimizer.variables) if v.name.endswith("_velocity")]
    return f"optimizer/_variables/{velocities[i]}"


def _by_rule(schedules: bool):
    """The offset rule of the notebook's table, with or without its schedule case."""

    def answer(optimizer, i):
        n = len(optimizer._trainable_variables)
        first = 2 + n * bool(optimizer.use_ema) + n * bool(optimizer.gradient_accumulation_steps)
        if schedules and isinstance(optimizer._learning_rate, LearningRateSchedule):
            first -= 1
        return f"optimizer/_variables/{first + 2 * i + 1}"

    return answer


def _width(path):
    return dict(tf.train.list_variables(path))["model/dense1/bias/.ATTRIBUTES/VARIABLE_VALUE"][0]


def resume(path):
    model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam()
    model(SAMPLE)
    optimizer.build(model.trainable_variables)
    tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
    return model, optimizer


def test_velocity_key_right_answers():
    def by_identity(optimizer, i):
        n = next(n for n, v in enumerate(optimizer.variables) if v is optimizer._velocities[i])
        return f"optimizer/_variables/{n}/.ATTRIBUTES/VARIABLE_VALUE"

    def after_first_momentum(optimizer, i):  # the notebook's table: where the moments start
        first = next(n for n, v in enumerate(optimizer.variables) if v.name.endswith("_momentum"))
        return f"optimizer/_variables/{first + 2 * i + 1}"

    for answer in (velocity_key, by_identity, after_first_momentum, _by_rule(schedules=True)):
        feedback = check_velocity_key(answer)
        assert feedback and "5 Adams" in feedback.message, feedback


def test_velocity_key_notebook_example():
    model = MyModel()
    model(SAMPLE)
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.01)
    optimizer.build(model.trainable_variables)
    assert velocity_key(optimizer, 0) == "optimizer/_variables/3"  # the exercise's worked example


def test_velocity_key_wrong_answers_and_cheats():
    old_rule = _wrong(check_velocity_key(lambda optimizer, i: f"optimizer/_variables/{2 * i + 3}"))
    assert "use_ema=True" in old_rule and "another value" in old_rule  # the float-rate rule only
    no_schedule = _wrong(check_velocity_key(_by_rule(schedules=False)))
    assert "a learning-rate schedule" in no_schedule and "another value" in no_schedule
    assert not missing_sections(NOTEBOOK, no_schedule[no_schedule.index("(section") :])
    momentum = _wrong(check_velocity_key(lambda optimizer, i: f"optimizer/_variables/{2 * i + 2}"))
    assert "first moment" in momentum and "a float learning rate" in momentum
    assert "no key" in _wrong(check_velocity_key(lambda optimizer, i: f"optimizer/_variables/{2 * i + 1}"))
    # the keys read off the notebook's table: MyModel's 4 variables only
    table = [3, 5, 7, 9]
    copied = check_velocity_key(lambda optimizer, i: f"optimizer/_variables/{table[i]}")
    assert not copied and "raised IndexError" in copied.message
    assert "no key" in _wrong(check_velocity_key(lambda optimizer, i: "model/dense1/_kernel"))


def test_velocity_key_trying_every_offset_finds_none():
    passed = [
        c
        for c in range(14)
        if check_velocity_key(lambda optimizer, i, c=c: f"optimizer/_variables/{2 * i + c}")
    ]
    assert passed == []


def test_velocity_key_placeholder_and_bad_input():
    def placeholder(optimizer, i): ...

    assert "still the placeholder" in _wrong(check_velocity_key(placeholder))
    assert "raised ZeroDivisionError" in _wrong(check_velocity_key(lambda optimizer, i: 1 / 0))
    assert "must be a function" in _wrong(check_velocity_key("optimizer/_variables/3"))
    assert "no key" in _wrong(check_velocity_key(lambda optimizer, i: 2 * i + 3))  # a number, not a key
    one_argument = _wrong(check_velocity_key(lambda i: f"optimizer/_variables/{2 * i + 3}"))
    assert "raised TypeError" in one_argument


def test_resume_right_answers():
    def with_step_and_assert(path):
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam(learning_rate=0.01)
        model(SAMPLE)
        optimizer.build(model.trainable_variables)
        ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(0))
        ckpt.restore(path).assert_consumed()
        return model, optimizer

    def optimizer_built_later(path):  # deferred: Adam's slots are filled when its first step builds them
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam()
        model(SAMPLE)
        tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        return model, optimizer

    for answer in (resume, with_step_and_assert, optimizer_built_later):
        feedback = check_resume(answer)
        assert feedback and re.search(r"widths \d+ and \d+, drawn", feedback.message), feedback


def test_resume_cheats_fail(tmp_path):
    ready = {width: MyModel(width) for width in range(6, 31)}  # every width the check may draw
    for model in ready.values():
        model(SAMPLE)

    def aliasing(path):  # hand back objects that existed before, restored in place
        optimizer, model = tf.keras.optimizers.Adam(), ready[_width(path)]
        tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        return model, optimizer

    def load_variable(path):
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam()
        model(SAMPLE)
        for layer in ("dense1", "dense2"):
            for name, var in (
                ("_kernel", getattr(model, layer).kernel),
                ("bias", getattr(model, layer).bias),
            ):
                var.assign(tf.train.load_variable(path, f"model/{layer}/{name}/.ATTRIBUTES/VARIABLE_VALUE"))
        return model, optimizer

    def helper(path):  # ckptkit's checked restore assigns the values itself, with no checkpoint restore
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam()
        model(SAMPLE)
        optimizer.build(model.trainable_variables)
        ckptkit.restore_checked(
            tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(0)), path
        )
        return model, optimizer

    def helper_unbuilt(path):
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam()
        ckptkit.restore_checked(tf.train.Checkpoint(model=model, optimizer=optimizer), path)
        return model, optimizer

    def width_from_file_name(path):  # the check's file names say nothing of the width: this raises
        model, optimizer = MyModel(int(re.search(r"width(\d+)", path)[1])), tf.keras.optimizers.Adam()
        model(SAMPLE)
        optimizer.build(model.trainable_variables)
        tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        return model, optimizer

    assert "raised TypeError" in _wrong(check_resume(width_from_file_name))
    assert "did not arrive through a checkpoint restore" in _wrong(check_resume(helper))
    assert "raised UnbuiltModelError" in _wrong(check_resume(helper_unbuilt))
    assert "existed before" in _wrong(check_resume(aliasing))
    assert "did not arrive through a checkpoint restore" in _wrong(check_resume(load_variable))


def test_resume_wrong_answers():
    def notebook_width(path):  # MyModel() as in the notebook: the check's runs have other widths
        model, optimizer = MyModel(), tf.keras.optimizers.Adam()
        model(SAMPLE)
        optimizer.build(model.trainable_variables)
        tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        return model, optimizer

    def weights_only(path):
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam()
        model(SAMPLE)
        tf.train.Checkpoint(model=model).restore(path).expect_partial()
        return model, optimizer

    def unbuilt(path):
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam()
        tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        model(SAMPLE)
        return model, optimizer

    def never_built(path):
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam()
        tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        return model, optimizer

    def other_settings(path):  # every value restored, but Adam's epsilon is not in the file
        model, optimizer = MyModel(_width(path)), tf.keras.optimizers.Adam(epsilon=0.1)
        model(SAMPLE)
        optimizer.build(model.trainable_variables)
        tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        return model, optimizer

    assert re.search(
        r"the saved model has width \d+", check_resume(notebook_width).message
    )  # echoes TensorFlow's shape error

    calls = []

    def width_by_call_count(path):  # the widths the check used to ask for, in order, never read from the file
        calls.append(path)
        model, optimizer = MyModel((8, 24)[(len(calls) - 1) % 2]), tf.keras.optimizers.Adam()
        model(tf.zeros([1, 32]))
        optimizer.build(model.trainable_variables)
        tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()
        return model, optimizer

    assert not check_resume(width_by_call_count)
    assert "optimizer does not carry on" in _wrong(check_resume(weights_only))
    assert "stray copy" in _wrong(check_resume(unbuilt))
    assert "no weights yet" in _wrong(check_resume(never_built))
    assert "optimizer does not carry on" in _wrong(check_resume(other_settings))


def test_resume_placeholder_and_bad_returns():
    def placeholder(path): ...

    assert "still the placeholder" in _wrong(check_resume(placeholder))
    assert "pair (model, optimizer)" in _wrong(check_resume(lambda path: [0.5, 0.4]))
    assert "not a Keras optimizer" in _wrong(check_resume(lambda path: (MyModel(), "adam")))
    assert "must be a function" in _wrong(check_resume([0.5, 0.4]))
    assert "raised RuntimeError" in _wrong(
        check_resume(lambda path: (_ for _ in ()).throw(RuntimeError("x")))
    )
