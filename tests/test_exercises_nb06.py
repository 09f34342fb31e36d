"""The exercise checks of notebook 06: the reference solutions pass; cheats and wrong answers get a hint."""

import ckptkit
from ckptkit.exercises.nb06 import _FOLDERS, check_newest_restorable, check_resumable
from ckptkit.files import reader
from ckptkit.files.inventory import inspect_checkpoint as inspect_by_another_name

import glob
import os
import re
import tempfile
from pathlib import Path

import tensorflow as tf

from helpers import spells_out

# What the reference solutions call or write: no ❌ may spell these out.
SOLUTION_CALLS = (
    "iterator=",
    "generator=",
    "layer_seeds",
    "get_checkpoint_state",
    "get_tensor(",
    "seed_generator",
)


def resumable(model, optimizer, iterator, generator, step):
    seeds = [v for v in model.variables if "seed_generator_state" in v.path]
    return tf.train.Checkpoint(
        model=model, optimizer=optimizer, iterator=iterator, generator=generator, step=step, layer_seeds=seeds
    )


def _whole(path):
    """True when the checkpoint at `path` opens and every value matches its checksum."""
    try:
        stored = tf.train.load_checkpoint(path)
        for key in stored.get_variable_to_shape_map():
            stored.get_tensor(key)
    except tf.errors.OpError:
        return False
    return True


def _listed(folder):
    """The checkpoints the state file lists, oldest first (ValueError when it cannot be read)."""
    state = tf.train.get_checkpoint_state(folder)
    return list(state.all_model_checkpoint_paths) if state else []


def _on_disk(folder):
    """The ckpt-N prefixes in `folder`, oldest first, whatever the state file says."""
    found = sorted(glob.glob(f"{folder}/ckpt-*.index"), key=lambda p: int(re.findall(r"ckpt-(\d+)", p)[-1]))
    return [index.removesuffix(".index") for index in found]


def newest_restorable(folder):
    try:
        paths = _listed(folder) or _on_disk(folder)  # none listed: a zeroed state file, or none at all
    except ValueError:  # an empty state file: the files on disk
        paths = _on_disk(folder)
    return next((path for path in reversed(paths) if _whole(path)), None)


def state_file_only(folder):
    """Right until the state file is empty: get_checkpoint_state then raises ValueError."""
    return next((path for path in reversed(_listed(folder)) if _whole(path)), None)


def none_without_state(folder):
    """Right until the state file is empty: then it gives up."""
    try:
        return state_file_only(folder)
    except ValueError:
        return None


def value_error_only(folder):
    """Right for an empty state file, wrong for a zeroed one: get_checkpoint_state then answers None."""
    try:
        paths = _listed(folder)
    except ValueError:
        paths = _on_disk(folder)
    return next((path for path in reversed(paths) if _whole(path)), None)


def missing_means_none(folder):
    """Right for an empty or a zeroed state file, wrong for none at all: it takes that as nothing saved."""
    if not os.path.exists(os.path.join(folder, "checkpoint")):
        return None
    return newest_restorable(folder)


def placeholder(*args):
    raise NotImplementedError


def _failed(feedback, *words):
    assert not feedback, feedback
    assert all(word in feedback.message for word in words), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback
    return feedback


def test_resumable():
    assert check_resumable(resumable)

    def other_names(model, optimizer, iterator, generator, step):  # any names will do
        return tf.train.Checkpoint(
            net=model,
            opt=optimizer,
            data=iterator,
            rng=generator,
            global_step=step,
            seeds=ckptkit.seed_states(model),
        )

    assert check_resumable(other_names)

    # the notebook's objects, in scope when the learner answers: aliasing them instead of the arguments
    notebook_model = ckptkit.DropoutModel()
    notebook_model(ckptkit.regression_data()[0][:1])

    def aliased(model, optimizer, iterator, generator, step):
        return tf.train.Checkpoint(
            model=notebook_model, optimizer=optimizer, iterator=iterator, generator=generator, step=step
        )

    def one_object_everywhere(model, optimizer, iterator, generator, step):
        seeds = ckptkit.seed_states(model)
        return tf.train.Checkpoint(
            model=model, optimizer=model, iterator=model, generator=model, step=step, layer_seeds=seeds
        )

    def without(name):
        def answer(model, optimizer, iterator, generator, step):
            parts = {"model": model, "optimizer": optimizer, "iterator": iterator, "generator": generator}
            parts |= {"step": step, "layer_seeds": ckptkit.seed_states(model)}
            del parts[name]
            return tf.train.Checkpoint(**parts)

        return answer

    def saving_seeds(find):
        def answer(model, optimizer, iterator, generator, step):
            parts = {"model": model, "optimizer": optimizer, "iterator": iterator, "generator": generator}
            return tf.train.Checkpoint(**parts, step=step, layer_seeds=find(model))

        return answer

    # the seed states of the top-level layers only: the nested block's Dropout is missed
    top_level_dropouts = saving_seeds(
        lambda m: [x.seed_generator.state for x in m.layers if hasattr(x, "seed_generator")]
    )
    fixed_places = saving_seeds(lambda m: [m.layers[1].seed_generator.state])  # the notebook's layers[1]

    cheats_and_wrong = [
        (top_level_dropouts, "seed states are not saved"),
        # the weights come back through Adam's references, the BatchNormalization's statistics do not
        (aliased, "moving mean and variance are not saved"),
        (without("model"), "moving mean and variance are not saved"),
        (one_object_everywhere, "Adam restarted"),
        (without("layer_seeds"), "seed states are not saved"),
        (without("iterator"), "fresh shuffle"),
        (without("generator"), "random stream"),
        (without("optimizer"), "Adam restarted"),
        (without("step"), "step is 0, not 3"),
        (lambda *parts: {"model": parts[0]}, "return a tf.train.Checkpoint"),
        (lambda *parts: None, "returned NoneType"),
    ]
    for answer, words in cheats_and_wrong:
        _failed(check_resumable(answer), words)
    assert not check_resumable(fixed_places)  # its ❌ depends on what the drawn layout put at layers[1]
    _failed(check_resumable(placeholder), "still the placeholder")
    _failed(check_resumable(lambda *parts: 1 / 0), "raised ZeroDivisionError")


