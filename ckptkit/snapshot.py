"""Variable values as NumPy arrays keyed like checkpoint keys, from live objects or a checkpoint, compared.

Reading files goes through `ckptkit.reader` (no TensorFlow); only live objects need TensorFlow,
which is imported when the first live object is walked.
"""

from __future__ import annotations

from ckptkit.diff import Diff, diff
from ckptkit.env import import_tensorflow
from ckptkit.reader import StoredValues, open_checkpoint

import os
from collections.abc import Callable, Iterator, Mapping

import numpy as np

__all__ = [
    "brief",
    "compare",
    "is_variable",
    "labels",
    "live_variables",
    "snapshot",
    "value_of",
    "walk",
]


def is_variable(obj: object) -> bool:
    """True for a TensorFlow or Keras 3 variable."""
    tf = import_tensorflow()
    import keras  # imported here: keras comes with tensorflow, already loaded

    return isinstance(obj, tf.Variable | keras.Variable)


def value_of(variable: object) -> np.ndarray:
    """A NumPy copy of a variable's value (`.numpy()`: NumPy's own conversion of Keras variables is slow)."""
    return np.array(variable.numpy()) if hasattr(variable, "numpy") else np.array(variable)


def brief(values: object) -> str:
    """A few values as text, 4 significant digits each: `[1.5, 2]`."""
    return "[" + ", ".join(f"{v:.4g}" for v in np.ravel(values)) + "]"


def walk(root: object, leaf: Callable[[object], bool]) -> Iterator[tuple[str, object]]:
    """Yield `(path, object)` for each object reachable from `root` that `leaf` accepts, once each.

    Breadth-first over the children TensorFlow saves, so each path is the first one a breadth-first
    walk finds, the key a save writes; the walk does not go below an accepted object.
    """
    tf = import_tensorflow()
    if isinstance(root, tf.train.Checkpoint):
        root.save_counter  # noqa: B018 (reading it creates the counter that save() and restore() create)
    view = tf.train.TrackableView(root)
    seen = {id(root)}
    queue: list[tuple[str, object]] = [("", root)]
    while queue:
        prefix, obj = queue.pop(0)
        for name, child in view.children(obj).items():
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}{name}"
            if leaf(child):
                yield path, child
            else:
                queue.append((f"{path}/", child))


def live_variables(root: object) -> Iterator[tuple[str, object]]:
    """Yield `(path, variable)` for each variable reachable from `root`, once each, under its saved key."""
    return walk(root, is_variable)


def snapshot(source: object) -> dict[str, np.ndarray]:
    """Copy every value of `source` (a checkpoint path, a trackable object, or a name->variable map)."""
    if isinstance(source, str | os.PathLike):
        with open_checkpoint(source) as checkpoint:
            values = StoredValues(checkpoint)
            return {name: values[name] for name in values}
    if isinstance(source, Mapping):
        return {str(k): value_of(v) for k, v in source.items()}
    return {path: value_of(var) for path, var in live_variables(source)}


def _values(source: object, only: str) -> tuple[Mapping[str, np.ndarray], str | None]:
    """Values to compare (read one at a time from a checkpoint) and the checkpoint's key format."""
    if isinstance(source, str | os.PathLike):
        checkpoint = open_checkpoint(source)
        kind = "object-based (TF2)" if checkpoint.object_based else "name-based (TF1)"
        return StoredValues(checkpoint, only), kind
    return {k: v for k, v in snapshot(source).items() if k.startswith(only)}, None


def labels(a: object, b: object) -> tuple[str, str]:
    """Short names for two sources, with enough of each path to tell them apart."""
    if not isinstance(a, str | os.PathLike) or not isinstance(b, str | os.PathLike):
        return tuple(
            os.path.basename(os.fspath(s).rstrip("/")) or os.fspath(s)
            if isinstance(s, str | os.PathLike)
            else "live"
            for s in (a, b)
        )
    parts_a = os.path.normpath(os.path.abspath(a)).split(os.sep)
    parts_b = os.path.normpath(os.path.abspath(b)).split(os.sep)
    if parts_a == parts_b:
        return parts_a[-1], parts_b[-1]
    keep = 1
    while keep < min(len(parts_a), len(parts_b)) and parts_a[-keep:] == parts_b[-keep:]:
        keep += 1
    return "/".join(parts_a[-keep:]), "/".join(parts_b[-keep:])


def compare(
    a: object,
    b: object,
    only: str = "",
    label_a: str | None = None,
    label_b: str | None = None,
    bitwise: bool = False,
) -> Diff:
    """Diff two checkpoints, or a checkpoint and live objects, keeping the keys that start with `only`.

    Checkpoint values are read one at a time, so two large checkpoints never sit in memory together.
    """
    (values_a, format_a), (values_b, format_b) = _values(a, only), _values(b, only)
    notes = ()
    if format_a and format_b and format_a != format_b:
        notes = (
            f"A is {format_a}, B is {format_b}: keys are compared without TF2's "
            "'/.ATTRIBUTES/VARIABLE_VALUE', so TF1 'w' and TF2 'w/.ATTRIBUTES/VARIABLE_VALUE' "
            "count as one variable",
        )
    default_a, default_b = labels(a, b)
    try:
        return diff(values_a, values_b, label_a or default_a, label_b or default_b, bitwise, notes)
    finally:
        for values in (values_a, values_b):
            if isinstance(values, StoredValues):
                values.checkpoint.close()
