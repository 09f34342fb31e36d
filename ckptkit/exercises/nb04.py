"""The exercise checks of notebook 04_inside_a_checkpoint.ipynb.

Each check calls the learner's function on checkpoints and models it makes itself, and compares the
result with what TensorFlow's own reader (or the bytes it wrote) says.
"""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, answer_of, judged, placeholder_or_error, watch
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow

import os
import tempfile
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["answer_of", "check_backbone_restore", "check_damaged_keys", "check_export_parts"]

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _randomized(layer: tf.keras.layers.Layer, seed: int) -> tf.keras.layers.Layer:
    """`layer` (built) with random values drawn from `seed`, none of them the notebook's."""
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(size=variable.shape).astype(np.float32))
    return layer


def _tower(seed: int, use_bias: bool = True) -> tf.keras.Model:
    """A built two-layer backbone (5 -> 24 -> 12) with random values; its second layer's bias optional."""
    layers = [tf.keras.layers.Dense(24, activation="relu"), tf.keras.layers.Dense(12, use_bias=use_bias)]
    return _randomized(tf.keras.Sequential([tf.keras.Input((5,)), *layers]), seed)


def _unbuilt_tower() -> tf.keras.Model:
    """The backbone's layers (5 -> 24 -> 12) in a model not yet called: no variables until its first call."""
    return tf.keras.Sequential([tf.keras.layers.Dense(24, activation="relu"), tf.keras.layers.Dense(12)])


def _stored(path: str) -> dict[str, np.ndarray | None]:
    """Every value TensorFlow's reader finds at `path` but the object graph, a variable's by its bare key."""
    reader = tf.train.load_checkpoint(path)
    return {  # other values (an iterator's state, say) are named, not read: they are something else
        key.removesuffix(SUFFIX): reader.get_tensor(key) if key.endswith(SUFFIX) else None
        for key in reader.get_variable_to_shape_map()
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }


def check_export_parts(export_parts: object) -> Feedback:
    """04 exercise 1: `export_parts(model, prefix)` writes `dense1` as `backbone`, `dense2` as `head`."""
    from ckptkit.runs.models import MyModel

    model = MyModel(hidden=24)
    model(tf.zeros([1, 5]))  # another width and input size than the notebook's model
    _randomized(model, seed=404)
    wanted = {
        "backbone/_kernel": model.dense1.kernel,
        "backbone/bias": model.dense1.bias,
        "head/_kernel": model.dense2.kernel,
        "head/bias": model.dense2.bias,
    }
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as folder:
        path, problem = answer_of(export_parts, "export_parts", model, os.path.join(folder, "parts"))
        if problem is not None:
            return problem
        if not isinstance(path, str | os.PathLike):
            return Feedback(False, "export_parts must return the path its write (or save) returned")
        try:
            stored = _stored(os.fspath(path))
        except (tf.errors.OpError, ValueError):
            return Feedback(
                False, f"there is no checkpoint at the path it returned ({os.path.basename(path)})"
            )
    missing = [key for key in wanted if key not in stored]
    if missing:
        shown = next(iter(sorted(stored)), "nothing")
        return Feedback(
            False,
            f"nothing is stored at {missing[0]}, and it stores {shown}: a key is the path of attribute "
            "names from the Checkpoint down to the variable (reread 'Understand the keys')",
        )
    extra = sorted(set(stored) - set(wanted) - {"save_counter"})
    if extra:
        return Feedback(False, f"it also stores {extra[0]}: the other program expects the two layers only")
    for key, variable in wanted.items():
        if stored[key].shape != tuple(variable.shape) or not np.array_equal(stored[key], variable.numpy()):
            return Feedback(
                False,
                f"{key} holds a {stored[key].shape} value that is not the given model's: write the layers "
                "of the model passed in, each under its own name",
            )
    return Feedback(
        True,
        "right: a width-24 model it had never seen, its first layer under backbone/, "
        "its last under head/, values equal",
    )


def _backbone_cases(folder: str) -> tuple[dict[str, str], list[np.ndarray]]:
    """Three checkpoints: the backbone with a head and an optimizer; one lacking a bias; none at all.

    Also the backbone's values, as the truth a restore must reproduce.
    """
    backbone = _tower(seed=1)
    # Zero, as a Dense bias starts: a value equal to a fresh variable's may still have come from the file.
    backbone.layers[0].bias.assign(tf.zeros([24]))
    head = tf.keras.layers.Dense(1)
    head.build((None, 12))
    optimizer = tf.keras.optimizers.Adam(0.01)
    optimizer.build(backbone.trainable_variables + head.trainable_variables)
    full = tf.train.Checkpoint(backbone=backbone, head=head, optimizer=optimizer, step=tf.Variable(9))
    no_bias = tf.train.Checkpoint(backbone=_tower(seed=3, use_bias=False), head=head)
    renamed = tf.train.Checkpoint(encoder=_tower(seed=4), head=head)
    paths = {  # saved as training saves (with save_counter), each in a folder of its own
        name: ckpt.save(os.path.join(folder, name, "ckpt"))
        for name, ckpt in (("full", full), ("no_bias", no_bias), ("renamed", renamed))
    }
    return paths, backbone.get_weights()


