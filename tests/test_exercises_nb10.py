"""Notebook 10's exercise checks: one right answer and several plausible wrong ones each."""

from __future__ import annotations

import ckptkit
from ckptkit.exercises.nb10 import check_migrated, check_savedmodel_restored
from ckptkit.live.migrate import keras2_to_keras3
from ckptkit.runs.models import MyModel, regression_data

from pathlib import Path

import pytest
import tensorflow as tf

LEGACY = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "keras2" / "legacy" / "ckpt"


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SavedModel of a trained `MyModel` (no value left at its initial one), by `tf.saved_model.save`."""
    inputs, targets = regression_data()
    model = MyModel()
    ckptkit.fit(model, None, tf.keras.optimizers.Adam(0.01), inputs, targets, 3)
    folder = tmp_path_factory.mktemp("life") / "saved_model"
    tf.saved_model.save(model, str(folder))
    return folder


def built_model() -> MyModel:
    model = MyModel()
    model(regression_data()[0][:1])
    return model


def test_savedmodel_read_with_the_model_as_root(saved_model: Path) -> None:
    model = built_model()
    tf.train.Checkpoint(model).read(str(saved_model / "variables" / "variables")).expect_partial()
    assert check_savedmodel_restored(model, saved_model)


def test_savedmodel_wrong_answers(saved_model: Path) -> None:
    variables = str(saved_model / "variables" / "variables")
    under_model = built_model()
    tf.train.Checkpoint(model=under_model).restore(variables).expect_partial()  # the silent no-op
    feedback = check_savedmodel_restored(under_model, saved_model)
    assert not feedback and "root" in feedback.message
    half = built_model()
    reader = tf.train.load_checkpoint(variables)
    half.dense1.kernel.assign(reader.get_tensor("dense1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"))
    feedback = check_savedmodel_restored(half, saved_model)
    assert not feedback and "only 1 of 4" in feedback.message
    assert not check_savedmodel_restored(MyModel(), saved_model)  # never built
    assert not check_savedmodel_restored(built_model(), saved_model.parent / "missing")


def built_pair(optimizer: object | None = None) -> tuple[MyModel, object]:
    model, optimizer = MyModel(hidden=4), optimizer or tf.keras.optimizers.Adam()
    model(tf.zeros([1, 3]))
    optimizer.build(model.trainable_variables)
    return model, optimizer


def test_migrated_right_answer() -> None:
    model, optimizer = built_pair()
    keras2_to_keras3(LEGACY, model, optimizer)
    assert check_migrated(model, optimizer, LEGACY)


def test_migrated_wrong_answers() -> None:
    untouched = built_pair()
    assert "differ" in check_migrated(*untouched, LEGACY).message
    weights_only = built_pair()
    keras2_to_keras3(LEGACY, weights_only[0])
    feedback = check_migrated(*weights_only, LEGACY)
    assert not feedback and "moments" in feedback.message
    assert not check_migrated(*built_pair(tf.keras.optimizers.SGD()), LEGACY)
    model = MyModel(hidden=4)
    model(tf.zeros([1, 3]))
    assert "optimizer.build" in check_migrated(model, tf.keras.optimizers.Adam(), LEGACY).message
    assert not check_migrated(*built_pair(), LEGACY.parent / "missing")
