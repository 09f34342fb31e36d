"""Read any TensorFlow checkpoint without a model or TensorFlow: its values, sizes and object tree."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.files.graph import children_of, path_counts, reference_paths
from ckptkit.files.reader import (
    VALUE_SUFFIX,
    StoredCheckpoint,
    checkpoints_in,
    exists,
    open_checkpoint,
    read_state_file,
    resolve_checkpoint,
)
from ckptkit.files.text import text_table

import os
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Inventory", "StoredValue", "inspect_checkpoint", "list_folder", "object_tree"]


@dataclass(frozen=True)
class StoredValue:
    """One stored tensor: its key, shape, dtype and size in bytes."""

    key: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int  # numbers: elements × item size; strings: their bytes; variants: their serialized bytes


@dataclass
class Inventory:
    """Everything a checkpoint holds, read with no model: values, total size, and the object tree."""

    path: str
    object_based: bool
    values: list[StoredValue]
    tree: list[tuple[str, str]] = field(default_factory=list)  # (object path, key of its value)
    format: str = "V2"
    unlisted: int | None = 0  # paths through objects reached more than one way, not in `tree` (None: some)

    @property
    def kind(self) -> str:
        """Object-based (TF2) or name-based (TF1 Saver), and the file format when it is TF1's V1."""
        kind = "object-based (TF2)" if self.object_based else "name-based (TF1 Saver)"
        return kind + (", V1 single-file format" if self.format == "V1" else "")

    @property
    def total_bytes(self) -> int:
        """Bytes of all stored values (the object graph excluded)."""
        return sum(v.nbytes for v in self.values)

    def paths_to(self, key: str) -> list[str]:
        """The listed object paths that reach the value stored under `key` (see `object_tree`)."""
        return [p for p, k in self.tree if k == key]

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (`unlisted_paths` only when the tree leaves paths out; null: some)."""
        return {
            "path": self.path,
            "format": self.kind,
            "values": [asdict(v) | {"shape": list(v.shape)} for v in self.values],
            "total_bytes": self.total_bytes,
            "tree": [{"object_path": p, "key": k} for p, k in self.tree],
        } | ({} if self.unlisted == 0 else {"unlisted_paths": self.unlisted})

    def text(self) -> str:
        """The values table, the total, then (object-based only) the object tree."""
        rows = [["key", "shape", "dtype", "bytes"]]
        rows += [[v.key, v.shape, v.dtype, f"{v.nbytes:,}"] for v in self.values]
        rows.append(["total", "", "", f"{self.total_bytes:,}"])
        lines = [f"{self.path}: {self.kind}, {len(self.values)} values", ""]
        lines += text_table(rows, right={3}, widths={1: 12, 2: 8, 3: 10}, strip=False)
        if self.tree:
            lines += ["", self.tree_text()]
        return "\n".join(lines)

    def tree_text(self) -> str:
        """The object tree: each object path, then `=` its own key or `→` the key it shares."""
        reached = {k for _, k in self.tree}
        lines = [
            f"object tree: {len(self.tree)} paths reach {len(reached)} of the "
            f"{len(self.values)} stored values "
            "(= marks the key a value is stored under, → another path to it):"
        ]
        if self.unlisted != 0:
            more = "more paths" if self.unlisted is None else f"{self.unlisted:,} more paths"
            lines.append(
                f"  ({more} through objects reached more than one way are not listed: each object is "
                "listed by its first path, the one its key spells, and once per other object referring to it)"
            )
        for path, key in self.tree:
            owner = key.split("/.ATTRIBUTES/")[0]  # the object whose attribute this key stores
            lines.append(f"  {path}  {'=' if owner == path else '→'} {key.removesuffix(VALUE_SUFFIX)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """The readable text, so a notebook cell shows it."""
        return self.text()


def _nbytes(checkpoint: StoredCheckpoint, key: str) -> int:
    # Reading every value checks its checksum: damage is found here.
    value = checkpoint.get(key)
    if isinstance(value, bytes):  # a variant: its serialized bytes as stored
        return len(value)
    if value.dtype.kind in "OSU":  # strings: their bytes, not the array of pointers
        return int(sum(len(x) for x in value.ravel().tolist()))
    return int(value.nbytes)


def _node_paths(graph: dict) -> tuple[dict[int, list[str]], dict[int, int] | None]:
    """Each node's listed paths (`reference_paths`, then optimizer slots) and its number of paths in all.

    A slot variable (e.g. Adam's `m` of `dense/kernel` in a TF1-style optimizer) hangs off its
    variable and optimizer as `dense/kernel/.OPTIMIZER_SLOT/optimizer/m`, TensorFlow's own naming.
    """
    nodes, paths, counts = graph["nodes"], reference_paths(graph), path_counts(graph)
    for node_id, node in enumerate(nodes):
        for slot in node["slot_variables"]:
            variable, slot_id = slot["original_variable_node_id"], slot["slot_variable_node_id"]
            for variable_path in paths.get(variable, []):
                for optimizer_path in paths.get(node_id, []):
                    slot_path = f"{variable_path}/.OPTIMIZER_SLOT/{optimizer_path}/{slot['slot_name']}"
                    paths.setdefault(slot_id, []).append(slot_path)
            if counts is not None and variable in counts and node_id in counts:
                counts[slot_id] = counts.get(slot_id, 0) + counts[variable] * counts[node_id]
    return paths, counts


def _tree(graph: dict) -> tuple[list[tuple[str, str]], int | None]:
    """The object tree's rows, sorted, and how many paths to a stored value it leaves out (None: some)."""
    nodes = graph["nodes"]
    paths, counts = _node_paths(graph)
    rows = {
        (path, attribute["checkpoint_key"])
        for node_id, node in enumerate(nodes)
        for attribute in node["attributes"]
        for path in paths.get(node_id, [])
    }
    valued = [i for i, node in enumerate(nodes) if node["attributes"] and i in paths]
    if counts is None:  # cycles: routes are not counted, only whether a shared object has children
        kids = children_of(graph)
        shared = any(len(paths[i]) > 1 and kids(i) for i in range(len(nodes)) if i in paths)
        return sorted(rows), None if shared else 0
    return sorted(rows), sum(max(counts.get(i, 0) - len(set(paths[i])), 0) for i in valued)


def object_tree(graph: dict) -> list[tuple[str, str]]:
    """(object path, checkpoint key) rows of an object graph, optimizer slot variables included, sorted.

    Each object is listed by its first path (the one its key spells) and once per other object
    referring to it, through that object's first path; longer routes through objects reached more
    than one way are counted, not listed (`Inventory.unlisted`): there can be exponentially many.
    """
    return _tree(graph)[0]


def _stored_keys(tree: list[tuple[str, str]], keys: list[str]) -> list[tuple[str, str]]:
    """Each tree row with the key actually stored.

    A `tf.data` iterator's attribute key `…/ITERATOR` is saved as `…/ITERATOR_STATE`: an attribute key
    stands for the stored keys it begins.
    """
    stored = set(keys)
    rows = set()
    for path, key in tree:
        for match in [key] if key in stored else [k for k in keys if k.startswith(key)]:
            rows.add((path, match))
    return sorted(rows)


def inspect_checkpoint(path: str | os.PathLike[str]) -> Inventory:
    """Inventory a checkpoint prefix (or a folder's latest), TF2 object-based or TF1 name-based."""
    with open_checkpoint(path) as checkpoint:
        values = [
            StoredValue(key, checkpoint.shape(key), checkpoint.dtype(key), _nbytes(checkpoint, key))
            for key in checkpoint.stored_keys()
        ]
        graph = checkpoint.object_graph()
        tree, unlisted = _tree(graph) if graph else ([], 0)
        tree = _stored_keys(tree, [v.key for v in values])
        return Inventory(
            checkpoint.prefix, checkpoint.object_based, values, tree, checkpoint.format, unlisted
        )


def _row(prefix: str, listed: bool, chosen: str | None) -> dict:
    row: dict = {"checkpoint": os.path.basename(prefix), "listed": listed}
    if chosen is not None:
        row["selected"] = prefix == chosen
    try:
        with open_checkpoint(prefix) as checkpoint:
            counter = "save_counter" + VALUE_SUFFIX
            if checkpoint.has(counter):
                row["save_counter"] = int(np.asarray(checkpoint.get(counter)))
            step = checkpoint.step()
            if step is not None:
                row["step"] = step
    except CheckpointError as err:
        if exists(prefix):
            row["error"] = str(err)
        else:
            row["missing"] = True
    return row


def list_folder(folder: str | os.PathLike[str]) -> list[dict]:
    """The checkpoints a folder's state file lists (newest first), then the others on disk, one row each.

    `folder` may also be a checkpoint: its folder is listed, with that row marked `selected`. A
    checkpoint that cannot be read gets an `error` (why) instead of its numbers; one listed but gone
    from disk gets `missing`.
    """
    folder = os.fspath(folder)
    chosen = None
    if not os.path.isdir(folder):
        chosen = resolve_checkpoint(folder)  # raises the clear "no checkpoint" error
        folder = os.path.dirname(chosen) or "."
    _, kept = read_state_file(folder)
    listed = list(reversed(kept))
    on_disk = checkpoints_in(folder)
    rows = [_row(p, p in listed, chosen) for p in listed + [p for p in on_disk if p not in listed]]
    if not rows:
        resolve_checkpoint(folder)  # raises: the folder holds no checkpoint
    return rows
