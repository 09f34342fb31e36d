"""Notebook 11's exercise check: reference solutions pass; cheats, wrong answers, placeholders fail."""

from __future__ import annotations

from ckptkit.exercises.nb11 import SECTION_MIGRATE, check_migrate_layered
from ckptkit.files.reader import VALUE_SUFFIX
from ckptkit.live.migrate import keras2_to_keras3

from pathlib import Path

import pytest
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from helpers import missing_sections, spells_out

KERAS2 = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "keras2"
# Calls the reference solutions make: no ❌ may spell one of them out.
SOLUTION_CALLS = (
    "_get_variable_index",
    ".assign(",
    "layers[",
)


def migrate_layered(path, model, optimizer):
    """The reference: weights by `layer_with_weights-N`, moments by their weight's full name."""
    reader = tf.train.load_checkpoint(path)
    graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(
        reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
    )
    names = {
        a.checkpoint_key.removesuffix(VALUE_SUFFIX): a.full_name for n in graph.nodes for a in n.attributes
    }

    def slot(role, full):  # "Adam/m/<weight>", or "m/<weight>" from an Adam built by hand
        key = next(k for k, n in names.items() if n == f"{role}/{full}" or n.endswith(f"/{role}/{full}"))
        return reader.get_tensor(key + VALUE_SUFFIX)

    weighted = [layer for layer in model.layers if layer.weights]
    for key, full in names.items():
        if key.startswith("model/"):
            _, layer, attribute = key.split("/")
            weight = getattr(weighted[int(layer.split("-")[1])], attribute)
            weight.assign(reader.get_tensor(key + VALUE_SUFFIX))
            index = optimizer._get_variable_index(weight)
            optimizer._momentums[index].assign(slot("m", full))
            optimizer._velocities[index].assign(slot("v", full))
    optimizer.iterations.assign(reader.get_tensor("optimizer/_iterations" + VALUE_SUFFIX))
    optimizer.learning_rate.assign(reader.get_tensor("optimizer/_learning_rate" + VALUE_SUFFIX))


def by_position(path, model, optimizer, reverse=False):
    """Keras 2's `_variables/1..` put into Keras 3's `optimizer.variables[2:]`, in layer order or reversed:
    right while the file numbers the moments that way, wrong on a check's file where it does not."""
    reader = tf.train.load_checkpoint(path)
    weighted = [layer for layer in model.layers if layer.weights]
    for i, layer in enumerate(weighted):
        for name in ("kernel", "bias"):
            getattr(layer, name).assign(
                reader.get_tensor(f"model/layer_with_weights-{i}/{name}{VALUE_SUFFIX}")
            )
    slots = optimizer.variables[2:]  # m and v of each weight, in layer order
    for j in range(len(slots) // 2):
        source = len(slots) // 2 - 1 - j if reverse else j
        for k in (0, 1):
            slots[2 * j + k].assign(
                reader.get_tensor(f"optimizer/_variables/{2 * source + k + 1}{VALUE_SUFFIX}")
            )
    optimizer.iterations.assign(reader.get_tensor("optimizer/_iterations" + VALUE_SUFFIX))
    optimizer.learning_rate.assign(reader.get_tensor("optimizer/_learning_rate" + VALUE_SUFFIX))


def reversed_when_unfit(path, model, optimizer):
    """Moments by number; the other way round when a shape refuses: no full name read."""
    try:
        by_position(path, model, optimizer)
    except ValueError:
        by_position(path, model, optimizer, reverse=True)


def reversed_without_scope(path, model, optimizer):
    """Moments reversed whenever no full name starts with `Adam/`: the check's 'built/' file as a rule."""
    graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(
        tf.train.load_checkpoint(path).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
    )
    scoped = any(a.full_name.startswith("Adam/") for node in graph.nodes for a in node.attributes)
    by_position(path, model, optimizer, reverse=not scoped)


def by_shape(path, model, optimizer):
    """Each weight takes the first two unused `_variables/N` of its shape as (m, v): no full names read."""
    reader = tf.train.load_checkpoint(path)
    weighted = [layer for layer in model.layers if layer.weights]
    slots = sorted(
        (int(k.split("/")[2]), k)
        for k, _ in tf.train.list_variables(path)
        if k.startswith("optimizer/_variables/")
    )
    for i, layer in enumerate(weighted):
        for name in ("kernel", "bias"):
            weight = getattr(layer, name)
            weight.assign(reader.get_tensor(f"model/layer_with_weights-{i}/{name}{VALUE_SUFFIX}"))
            mine = [k for _, k in slots if reader.get_tensor(k).shape == weight.shape][:2]
            slots = [(n, k) for n, k in slots if k not in mine]
            index = optimizer._get_variable_index(weight)
            optimizer._momentums[index].assign(reader.get_tensor(mine[0]))
            optimizer._velocities[index].assign(reader.get_tensor(mine[1]))
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
    """The reference but for the learning rate: the check's Adam keeps the wrong rate it was made with."""
    rate = optimizer.learning_rate.numpy()
    migrate_layered(path, model, optimizer)
    optimizer.learning_rate.assign(rate)


def notebook_rate(path, model, optimizer):
    """The reference with the notebook's fixtures' rate written in: the check's checkpoints use others."""
    migrate_layered(path, model, optimizer)
    optimizer.learning_rate.assign(0.01)


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
    """Notebook 11's by-hand cell for a subclassed model, pointed at a Sequential."""
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
    feedback = check_migrate_layered(migrate_layered, KERAS2)
    assert feedback, feedback.message
    assert "5 Keras 2 checkpoints" in feedback.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (weights_only, "next Adam step"),
        (by_position, "find each moment by its weight's full name, after the path component m or v"),
        (by_shape, "not number or shape"),
        (reversed_when_unfit, "first two layers swapped"),
        (reversed_without_scope, "first two layers swapped"),
        (moments_swapped, "next Adam step"),
        (no_learning_rate, "learning rate must move too"),
        (notebook_rate, "learning rate must move too"),
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
    assert "\n" not in feedback.message and not spells_out(feedback.message, SOLUTION_CALLS)


def test_migrate_layered_wrong_folder_and_non_function(tmp_path):
    assert "data/keras2" in check_migrate_layered(migrate_layered, tmp_path).message
    assert "must be a function" in check_migrate_layered("migrate", KERAS2).message


def test_hints_name_sections_the_notebook_has():
    """Every section a ❌ sends the learner to is a heading of notebook 11."""
    assert not missing_sections(KERAS2.parent.parent / "11_keras2_to_keras3.ipynb", SECTION_MIGRATE)