def _restore_watched(
    restore_backbone: object, path: str, backbone: object, sample: object
) -> tuple[list[str], Feedback | None]:
    """Run the learner's restore under `watch`: the warnings it logged (not earlier code's), what failed."""
    if not callable(restore_backbone):
        return [], answer_of(restore_backbone, "restore_backbone")[1]
    seen = watch(restore_backbone, path, backbone, sample)
    logs = seen.release()  # a status the answer returned logs its warnings once it is let go
    return logs, None if seen.error is None else placeholder_or_error("restore_backbone", seen.error)


@judged
def check_backbone_restore(restore_backbone: object) -> Feedback:
    """04 exercise 2: restore only an unbuilt backbone, loudly when it lacks a value, quietly otherwise."""
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as folder:
        paths, truth = _backbone_cases(folder)
        fresh, sample = _unbuilt_tower(), tf.random.normal([3, 5], seed=5)
        logs, problem = _restore_watched(restore_backbone, paths["full"], fresh, sample)
        if problem is not None and "placeholder" in problem.message:
            return problem
        if problem is not None:
            return Feedback(
                False,
                f"{problem.message.split(': ', 1)[0]} on a checkpoint holding the backbone and more (a head, "
                "an optimizer, a step): values left in the file on purpose are fine (reread 'Check what a "
                "restore matched')",
            )
        if not fresh.weights:
            return Feedback(
                False,
                "the backbone still has no variables: a restore into a model not yet called only queues "
                "its values, and a check then has nothing to judge (reread 'Check what a restore matched')",
            )
        if not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), truth, strict=True)):
            return Feedback(
                False, "the backbone's values did not arrive: restore it under the name it was saved with"
            )
        unused = [line for line in logs if line.startswith("Value in checkpoint could not be found")]
        if unused:
            return Feedback(
                False,
                f"the values arrived, but TensorFlow logged {len(unused)} warnings about the head and "
                "optimizer values left behind: tell it they are left on purpose ('Check what a restore "
                "matched')",
            )
        for case, what in (
            ("no_bias", "a checkpoint whose backbone lacks a bias"),
            ("renamed", "a checkpoint with no backbone at all"),
        ):
            _, problem = _restore_watched(restore_backbone, paths[case], _unbuilt_tower(), sample)
            if problem is None:
                return Feedback(
                    False,
                    f"{what} restored without complaint, leaving variables you built with their fresh "
                    "values: the restore must fail when an object you built gets no value",
                )
    return Feedback(
        True,
        "right: restored a two-layer backbone, not yet called, from a file with a head, an optimizer and "
        "a step, with no warning, and refused a file lacking one bias and one with no backbone",
    )


def _flip(data: bytearray, value: np.ndarray) -> None:
    """Flip the lowest bit of `value`'s first byte where its bytes sit in a data file."""
    at = bytes(data).find(value.tobytes())
    data[at] ^= 0x01


def check_damaged_keys(damaged_keys: object) -> Feedback:
    """04 exercise 3: `damaged_keys(prefix)` lists the keys whose bytes no longer match their checksum."""
    rng = np.random.default_rng(4004)
    values = {name: rng.normal(size=40 + 8 * n).astype(np.float32) for n, name in enumerate("abcde")}
    values["s"] = np.float32(-3.1415927)  # a scalar: its 4 bytes carry a checksum of their own too
    with tempfile.TemporaryDirectory(prefix="ckptkit-check-") as folder:
        ckpt = tf.train.Checkpoint(step=tf.Variable(12), **{k: tf.Variable(v) for k, v in values.items()})
        for case, broken in (("two", ("b", "d")), ("none", ()), ("one", ("e",)), ("scalar", ("s",))):
            prefix = ckpt.write(os.path.join(folder, case))
            data_file = Path(prefix + ".data-00000-of-00001")
            data = bytearray(data_file.read_bytes())
            for name in broken:
                _flip(data, values[name])
            data_file.write_bytes(bytes(data))
            with captured_tf_logs():
                got, problem = answer_of(damaged_keys, "damaged_keys", prefix)
            if problem is not None and "placeholder" in problem.message:
                return problem
            if problem is not None:
                return Feedback(
                    False,
                    f"{problem.message}: a read of a damaged value fails, and that failure is the answer "
                    "for that key, not the end of the search",
                )
            if got is None:
                return Feedback(False, "damaged_keys returned None: return a list of keys, empty if none")
            if isinstance(got, str) or not isinstance(got, list | tuple | set):
                return Feedback(False, f"damaged_keys returned {type(got).__name__}: return a list of keys")
            got = sorted(str(key) for key in got)
            want = sorted(f"{name}{SUFFIX}" for name in broken)
            missed, wrong = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            if wrong and f"{wrong[0]}{SUFFIX}" in want:
                return Feedback(
                    False, f"it names {wrong[0]}: return full keys, as the file's index lists them"
                )
            if missed:
                return Feedback(
                    False,
                    f"it missed {missed[0]}, whose bytes changed: every value carries its own checksum, so "
                    "read each one (reread 'Read the bytes yourself')",
                )
            if wrong:
                return Feedback(False, f"it names {wrong[0]}, whose bytes are intact")
    return Feedback(
        True,
        "right: found the two flipped values of one file, none in an intact one, "
        "the last value of a third and a scalar in a fourth",
    )
