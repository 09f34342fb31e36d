"""Notebook 10's exercise checks: reference solutions pass; cheats, wrong answers, placeholders fail."""

from __future__ import annotations

from ckptkit.exercises.nb10 import (
    SECTION_MIGRATE,
    SECTION_SAVEDMODEL,
    check_load_savedmodel,
    check_migrate_layered,
)
from ckptkit.files.reader import VALUE_SUFFIX
from ckptkit.live.migrate import keras2_to_keras3

import json
import os
import re
from pathlib import Path

import pytest
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

KERAS2 = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "keras2"
# Calls the reference solutions make: no ❌ may spell one of them out.
SOLUTION_CALLS = (
    "Checkpoint(",
    ".read(",
    "list(model.variables)",
    "_get_variable_index",
    ".assign(",
    "layers[",
)


def leaks(message: str) -> bool:
    return any(call in message for call in SOLUTION_CALLS)


# ---- exercise 1: any SavedModel's values into a built model


def load_savedmodel(model, folder):
    """The reference: model.export numbers the variables, tf.saved_model.save roots them at the model."""
    prefix = os.path.join(folder, "variables", "variables")
    numbered = any(k.startswith("_all_variables/") for k, _ in tf.train.list_variables(prefix))
    root = tf.train.Checkpoint(variables=list(model.variables)) if numbered else tf.train.Checkpoint(model)
    root.read(prefix).assert_existing_objects_matched().expect_partial()


def try_root_then_position(model, folder):
    """Another right answer: try the model as root; if nothing matched, the variables by position."""
    prefix = os.path.join(folder, "variables", "variables")
    status = tf.train.Checkpoint(model).read(prefix).expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError:
        status = tf.train.Checkpoint(variables=list(model.variables)).read(prefix).expect_partial()
        status.assert_existing_objects_matched()


def under_model(model, folder):  # the notebook's silent no-op
    tf.train.Checkpoint(model=model).restore(os.path.join(folder, "variables", "variables")).expect_partial()


def root_only(model, folder):
    tf.train.Checkpoint(model).read(os.path.join(folder, "variables", "variables")).expect_partial()


def position_only(model, folder):
    prefix = os.path.join(folder, "variables", "variables")
    tf.train.Checkpoint(variables=list(model.variables)).read(prefix).expect_partial()


def by_reader(model, folder):
    """The values assigned one by one from the reader: right values, but no checkpoint read."""
    reader = tf.train.load_checkpoint(os.path.join(folder, "variables", "variables"))
    keys = sorted(k for k in reader.get_variable_to_shape_map() if k.startswith("variables/"))
    if keys:
        for variable, key in zip(
            model.variables, sorted(keys, key=lambda k: int(k.split("/")[1])), strict=True
        ):
            variable.assign(reader.get_tensor(key))
    else:
        load_savedmodel(model, folder)  # the graph walk is the hard part; this cheat skips only the export
        for variable in model.variables:
            variable.assign(variable.numpy())


def status_dropped(model, folder):
    """Right values, but the status of a restore that left values unmatched is never handled."""
    prefix = os.path.join(folder, "variables", "variables")
    if any(k.startswith("_all_variables/") for k, _ in tf.train.list_variables(prefix)):
        tf.train.Checkpoint(variables=list(model.variables)).read(prefix).expect_partial()
    else:
        tf.train.Checkpoint(model).restore(prefix)


def placeholder(model, folder): ...


def not_implemented(model, folder):
    raise NotImplementedError


def raises(model, folder):
    tf.train.Checkpoint(model).read(os.path.join(folder, "variables", "variables")).assert_consumed()


def test_load_savedmodel_right_answers():
    for answer in (load_savedmodel, try_root_then_position):
        feedback = check_load_savedmodel(answer)
        assert feedback, (answer.__name__, feedback.message)
        assert "4 SavedModels" in feedback.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (under_model, "0 of 4 variables"),  # nothing matched, nothing raised
        (root_only, "model.export numbers the variables"),
        (position_only, "makes the model itself the root"),
        (by_reader, "no tf.train.Checkpoint read them"),
        (status_dropped, "left unhandled"),
        (placeholder, "still the placeholder"),
        (not_implemented, "still the placeholder"),
        (raises, "raised AssertionError"),
    ],
)
def test_load_savedmodel_wrong_answers(answer, words):
    feedback = check_load_savedmodel(answer)
    assert not feedback and words in feedback.message, feedback.message
    assert "\n" not in feedback.message and not leaks(feedback.message)


def test_load_savedmodel_refuses_a_non_function():
    assert "must be a function" in check_load_savedmodel(None).message


# ---- exercise 2: a Keras 2 Sequential or Functional checkpoint, by hand


def migrate_layered(path, model, optimizer):
    """The reference: weights by `layer_with_weights-N`, moments by their weight's full name."""
    reader = tf.train.load_checkpoint(path)
    graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(
        reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
    )
    names = {
        a.checkpoint_key.removesuffix(VALUE_SUFFIX): a.full_name for n in graph.nodes for a in n.attributes
    }
    key_of = {full: key for key, full in names.items()}
    weighted = [layer for layer in model.layers if layer.weights]
    for key, full in names.items():
        if key.startswith("model/"):
            _, layer, attribute = key.split("/")
            weight = getattr(weighted[int(layer.split("-")[1])], attribute)
            weight.assign(reader.get_tensor(key + VALUE_SUFFIX))
            slot = optimizer._get_variable_index(weight)
            optimizer._momentums[slot].assign(reader.get_tensor(key_of[f"Adam/m/{full}"] + VALUE_SUFFIX))
            optimizer._velocities[slot].assign(reader.get_tensor(key_of[f"Adam/v/{full}"] + VALUE_SUFFIX))
    optimizer.iterations.assign(reader.get_tensor("optimizer/_iterations" + VALUE_SUFFIX))
    optimizer.learning_rate.assign(reader.get_tensor("optimizer/_learning_rate" + VALUE_SUFFIX))


