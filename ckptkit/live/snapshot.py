"""Variable values as NumPy arrays keyed like checkpoint keys, from live objects or a checkpoint, compared.

Reading files goes through `ckptkit.files.reader` (no TensorFlow); only live objects need TensorFlow,
which is imported when the first live object is walked.
"""

from __future__ import annotations

from ckptkit.files.diff import Diff, labels
from ckptkit.files.diff import compare as compare_sources
from ckptkit.files.graph import breadth_first
from ckptkit.files.reader import StoredValues, open_checkpoint
from ckptkit.live.quiet import import_tensorflow

import os
from collections.abc import Callable, Iterator, Mapping

import numpy as np

__all__ = [
    "brief",
    "compare",
    "is_variable",
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
    found = breadth_first(root, lambda obj: view.children(obj).items(), descend=lambda obj: not leaf(obj))
    return ((path, obj) for path, obj in found if leaf(obj))


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


def compare(
    a: object,
    b: object,
    only: str = "",
    label_a: str | None = None,
    label_b: str | None = None,
    bitwise: bool = False,
) -> Diff:
    """Diff two checkpoints, or a checkpoint and live objects (snapshotted first), as `files.diff.compare`."""
    default_a, default_b = labels(a, b)
    a, b = (s if isinstance(s, str | os.PathLike) else snapshot(s) for s in (a, b))
    return compare_sources(a, b, only, label_a or default_a, label_b or default_b, bitwise)
