"""Variable values, as plain NumPy arrays keyed like checkpoint keys, from live objects or a checkpoint."""

from __future__ import annotations

from ckptkit.diff import Diff, diff
from ckptkit.env import import_tensorflow
from ckptkit.errors import CheckpointNotFoundError, CorruptCheckpointError

import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = [
    "DAMAGE",
    "VALUE_SUFFIX",
    "brief",
    "compare",
    "damaged",
    "is_variable",
    "live_variables",
    "read_checkpoint",
    "resolve_checkpoint",
    "snapshot",
    "value_of",
    "walk",
]

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def is_variable(obj: object) -> bool:
    """True for a TensorFlow or Keras 3 variable."""
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

    Breadth-first over the children TensorFlow saves, so each path is the key a save would write;
    the walk does not go below an accepted object.
    """
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
    """Yield `(path, variable)` for each variable reachable from `root`, shortest path first, once each."""
    return walk(root, is_variable)


def resolve_checkpoint(path: str | os.PathLike[str]) -> str:
    """Return the checkpoint prefix for `path`: the prefix itself, or a folder's latest checkpoint."""
    # A checkpoint's own file names the checkpoint too: strip ".index" or ".data-00000-of-00001".
    path = re.sub(r"\.(index|data-\d{5}-of-\d{5})$", "", os.fspath(path))
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            files = sorted(p.name for p in Path(path).iterdir())
            shown = ", ".join(files[:8]) + (", ..." if len(files) > 8 else "") or "nothing"
            raise CheckpointNotFoundError(
                f"no checkpoint in folder {path!r} (it holds: {shown}): "
                "save one first, or pass a checkpoint prefix such as 'folder/ckpt-1'"
            )
        return latest
    if os.path.exists(path + ".index"):
        return path
    folder = os.path.dirname(path) or "."
    if os.path.isdir(folder):
        near = sorted(p.name[: -len(".index")] for p in Path(folder).glob("*.index"))
        hint = f"checkpoints there: {', '.join(near)}" if near else "it holds no checkpoint"
    else:
        hint = "that folder does not exist"
    raise CheckpointNotFoundError(
        f"no checkpoint at {path!r} ({hint}): pass a prefix with its number, such as 'ckpt-1', or a folder"
    )


def read_checkpoint(path: str | os.PathLike[str]) -> tf.train.CheckpointReader:
    """Open a checkpoint for reading, turning TensorFlow's low-level errors into ckptkit's."""
    prefix = resolve_checkpoint(path)
    try:
        return tf.train.load_checkpoint(prefix)
    except DAMAGE as err:
        raise damaged(prefix, err) from None


# What TensorFlow raises on a file cut short or failing its checksum: DataLossError, OutOfRangeError,
# a plain OpError ("Checksum does not match"), or IndexError ("Read less bytes than requested").
DAMAGE = (tf.errors.OpError, IndexError)


def damaged(prefix: str, err: BaseException, what: str = "") -> CorruptCheckpointError:
    """Build the one-line error for a damaged checkpoint from TensorFlow's error."""
    text = (getattr(err, "message", None) or str(err)).strip()
    # TensorFlow wraps op errors as "{{function_node ...}} reason [Op:Name]": keep the reason.
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]$", "", text)
    reason = text.splitlines()[0] if text else type(err).__name__
    return CorruptCheckpointError(
        f"checkpoint {prefix!r} is damaged{what} ({reason}): restore an older checkpoint"
    )


def _from_checkpoint(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    reader = read_checkpoint(path)
    dtypes = reader.get_variable_to_dtype_map()
    values = {}
    for key in sorted(reader.get_variable_to_shape_map()):
        if key == GRAPH_KEY or dtypes[key] == tf.variant:
            continue  # variants (a tf.data iterator's state) have no NumPy form
        name = key.removesuffix(VALUE_SUFFIX)
        try:
            values[name] = np.asarray(reader.get_tensor(key))
        except DAMAGE as err:
            raise damaged(os.fspath(path), err, f": value {name!r} cannot be read") from None
    return values


def snapshot(source: object) -> dict[str, np.ndarray]:
    """Copy every value of `source` (a checkpoint path, a trackable object, or a name->variable map)."""
    if isinstance(source, str | os.PathLike):
        return _from_checkpoint(source)
    if isinstance(source, Mapping):
        return {str(k): value_of(v) for k, v in source.items()}
    return {path: value_of(var) for path, var in live_variables(source)}


def _label(source: object) -> str:
    if isinstance(source, str | os.PathLike):
        return os.path.basename(os.fspath(source).rstrip("/")) or os.fspath(source)
    return "live"


def compare(
    a: object, b: object, only: str = "", label_a: str | None = None, label_b: str | None = None
) -> Diff:
    """Diff two checkpoints, or a checkpoint and live objects, keeping the keys that start with `only`."""
    snap_a, snap_b = snapshot(a), snapshot(b)
    return diff(
        {k: v for k, v in snap_a.items() if k.startswith(only)},
        {k: v for k, v in snap_b.items() if k.startswith(only)},
        label_a or _label(a),
        label_b or _label(b),
    )