def by_position(path, model, optimizer):
    """Another right answer: Keras 2's `_variables/1..` and Keras 3's `optimizer.variables[2:]` agree."""
    reader = tf.train.load_checkpoint(path)
    weighted = [layer for layer in model.layers if layer.weights]
    for i, layer in enumerate(weighted):
        for name in ("kernel", "bias"):
            getattr(layer, name).assign(
                reader.get_tensor(f"model/layer_with_weights-{i}/{name}{VALUE_SUFFIX}")
            )
    for i, slot in enumerate(optimizer.variables[2:], start=1):
        slot.assign(reader.get_tensor(f"optimizer/_variables/{i}{VALUE_SUFFIX}"))
    optimizer.iterations.assign(reader.get_tensor("optimizer/_iterations" + VALUE_SUFFIX))
    optimizer.learning_rate.assign(reader.get_tensor("optimizer/_learning_rate" + VALUE_SUFFIX))


def weights_only(path, model, optimizer):
    reader = tf.train.load_checkpoint(path)
    for i, layer in enumerate(layer for layer in model.layers if layer.weights):
        for name in ("kernel", "bias"):
            getattr(layer, name).assign(
                reader.get_tensor(f"model/layer_with_weights-{i}/{name}{VALUE_SUFFIX}")
            )


def moments_swapped(path, model, optimizer):
    """Keras 3 pairs (momentum, velocity) per weight; this puts Keras 2's by number, v and m crossed."""
    by_position(path, model, optimizer)
    reader = tf.train.load_checkpoint(path)
    slots = optimizer.variables[2:]
    for i in range(0, len(slots), 2):
        slots[i].assign(reader.get_tensor(f"optimizer/_variables/{i + 2}{VALUE_SUFFIX}"))
        slots[i + 1].assign(reader.get_tensor(f"optimizer/_variables/{i + 1}{VALUE_SUFFIX}"))


def no_learning_rate(path, model, optimizer):
    by_position(path, model, optimizer)
    optimizer.learning_rate.assign(0.001)  # the fresh Adam's


def no_update_count(path, model, optimizer):
    by_position(path, model, optimizer)
    optimizer.iterations.assign(0)


def every_layer(path, model, optimizer):
    """`layer_with_weights-N` read as the N-th layer: wrong as soon as a layer has no weights (an Input)."""
    reader = tf.train.load_checkpoint(path)
    by_position(path, model, optimizer)
    for i in range(len([layer for layer in model.layers if layer.weights])):
        for name in ("kernel", "bias"):
            value = reader.get_tensor(f"model/layer_with_weights-{i}/{name}{VALUE_SUFFIX}")
            getattr(model.layers[i], name).assign(value)


def copied_cell(path, model, optimizer):
    """Notebook 10's by-hand cell for a subclassed model, pointed at a Sequential."""
    reader = tf.train.load_checkpoint(path)
    for key, _ in tf.train.list_variables(path):
        if key.startswith("model/"):
            _, layer, attribute, *_ = key.split("/")
            getattr(getattr(model, layer), attribute).assign(reader.get_tensor(key))


def the_helper(path, model, optimizer):
    keras2_to_keras3(path, model, optimizer)


def plain_restore(path, model, optimizer):
    tf.train.Checkpoint(model=model, optimizer=optimizer).restore(path).expect_partial()


def test_migrate_layered_right_answers():
    for answer in (migrate_layered, by_position):
        feedback = check_migrate_layered(answer, KERAS2)
        assert feedback, (answer.__name__, feedback.message)
        assert "3 Keras 2 checkpoints" in feedback.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (weights_only, "next Adam step"),
        (moments_swapped, "next Adam step"),
        (no_learning_rate, "learning rate must move too"),
        (no_update_count, "update count"),
        (every_layer, "raised"),  # the Input layer has no kernel
        (copied_cell, "raised AttributeError"),
        (the_helper, "raised ModelMismatchError"),
        (plain_restore, "raised"),
        (lambda path, model, optimizer: None, "still the placeholder"),
        (lambda path, model, optimizer: (_ for _ in ()).throw(NotImplementedError), "still the placeholder"),
    ],
)
def test_migrate_layered_wrong_answers(answer, words):
    feedback = check_migrate_layered(answer, KERAS2)
    assert not feedback and words in feedback.message, feedback.message
    assert "\n" not in feedback.message and not leaks(feedback.message)


def test_migrate_layered_wrong_folder_and_non_function(tmp_path):
    assert "data/keras2" in check_migrate_layered(migrate_layered, tmp_path).message
    assert "must be a function" in check_migrate_layered("migrate", KERAS2).message


def test_hints_name_sections_the_notebook_has():
    """Every section a ❌ sends the learner to is a heading of notebook 10."""
    notebook = KERAS2.parent.parent / "10_checkpoint_life.ipynb"
    headings = {
        line.removeprefix("## ").strip("`")
        for cell in json.loads(notebook.read_text())["cells"]
        if cell["cell_type"] == "markdown"
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("## ")
    }
    for sections in (SECTION_SAVEDMODEL, SECTION_MIGRATE):
        for name in re.findall(r"'(.+?)'(?: and|\)|$)", sections):
            assert any(name.replace("`", "") == h.replace("`", "") for h in headings), (name, headings)
