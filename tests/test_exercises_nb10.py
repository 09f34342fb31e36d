"""Notebook 10's exercise checks: reference solutions pass; cheats, wrong answers, placeholders fail."""

from __future__ import annotations

from ckptkit.exercises.nb10 import SECTION_SAVEDMODEL, check_load_savedmodel

import os
from pathlib import Path

import pytest
import tensorflow as tf

from helpers import missing_sections, spells_out

KERAS2 = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "keras2"
# Calls the reference solutions make: no ❌ may spell one of them out.
SOLUTION_CALLS = (
    "Checkpoint(",
    ".read(",
    "list(model.variables)",
)


# ---- exercise 1: any SavedModel's values into a built model


def _read(model, folder):
    """The reference's read: model.export numbers the variables, tf.saved_model.save roots them at the
    model, or at the tf.Module that holds the model: the one name at the top, not an attribute of it."""
    prefix = os.path.join(folder, "variables", "variables")
    tops = {k.split("/")[0] for k, _ in tf.train.list_variables(prefix) if "/" in k}
    if "_all_variables" in tops:
        root = tf.train.Checkpoint(variables=list(model.variables))
    elif len(tops) == 1 and not hasattr(model, next(iter(tops))):
        root = tf.train.Checkpoint(**{tops.pop(): model})
    else:
        root = tf.train.Checkpoint(model)
    return root.read(prefix)


def load_savedmodel(model, folder):
    """The reference: read the layout the folder has, and require every variable of the model filled."""
    _read(model, folder).assert_existing_objects_matched().expect_partial()


def try_each_layout(model, folder):
    """Another right answer: try each layout in turn, keep the first whose every object matched."""
    prefix = os.path.join(folder, "variables", "variables")
    tops = {k.split("/")[0] for k, _ in tf.train.list_variables(prefix) if "/" in k}
    layouts = [tf.train.Checkpoint(model), tf.train.Checkpoint(variables=list(model.variables))]
    layouts += [tf.train.Checkpoint(**{name: model}) for name in sorted(tops) if name.isidentifier()]
    for root in layouts:
        status = root.read(prefix).expect_partial()
        try:
            status.assert_existing_objects_matched()
            return
        except AssertionError:
            continue
    raise ValueError(f"no layout of {folder} matched the model")


def try_root_then_position(model, folder):
    """The notebook's two reads, copied: the model as root; if nothing matched, the variables by position."""
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
    """The values assigned in key order from the reader, the optimizer and the export's twins left out."""
    reader = tf.train.load_checkpoint(os.path.join(folder, "variables", "variables"))
    skip = ("_CHECKPOINTABLE", "optimizer/", "_all_variables/", "save_counter")
    keys = sorted(k for k in reader.get_variable_to_shape_map() if not k.startswith(skip))
    for variable, key in zip(model.variables, keys, strict=True):
        variable.assign(reader.get_tensor(key))


def never_raises(model, folder):
    """The reference without its assertion: right values, but a model the folder does not fit passes."""
    _read(model, folder).expect_partial()


def nontrivial_only(model, folder):
    """The reference asking only that something matched: a model the folder fills in part passes."""
    _read(model, folder).assert_nontrivial_match().expect_partial()


def status_dropped(model, folder):
    """Right values, but the status of a restore that left values unmatched is never handled."""
    prefix = os.path.join(folder, "variables", "variables")
    if any(k.startswith("_all_variables/") for k, _ in tf.train.list_variables(prefix)):
        tf.train.Checkpoint(variables=list(model.variables)).read(prefix).expect_partial()
    else:
        tf.train.Checkpoint(model).restore(prefix)


def judged_by_change(model, folder):
    """The reference's read, but 'not filled' taken as 'unchanged': a stored zero bias is filled too."""
    before = [v.numpy().copy() for v in model.variables]
    _read(model, folder).expect_partial()
    if any((b == v.numpy()).all() for b, v in zip(before, model.variables, strict=True)):
        raise ValueError("a variable stayed unfilled")


KEPT = []


def status_kept(model, folder):
    """The reference without expect_partial(), its status kept in a global: never collected in the check."""
    status = _read(model, folder)
    status.assert_existing_objects_matched()
    KEPT.append(status)


def placeholder(model, folder): ...


def not_implemented(model, folder):
    raise NotImplementedError


def raises(model, folder):
    tf.train.Checkpoint(model).read(os.path.join(folder, "variables", "variables")).assert_consumed()


def test_load_savedmodel_right_answers():
    for answer in (load_savedmodel, try_each_layout):
        feedback = check_load_savedmodel(answer)
        assert feedback, (answer.__name__, feedback.message)
        assert "6 SavedModels" in feedback.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (under_model, "0 of 4 variables"),  # nothing matched, nothing raised
        (try_root_then_position, "of a tf.Module holding it as an attribute raised AssertionError"),
        (root_only, "model.export numbers the variables"),
        (position_only, "makes the model itself the root"),
        (by_reader, "no tf.train.Checkpoint read them"),
        (never_raises, "returned without an error"),
        (nontrivial_only, "a FinetuneModel"),
        (status_dropped, "left unhandled"),
        (status_kept, "left unhandled"),
        (judged_by_change, "a Sequential, written by tf.saved_model.save raised ValueError"),
        (placeholder, "still the placeholder"),
        (not_implemented, "still the placeholder"),
        (raises, "raised AssertionError"),
    ],
)
def test_load_savedmodel_wrong_answers(answer, words):
    feedback = check_load_savedmodel(answer)
    assert not feedback and words in feedback.message, feedback.message
    assert "\n" not in feedback.message and not spells_out(feedback.message, SOLUTION_CALLS)


def test_load_savedmodel_refuses_a_non_function():
    assert "must be a function" in check_load_savedmodel(None).message


def test_hints_name_sections_the_notebook_has():
    """Every section a ❌ sends the learner to is a heading of notebook 10."""
    assert not missing_sections(KERAS2.parent.parent / "10_checkpoint_life.ipynb", SECTION_SAVEDMODEL)