def test_newest_restorable():
    assert check_newest_restorable(newest_restorable)

    def by_inspect(folder):  # ckptkit's listing and whole-file check do the reading: refused
        try:
            rows = ckptkit.list_folder(folder)
        except ckptkit.CheckpointNotFoundError:
            return None
        for row in rows:
            if row["listed"]:
                try:
                    ckptkit.inspect_checkpoint(f"{folder}/{row['checkpoint']}")
                except ckptkit.CheckpointError:
                    continue
                return row["checkpoint"]
        return None

    def tf_list_ckptkit_check(folder):  # TensorFlow lists, ckptkit checks each file: refused too
        for path in reversed(_listed(folder)):
            try:
                inspect_by_another_name(path)
            except ckptkit.CheckpointError:
                continue
            return path
        return None

    def reader_by_another_name(folder):  # ckptkit's reader, reached through its module: refused
        for path in reversed(_listed(folder)):
            try:
                with reader.open_checkpoint(path) as stored:
                    for key in stored.stored_keys():
                        stored.get(key)
            except ckptkit.CheckpointError:
                continue
            return path
        return None

    def latest(folder):  # what TensorFlow's restore of the latest would take
        return tf.train.latest_checkpoint(folder)

    def index_only(folder):  # parses the index but never reads the values
        for path in reversed(_listed(folder)):
            try:
                tf.train.load_checkpoint(path)
            except tf.errors.OpError:
                continue
            return path
        return None

    def newest_file_on_disk(folder):  # ignores the state file: the commit point
        return next((path for path in reversed(_on_disk(folder)) if _whole(path)), None)

    def the_helper(folder):  # the trainer's fallback needs the objects that were saved: none here
        manager = tf.train.CheckpointManager(tf.train.Checkpoint(), folder, max_to_keep=None)
        report, _ = ckptkit.restore_newest_good(tf.train.Checkpoint(), manager)
        return report.path if report else None

    def sorted_as_text(folder):  # "ckpt-9" sorts after "ckpt-11"
        try:
            paths = _listed(folder)
        except ValueError:
            paths = []
        paths = paths or sorted(p.removesuffix(".index") for p in glob.glob(f"{folder}/ckpt-*.index"))
        return next((path for path in reversed(paths) if _whole(path)), None)

    def on_disk_when_latest_breaks(folder):  # a broken latest sends it to files never committed
        try:
            paths = _listed(folder)
        except ValueError:
            paths = []
        if paths and _whole(paths[-1]):
            return paths[-1]
        return next((path for path in reversed(_on_disk(folder)) if _whole(path)), None)

    cheats_and_wrong = [
        (sorted_as_text, "it returned ckpt-9: ckpt-11 is newer and whole: order the files by N as a number"),
        (on_disk_when_latest_breaks, "it returned ckpt-4: whole on disk, but the state file"),
        (by_inspect, "called ckptkit's list_folder"),
        (tf_list_ckptkit_check, "called ckptkit's inspect_checkpoint"),
        (reader_by_another_name, "called ckptkit's open_checkpoint"),
        (the_helper, "called ckptkit's restore_newest_good"),
        (latest, "index is cut short"),
        (index_only, "fails its checksum"),
        (newest_file_on_disk, "never committed"),
        (lambda folder: None, "returned None"),
        (state_file_only, "raised ValueError: Invalid checkpoint state"),
        (none_without_state, "the state file is empty"),
        (value_error_only, "zero bytes"),
        (missing_means_none, "there is no state file"),
    ]
    for answer, words in cheats_and_wrong:
        _failed(check_newest_restorable(answer), words)

    # The right answers, folder by folder in the order the check builds them: learnt by heart, they fail
    # both when looked up by the folder's name and when handed out by call count.
    with tempfile.TemporaryDirectory() as root:
        by_heart = {case: build(Path(root) / case)[0] for case, build in _FOLDERS.items()}
    calls = []

    def by_call_count(folder):
        calls.append(folder)
        return list(by_heart.values())[(len(calls) - 1) % len(by_heart)]

    _failed(check_newest_restorable(lambda folder: by_heart.get(os.path.basename(folder))), "it returned")
    assert not check_newest_restorable(by_call_count)
    _failed(check_newest_restorable(placeholder), "still the placeholder")
    _failed(check_newest_restorable(lambda folder: 1 / 0), "raised ZeroDivisionError")
    _failed(check_newest_restorable(lambda folder: ckptkit.inspect_checkpoint(folder)), "called ckptkit's")
