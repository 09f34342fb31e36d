"""Checkpoint files read from their bytes, without TensorFlow: the `.index` table, data shards, object graph.

A TF2 checkpoint `PREFIX` is `PREFIX.index`, an SSTable (sorted key → value table), and
`PREFIX.data-NNNNN-of-MMMMM`, raw tensor bytes. Key `""` of the table holds a `BundleHeaderProto`,
every other key a `BundleEntryProto` saying where a tensor's bytes sit and their CRC32C. A TF1 V1
checkpoint is one SSTable whose values hold the tensors themselves (`SavedTensorSlices`). This module
turns stored bytes into values, with `table` (the SSTable), `proto` (its messages) and `v1` (TF1's
format); notebook 04 walks the bytes by hand with the names it re-exports.
"""

from __future__ import annotations

from ckptkit.files.proto import (
    DTYPE_NAMES,
    Entry,
    decode_message,
    name_of_dtype,
    parse_entry,
    parse_header,
    parse_object_graph,
    slice_key,
)
from ckptkit.files.table import (
    FOOTER_SIZE,
    MAGIC,
    BundleError,
    DamagedError,
    UnsupportedError,
    block_entries,
    crc32c,
    is_table,
    masked_crc32c,
    parse_footer,
    read_block,
    read_table,
    varint,
)
from ckptkit.files.v1 import V1Files, tensor_values, v1_files

import math
import os
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np

__all__ = [
    "FOOTER_SIZE",
    "GRAPH_KEY",
    "MAGIC",
    "NUMPY_DTYPES",
    "Bundle",
    "BundleError",
    "DamagedError",
    "Entry",
    "MissingFileError",
    "UnsupportedError",
    "block_entries",
    "crc32c",
    "data_file",
    "decode_message",
    "is_table",
    "masked_crc32c",
    "parse_entry",
    "parse_footer",
    "read_block",
    "read_object_graph",
    "read_table",
    "slice_key",
    "v1_files",
    "varint",
]

GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


class MissingFileError(BundleError):
    """A file the checkpoint needs (a data shard) is not on disk."""

    def __init__(self, message: str, path: str) -> None:
        """Remember which file is missing."""
        super().__init__(message)
        self.path = path


