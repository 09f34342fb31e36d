"""TF1's V1 checkpoint format: one SSTable per file holding the tensors themselves, read one at a time.

Key `""` of each file holds a `SavedTensorSlices` header listing every tensor (name, dtype, shape,
slices); each slice is stored under its own key (`slice_key`) as a `TensorProto` holding only
values. Like TensorFlow's `TensorSliceReader`, a tensor is read by looking its slices' keys up in
the table, so only the block that holds a slice is read: memory is bounded by the largest tensor,
not the file.
"""

from __future__ import annotations

from ckptkit.files.proto import parse_v1_meta, parse_v1_slice, slice_key
from ckptkit.files.table import DamagedError, Table, is_table, varint

import os
import re

import numpy as np

__all__ = ["V1Files", "tensor_values", "v1_files"]

Extents = tuple[tuple[int, int], ...]


def v1_files(prefix: str) -> list[str]:
    """The TF1 V1 files of `prefix`: the file itself, or `prefix-NNNNN-of-MMMMM` shards."""
    if os.path.isfile(prefix) and is_table(prefix):
        return [prefix]
    folder, base = os.path.split(prefix)
    pattern = re.compile(re.escape(base) + r"-\d{5}-of-\d{5}$")
    try:
        names = sorted(n for n in os.listdir(folder or ".") if pattern.match(n))
    except OSError:
        return []
    return [p for p in (os.path.join(folder, n) for n in names) if is_table(p)]


class V1Files:
    """The files of one TF1 V1 checkpoint: their headers read at open, slices read when asked for."""

    def __init__(self, files: list[str]) -> None:
        """Open each file's table and read the tensors its header lists."""
        self.tables: list[Table] = []
        self.tensors: dict[str, tuple[int, tuple[int, ...], list[tuple[Extents, int]]]] = {}
        try:
            for path in files:
                self.tables.append(Table(path))
                self._add_header(len(self.tables) - 1)
        except BaseException:
            self.close()
            raise

    def _add_header(self, index: int) -> None:
        table = self.tables[index]
        header = table.get(b"")
        if header is None:
            raise DamagedError(f"{os.path.basename(table.path)!r} has no header record")
        for name, number, shape, slices in parse_v1_meta(header):
            known = self.tensors.setdefault(name, (number, shape, []))
            if known[:2] != (number, shape):
                raise DamagedError(f"the files disagree on the dtype or shape of {name!r}")
            known[2].extend((extents, index) for extents in slices)

    def records(self, name: str) -> list[tuple[Extents, dict]]:
        """Each stored slice of tensor `name`: its extents and its `TensorProto` fields."""
        found = []
        for extents, index in self.tensors[name][2]:
            raw = self.tables[index].get(slice_key(name, extents))
            if raw is None:
                where = os.path.basename(self.tables[index].path)
                raise DamagedError(f"{where!r} lists slice {extents} of {name!r} but does not hold it")
            found.append((extents, parse_v1_slice(raw)))
        return found

    def close(self) -> None:
        """Close every file."""
        for table in self.tables:
            table.close()


# TensorProto's typed repeated fields, by dtype: field number, fixed-width item (None: varints).
_TYPED_FIELDS = {
    "float32": (5, "<f4"),
    "float64": (6, "<f8"),
    "int32": (7, None),
    "uint8": (7, None),
    "int16": (7, None),
    "int8": (7, None),
    "uint16": (7, None),
    "qint8": (7, None),
    "quint8": (7, None),
    "qint16": (7, None),
    "quint16": (7, None),
    "qint32": (7, None),
    "int64": (10, None),
    "bool": (11, None),
    "complex64": (9, "<f4"),
    "complex128": (12, "<f8"),
    "float16": (13, None),
    "bfloat16": (13, None),
    "uint32": (16, None),
    "uint64": (17, None),
}
_WIRE = {"<f4": 5, "<f8": 1}  # the wire type of one unpacked float or double


def _typed(chunks: list[tuple[int, int | bytes]], item: str | None) -> np.ndarray:
    """A typed repeated field's values, packed (one bytes chunk) or not (one field per value)."""
    parts = []
    for wire, chunk in chunks:
        if item and wire == 2:
            if len(chunk) % np.dtype(item).itemsize:
                raise DamagedError("a packed field's length is not a whole number of values")
            parts.append(np.frombuffer(chunk, item))
        elif item and wire == _WIRE[item]:
            parts.append(np.frombuffer(chunk.to_bytes(np.dtype(item).itemsize, "little"), item))
        elif not item and wire == 2:  # packed varints
            values, pos = [], 0
            while pos < len(chunk):
                value, pos = varint(chunk, pos)
                values.append(value)
            parts.append(np.array(values, dtype=np.uint64))
        elif not item and wire == 0:
            parts.append(np.array([chunk], dtype=np.uint64))
    return np.concatenate(parts) if parts else np.zeros(0, item or np.uint64)


def tensor_values(fields: dict, name: str, dtype: np.dtype | None, shape: tuple[int, ...]) -> np.ndarray:
    """One slice of a TF1 tensor from its `TensorProto` fields (tensor_content, or the typed values).

    TF1 writes neither dtype nor shape there: `name` and `dtype` are the tensor's, `shape` its slice's.
    """
    count = int(np.prod(shape, dtype=np.int64))
    if name == "string":
        values = [v for wire, v in fields.get(8, []) if wire == 2]
        if len(values) != count:
            raise DamagedError(f"a slice holds {len(values)} strings, not the {count} its shape needs")
        return np.array(values, dtype=object).reshape(shape)
    if dtype is None or name not in _TYPED_FIELDS:
        raise DamagedError(f"dtype {name} holds no values a TF1 checkpoint can store")
    content = [v for wire, v in fields.get(4, []) if wire == 2]
    if content:
        array = np.frombuffer(content[-1], dtype=np.uint8)
    else:
        number, item = _TYPED_FIELDS[name]
        array = _typed(fields.get(number, []), item)
        if name in ("float16", "bfloat16"):
            array = array.astype(np.uint16)
        elif dtype.kind in "iub" and dtype.itemsize < 8:  # varints of int32 fields: keep the low bits
            array = array.astype(np.dtype(f"u{dtype.itemsize}"))
        array = array.view(np.uint8) if name != "bool" else (array != 0).view(np.uint8)
    if array.size != count * dtype.itemsize:
        needed = count * dtype.itemsize
        raise DamagedError(f"a slice holds {array.size} bytes of values, not the {needed} needed")
    return array.view(dtype).reshape(shape)
