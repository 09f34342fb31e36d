"""Read any TensorFlow checkpoint without a model: its values, sizes and object tree."""

from __future__ import annotations

from ckptkit.env import import_tensorflow
from ckptkit.snapshot import DAMAGE, GRAPH_KEY, VALUE_SUFFIX, damaged, read_checkpoint, resolve_checkpoint

import glob
import os
from dataclasses import asdict, dataclass, field

import numpy as np

tf = import_tensorflow()

__all__ = ["Inventory", "StoredValue", "inspect_checkpoint", "list_folder"]


@dataclass(frozen=True)
class StoredValue:
    """One stored tensor: its key, shape, dtype and size in bytes."""

    key: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int | None  # None for variants (a tf.data iterator's state): TensorFlow reports no size


@dataclass
class Inventory:
    """Everything a checkpoint holds, read with no model: values, total size, and the object tree."""

    path: str
    object_based: bool
    values: list[StoredValue]
    tree: list[tuple[str, str]] = field(default_factory=list)  # (object path, key of its value)

    @property
    def total_bytes(self) -> int:
        """Bytes of all stored values (the object graph excluded)."""
        return sum(v.nbytes or 0 for v in self.values)

    def paths_to(self, key: str) -> list[str]:
        """Every object path that reaches the value stored under `key`."""
        return [p for p, k in self.tree if k == key]

    def to_dict(self) -> dict:
        """A JSON-ready dictionary."""
        return {
            "path": self.path,
            "format": "object-based (TF2)" if self.object_based else "name-based (TF1 Saver)",
            "values": [asdict(v) | {"shape": list(v.shape)} for v in self.values],
            "total_bytes": self.total_bytes,
            "tree": [{"object_path": p, "key": k} for p, k in self.tree],
        }

    def text(self) -> str:
        """The values table, the total, then (object-based only) the object tree."""
        kind = "object-based (TF2)" if self.object_based else "name-based (TF1 Saver)"
        width = max([len(v.key) for v in self.values] + [3])
        lines = [f"{self.path}: {kind}, {len(self.values)} values", ""]
        lines.append(f"{'key':<{width}}  {'shape':<12}  {'dtype':<8}  {'bytes':>10}")
        for v in self.values:
            size = "?" if v.nbytes is None else f"{v.nbytes:,}"
            lines.append(f"{v.key:<{width}}  {v.shape!s:<12}  {v.dtype:<8}  {size:>10}")
        lines.append(f"{'total':<{width}}  {'':<12}  {'':<8}  {self.total_bytes:>10,}")
        if self.tree:
            lines += ["", self.tree_text()]
        return "\n".join(lines)

    def tree_text(self) -> str:
        """The object tree: each object path, then `=` its own key or `→` the key it shares."""
        lines = ["object tree (every path to each value; = marks the key it is stored under):"]
        for path, key in self.tree:
            stored = key.removesuffix(VALUE_SUFFIX)
            lines.append(f"  {path}  {'=' if stored == path else '→'} {stored}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """The readable text, so a notebook cell shows it."""
        return self.text()


def _nbytes(
    reader: tf.train.CheckpointReader, prefix: str, key: str, shape: list[int], dtype: tf.DType
) -> int | None:
    if dtype == tf.variant:  # NumPy cannot hold it: read it as a tensor, so its checksum is still checked
        tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[key], shape_and_slices=[""], dtypes=[tf.variant])
        return None
    # Reading every value makes TensorFlow check each one's checksum: damage is found here.
    value = np.asarray(reader.get_tensor(key))
    if value.dtype.kind in "OSU":  # strings: their bytes, not the array of pointers
        return int(sum(len(x) for x in value.ravel().tolist()))
    return int(np.prod(shape, dtype=np.int64)) * dtype.size


def _tree(graph_bytes: bytes) -> list[tuple[str, str]]:
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph.FromString(graph_bytes)
    rows: list[tuple[str, str]] = []

    def visit(node_id: int, path: str, ancestors: frozenset[int]) -> None:
        node = graph.nodes[node_id]
        for attribute in node.attributes:
            rows.append((path, attribute.checkpoint_key))
        for child in node.children:
            if child.node_id not in ancestors:  # object graphs may hold cycles
                name = f"{path}/{child.local_name}" if path else child.local_name
                visit(child.node_id, name, ancestors | {child.node_id})

    visit(0, "", frozenset({0}))
    return sorted(rows)


def inspect_checkpoint(path: str | os.PathLike[str]) -> Inventory:
    """Inventory a checkpoint prefix (or a folder's latest), TF2 object-based or TF1 name-based."""
    prefix = resolve_checkpoint(path)
    reader = read_checkpoint(prefix)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    values = []
    try:
        for key in sorted(shapes):
            if key != GRAPH_KEY:
                values.append(
                    StoredValue(
                        key,
                        tuple(shapes[key]),
                        dtypes[key].name,
                        _nbytes(reader, prefix, key, shapes[key], dtypes[key]),
                    )
                )
        tree = _tree(reader.get_tensor(GRAPH_KEY)) if GRAPH_KEY in shapes else []
    except DAMAGE as err:
        files = ", ".join(os.path.basename(f) for f in sorted(glob.glob(prefix + ".data-*")))
        raise damaged(prefix, err, f" (data file {files})") from None
    return Inventory(prefix, GRAPH_KEY in shapes, values, tree)


def list_folder(folder: str | os.PathLike[str]) -> list[dict]:
    """The checkpoints a folder's state file lists (newest first), then files on disk it does not list."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        resolve_checkpoint(folder)  # raises the clear "no checkpoint" error
    state = tf.train.get_checkpoint_state(folder)
    # The state file's paths come back joined with the folder already; compare them normalised.
    listed = [os.path.normpath(p) for p in reversed(state.all_model_checkpoint_paths)] if state else []
    on_disk = sorted(
        os.path.normpath(f[: -len(".index")]) for f in glob.glob(os.path.join(folder, "*.index"))
    )
    rows = []
    for prefix in listed + [p for p in on_disk if p not in listed]:
        row: dict = {"checkpoint": os.path.basename(prefix), "listed": prefix in listed}
        if os.path.exists(prefix + ".index"):
            reader = read_checkpoint(prefix)
            for name in ("save_counter", "step"):
                if reader.has_tensor(name + VALUE_SUFFIX):
                    row[name] = int(reader.get_tensor(name + VALUE_SUFFIX))
        else:
            row["missing"] = True
        rows.append(row)
    if not rows:
        resolve_checkpoint(folder)  # raises: the folder holds no checkpoint
    return rows