# TensorFlow's dtype names → NumPy dtypes (ml_dtypes for the narrow floats and ints, one byte per
# number on disk as in memory); strings, resources and variants have none.
NUMPY_DTYPES: dict[str, np.dtype] = {
    **{name: np.dtype(name) for name in ("float16", "float32", "float64", "complex64", "complex128", "bool")},
    **{name: np.dtype(name) for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")},
    **{"uint64": np.dtype(np.uint64), "qint8": np.dtype(np.int8), "quint8": np.dtype(np.uint8)},
    **{"qint16": np.dtype(np.int16), "quint16": np.dtype(np.uint16), "qint32": np.dtype(np.int32)},
    # ml_dtypes' narrow numbers; TensorFlow 2.21's int2, uint2 and float4_e2m1fn need ml_dtypes 0.5 or later
    **{
        name: np.dtype(getattr(ml_dtypes, name))
        for name in DTYPE_NAMES.values()
        if name.startswith(("bfloat", "float8", "float4", "int2", "uint2", "int4", "uint4"))
        and hasattr(ml_dtypes, name)
    },
}


def _numpy_dtype(key: str, entry: Entry) -> np.dtype:
    dtype = NUMPY_DTYPES.get(entry.dtype)
    if dtype is None:
        if entry.dtype == "resource":
            raise DamagedError(f"{key!r} has dtype resource, which holds no values to read")
        if entry.dtype_number in DTYPE_NAMES:  # one of TensorFlow 2.21's newest, with an older ml_dtypes
            raise UnsupportedError(
                f"{key!r} has unsupported dtype {entry.dtype_number} ({entry.dtype}): "
                "install ml_dtypes 0.5 or later, or read it with tf.train.load_checkpoint"
            )
        raise UnsupportedError(
            f"{key!r} has unsupported dtype {entry.dtype_number}, which TensorFlow 2.21 does not define: "
            "read it with the TensorFlow that wrote it"
        )
    return dtype


def _name(key: bytes) -> str:
    """A stored key as text: TensorFlow's Python reader refuses one that is not UTF-8, and so does this."""
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        raise DamagedError(f"key {key!r} of the index is not valid UTF-8") from None


def data_file(prefix: str, shard: int, shards: int) -> str:
    """The name of one data shard: `PREFIX.data-00000-of-00001`."""
    return f"{prefix}.data-{shard:05d}-of-{shards:05d}"


# ---------------------------------------------------------------- a whole checkpoint


@dataclass
class Bundle:
    """One checkpoint opened from its files: keys, dtypes and shapes at once; values read on demand."""

    prefix: str
    version: int  # 2: `.index` + `.data-*` shards; 1: a TF1 single-file table
    entries: dict[str, Entry]
    num_shards: int = 1
    big_endian: bool = False
    _slices: dict[bytes, Entry] = field(default_factory=dict, repr=False)  # every index entry, by raw key
    _files: dict[int, object] = field(default_factory=dict, repr=False)
    _v1: V1Files | None = field(default=None, repr=False)

    @classmethod
    def open(cls, prefix: str) -> Bundle:
        """Open `prefix` (`prefix.index` exists) or a TF1 V1 file, reading only the index."""
        if os.path.exists(prefix + ".index"):
            return cls._open_v2(prefix)
        v1 = v1_files(prefix)
        if not v1:
            raise MissingFileError(
                f"no file {prefix + '.index'!r} and no TF1 checkpoint file", prefix + ".index"
            )
        return cls._open_v1(prefix, v1)

    @classmethod
    def _open_v2(cls, prefix: str) -> Bundle:
        with open(prefix + ".index", "rb") as f:
            table = read_table(f.read())
        if next(iter(table), None) != b"":
            raise DamagedError("the index does not start with its header entry")
        num_shards, big_endian = parse_header(table.pop(b""))
        parsed = {key: parse_entry(value) for key, value in table.items()}
        # As TensorFlow lists them: every key but those a cut variable names as its slices.
        slices = {slice_key(k, ext) for k, e in parsed.items() for ext in e.slices}
        entries = {_name(k): e for k, e in parsed.items() if k not in slices}
        return cls(prefix, 2, entries, num_shards, big_endian, _slices=parsed)

    @classmethod
    def _open_v1(cls, prefix: str, files: list[str]) -> Bundle:
        v1 = V1Files(files)
        entries = {
            name: Entry(name_of_dtype(number), shape, dtype_number=number)
            for name, (number, shape, _) in v1.tensors.items()
        }
        return cls(prefix, 1, entries, _v1=v1)

    def sorted_keys(self) -> list[str]:
        """Every stored key, sorted (the object graph included)."""
        return sorted(self.entries)

    def data_files(self) -> list[str]:
        """The data shards the index points into (none for a TF1 V1 file)."""
        shards = {e.shard_id for e in self._slices.values() if not e.slices}
        return [data_file(self.prefix, shard, self.num_shards) for shard in sorted(shards)]

    def read_bytes(self, entry: Entry) -> bytes:
        """The raw bytes of one entry, from its data shard."""
        path = data_file(self.prefix, entry.shard_id, self.num_shards)
        f = self._files.get(entry.shard_id)
        if f is None:
            try:
                f = self._files[entry.shard_id] = open(path, "rb")  # noqa: SIM115 (closed in close())
            except FileNotFoundError:
                raise MissingFileError(f"data file {os.path.basename(path)!r} is missing", path) from None
        if entry.offset < 0 or entry.size < 0:
            raise DamagedError(f"data file {os.path.basename(path)!r}: the index gives a negative byte range")
        f.seek(entry.offset)
        raw = f.read(entry.size)
        if len(raw) != entry.size:
            raise DamagedError(
                f"data file {os.path.basename(path)!r} is cut short (read fewer bytes than requested)"
            )
        return raw

    def get(self, key: str) -> np.ndarray | bytes:
        """The value stored under `key` as a NumPy array, checksum verified; variants as their raw bytes."""
        entry = self.entries[key]
        if self._v1 is not None:
            return self._get_v1(key, entry)
        if entry.slices:
            return self._assemble(key, entry)
        return self._read(key, entry)

    def _read(self, key: str, entry: Entry) -> np.ndarray | bytes:
        """Read and decode one stored tensor; damage is reported with the data file it is in."""
        try:
            return self._decode(key, entry, self.read_bytes(entry))
        except DamagedError as err:
            if str(err).startswith("data file"):
                raise
            name = os.path.basename(data_file(self.prefix, entry.shard_id, self.num_shards))
            raise DamagedError(f"data file {name}: {err}") from None

    def _decode(self, key: str, entry: Entry, raw: bytes) -> np.ndarray | bytes:
        if entry.dtype == "string":
            return _strings(key, entry, raw, self.big_endian)
        if entry.dtype == "variant":
            return _variants(key, entry, raw, self.big_endian)
        if masked_crc32c(crc32c(raw)) != entry.crc32c:
            raise DamagedError(f"checksum does not match for {key!r}: the stored bytes changed")
        dtype = _numpy_dtype(key, entry)  # after the checksum: damage is named before an unread dtype
        count = math.prod(entry.shape)
        if count * dtype.itemsize != len(raw):
            raise DamagedError(
                f"{key!r} holds {len(raw)} bytes, not the {count * dtype.itemsize} its shape needs"
            )
        if self.big_endian and dtype.itemsize > 1:
            # TensorFlow swaps each number's bytes (each half of a complex number on its own).
            unit = dtype.itemsize // 2 if dtype.kind == "c" else dtype.itemsize
            return np.frombuffer(raw, np.dtype(f"u{unit}")).byteswap().view(dtype).reshape(entry.shape)
        return np.frombuffer(raw, dtype=dtype).reshape(entry.shape)

    def _assemble(self, key: str, entry: Entry) -> np.ndarray:
        """A variable saved in slices (a sharding policy cut it): read each slice, put it in place."""
        boxes = _covering(key, entry.shape, entry.slices)
        parts = []
        for extents, box in zip(entry.slices, boxes, strict=True):
            part = self._slices.get(slice_key(key, extents))
            if part is None:
                raise DamagedError(f"slice {extents} of {key!r} is not in the index")
            if part.dtype != entry.dtype or part.shape != tuple(end - start for start, end in box):
                raise DamagedError(f"slice {extents} of {key!r} has another dtype or shape than its place")
            parts.append((box, self._read(key, part)))
        return _place(entry.shape, parts)

    def _get_v1(self, key: str, entry: Entry) -> np.ndarray:
        dtype = None if entry.dtype == "string" else _numpy_dtype(key, entry)
        slices = [extents for extents, _ in self._v1.tensors[key][2]]
        boxes = _covering(key, entry.shape, slices)
        parts = [
            (box, tensor_values(fields, entry.dtype, dtype, tuple(e - s for s, e in box)))
            for box, (_, fields) in zip(boxes, self._v1.records(key), strict=True)
        ]
        return _place(entry.shape, parts)

    def close(self) -> None:
        """Close the data files opened for reading."""
        for f in self._files.values():
            f.close()
        self._files.clear()
        if self._v1 is not None:
            self._v1.close()

    def __enter__(self) -> Bundle:
        """Use as a context manager: data files close at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the data files."""
        self.close()


# ---------------------------------------------------------------- slices

Box = list[tuple[int, int]]  # [start, end) per dimension


def _covering(key: str, shape: tuple[int, ...], slices: list | tuple) -> list[Box]:
    """Each slice as a box, checked as TensorFlow checks them: in bounds, disjoint, covering the tensor."""
    boxes: list[Box] = []
    for extents in slices:
        if len(extents) != len(shape):
            raise DamagedError(f"slice {extents} of {key!r} has another rank than its shape {shape}")
        box = []
        for (start, length), dim in zip(extents, shape, strict=True):
            if length == -1 and start == 0:
                box.append((0, dim))
            elif start < 0 or length < 0 or start + length > dim:
                raise DamagedError(f"slice {extents} of {key!r} lies outside its shape {shape}")
            else:
                box.append((start, start + length))
        if any(all(max(a, c) < min(b, d) for (a, b), (c, d) in zip(box, o, strict=True)) for o in boxes):
            raise DamagedError(f"slice {extents} of {key!r} overlaps another of its slices")
        boxes.append(box)
    covered, total = sum(math.prod(end - start for start, end in box) for box in boxes), math.prod(shape)
    if covered != total or not boxes:
        raise DamagedError(
            f"{key!r} does not have sufficient slices: they hold {covered:,} of its {total:,} values"
        )
    return boxes


def _place(shape: tuple[int, ...], parts: list[tuple[Box, np.ndarray]]) -> np.ndarray:
    """Put checked, covering slices into a full array; a single whole slice is returned as it is."""
    if len(parts) == 1:
        return parts[0][1].reshape(shape)
    full = np.empty(shape, dtype=parts[0][1].dtype)
    for box, value in parts:
        full[tuple(slice(start, end) for start, end in box)] = value
    return full


# ---------------------------------------------------------------- strings and variants


def _strings(key: str, entry: Entry, raw: bytes, big_endian: bool = False) -> np.ndarray:
    """A string tensor: varint lengths, a masked CRC of the lengths, then the bytes of each string.

    TensorFlow checksums each length as a fixed-width integer in the writer's byte order, not as its
    varint bytes, and stores the lengths' checksum in that order too.
    """
    order = "big" if big_endian else "little"
    count = math.prod(entry.shape)
    lengths, pos, crc = [], 0, 0
    for _ in range(count):  # each varint takes a byte at least: the loop ends with `raw`
        n, pos = varint(raw, pos)
        lengths.append(n)
        crc = crc32c(n.to_bytes(4 if n <= 0xFFFFFFFF else 8, order), crc)
    stored = raw[pos : pos + 4]
    if len(stored) < 4 or int.from_bytes(stored, order) != masked_crc32c(crc):
        raise DamagedError(f"checksum does not match for the lengths of strings {key!r}")
    pos += 4
    if pos + sum(lengths) != len(raw):
        raise DamagedError(f"the lengths of strings {key!r} do not add up to their stored bytes")
    if masked_crc32c(crc32c(raw[pos:], crc32c(stored, crc))) != entry.crc32c:
        raise DamagedError(f"checksum does not match for {key!r}: the stored strings changed")
    values = []
    for n in lengths:
        values.append(raw[pos : pos + n])
        pos += n
    return np.array(values, dtype=object).reshape(entry.shape)


def _variants(key: str, entry: Entry, raw: bytes, big_endian: bool = False) -> bytes:
    """A variant tensor's raw bytes, checked: each element `[varint len][VariantTensorDataProto][CRC]`."""
    order = "big" if big_endian else "little"
    count = math.prod(entry.shape)
    pos, crc = 0, 0
    for _ in range(count):
        n, pos = varint(raw, pos)
        # The running CRC covers each length as a uint64, the element, then the element's own stored CRC.
        crc = crc32c(element := raw[pos : pos + n], crc32c(n.to_bytes(8, order), crc))
        pos += n
        stored = raw[pos : pos + 4]
        if len(element) < n or len(stored) < 4 or int.from_bytes(stored, order) != masked_crc32c(crc):
            raise DamagedError(f"checksum does not match for variant {key!r}")
        crc = crc32c(stored, crc)
        pos += 4
    if masked_crc32c(crc) != entry.crc32c:
        raise DamagedError(f"checksum does not match for {key!r}: the stored bytes changed")
    return raw


def read_object_graph(bundle: Bundle) -> dict | None:
    """The `TrackableObjectGraph` as plain data: nodes with children, attributes and slot variables."""
    if GRAPH_KEY not in bundle.entries:
        return None
    value = bundle.get(GRAPH_KEY)
    raw = value.item() if isinstance(value, np.ndarray) and value.shape == () else None
    if not isinstance(raw, bytes):
        raise DamagedError("the object graph is not stored as one string")
    return parse_object_graph(raw)
