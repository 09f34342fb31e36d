"""Checkpoint files read from their bytes, without TensorFlow: the `.index` table, data shards, object graph.

A TF2 checkpoint `PREFIX` is `PREFIX.index`, an SSTable (sorted key → value table), and
`PREFIX.data-NNNNN-of-MMMMM`, raw tensor bytes. Key `""` of the table holds a `BundleHeaderProto`,
every other key a `BundleEntryProto` saying where a tensor's bytes sit and their CRC32C. A TF1 V1
checkpoint is one SSTable whose values hold the tensors themselves (`SavedTensorSlices`). Notebook 04
walks these bytes by hand; `ckptkit.files.reader` builds on this module for paths and errors.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import crc32c as _crc32c
import ml_dtypes
import numpy as np

__all__ = [
    "FOOTER_SIZE",
    "MAGIC",
    "Bundle",
    "BundleError",
    "DamagedError",
    "Entry",
    "MissingFileError",
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

MAGIC = bytes.fromhex("57fb808b247547db")  # kTableMagicNumber 0xdb4775248b80fb57, little-endian
FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the 8-byte magic
BLOCK_TRAILER = 5  # compression type (1 byte) + masked CRC32C (4 bytes)
GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


class BundleError(Exception):
    """Base class of what this module raises; `ckptkit.files.reader` turns it into ckptkit's errors."""


class DamagedError(BundleError):
    """Bytes that fail a checksum, a bad magic number, a file cut short."""


class MissingFileError(BundleError):
    """A file the checkpoint needs (a data shard) is not on disk."""

    def __init__(self, message: str, path: str) -> None:
        """Remember which file is missing."""
        super().__init__(message)
        self.path = path


# ---------------------------------------------------------------- checksums and varints


def crc32c(data: bytes | memoryview, crc: int = 0) -> int:
    """The CRC32C (Castagnoli) of `data`, continuing from `crc`."""
    return _crc32c.crc32c(data, crc)


def masked_crc32c(crc: int) -> int:
    """TensorFlow's masked CRC (rotate right 15 bits, add a constant), stored so CRCs of CRCs stay sane."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at `pos`: (value, position after it)."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise DamagedError("a varint runs past the end of its bytes")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DamagedError("a varint is longer than 10 bytes")


# ---------------------------------------------------------------- protobuf wire format


def decode_message(data: bytes | memoryview) -> dict[int, list]:
    """A protobuf message as {field number: [values]}: ints for varint/fixed fields, bytes for the rest."""
    fields: dict[int, list] = {}
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 1:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = varint(data, pos)
            value, pos = bytes(data[pos : pos + size]), pos + size
        elif wire == 5:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise DamagedError(f"protobuf wire type {wire} is not valid")
        if pos > end:
            raise DamagedError("a protobuf field runs past the end of its message")
        fields.setdefault(number, []).append(value)
    return fields


def _one(fields: dict[int, list], number: int, default: object = 0) -> object:
    values = fields.get(number)
    return values[-1] if values else default


def _signed(value: int) -> int:
    """A varint read as int64 (negative numbers are ten-byte two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shape(raw: bytes) -> tuple[int, ...] | None:
    """A `TensorShapeProto`: dims (field 2, each with size 1), or None for an unknown rank (field 3)."""
    fields = decode_message(raw)
    if _one(fields, 3):
        return None
    return tuple(_signed(_one(decode_message(d), 1)) for d in fields.get(2, []))


def _slice(raw: bytes) -> tuple[tuple[int, int], ...]:
    """A `TensorSliceProto` as (start, length) per dimension; length -1 means the whole dimension."""
    extents = []
    for extent in decode_message(raw).get(1, []):
        f = decode_message(extent)
        extents.append((_signed(_one(f, 1)), _signed(_one(f, 2)) if 2 in f else -1))
    return tuple(extents)


# ---------------------------------------------------------------- dtypes

# DataType enum of tensorflow/core/framework/types.proto → NumPy dtype and TensorFlow's name.
DTYPES: dict[int, tuple[str, np.dtype | None]] = {
    1: ("float32", np.dtype(np.float32)),
    2: ("float64", np.dtype(np.float64)),
    3: ("int32", np.dtype(np.int32)),
    4: ("uint8", np.dtype(np.uint8)),
    5: ("int16", np.dtype(np.int16)),
    6: ("int8", np.dtype(np.int8)),
    7: ("string", None),
    8: ("complex64", np.dtype(np.complex64)),
    9: ("int64", np.dtype(np.int64)),
    10: ("bool", np.dtype(np.bool_)),
    11: ("qint8", np.dtype(np.int8)),
    12: ("quint8", np.dtype(np.uint8)),
    13: ("qint32", np.dtype(np.int32)),
    14: ("bfloat16", np.dtype(ml_dtypes.bfloat16)),
    15: ("qint16", np.dtype(np.int16)),
    16: ("quint16", np.dtype(np.uint16)),
    17: ("uint16", np.dtype(np.uint16)),
    18: ("complex128", np.dtype(np.complex128)),
    19: ("float16", np.dtype(np.float16)),
    20: ("resource", None),
    21: ("variant", None),
    22: ("uint32", np.dtype(np.uint32)),
    23: ("uint64", np.dtype(np.uint64)),
    24: ("float8_e5m2", np.dtype(ml_dtypes.float8_e5m2)),
    25: ("float8_e4m3fn", np.dtype(ml_dtypes.float8_e4m3fn)),
    26: ("float8_e4m3fnuz", np.dtype(ml_dtypes.float8_e4m3fnuz)),
    27: ("float8_e4m3b11fnuz", np.dtype(ml_dtypes.float8_e4m3b11fnuz)),
    28: ("float8_e5m2fnuz", np.dtype(ml_dtypes.float8_e5m2fnuz)),
    29: ("int4", np.dtype(ml_dtypes.int4)),
    30: ("uint4", np.dtype(ml_dtypes.uint4)),
}


NUMPY_DTYPES = dict(DTYPES.values())


def _dtype(number: int) -> tuple[str, np.dtype | None]:
    if number not in DTYPES:
        raise DamagedError(f"dtype number {number} is not one TensorFlow defines")
    return DTYPES[number]


# ---------------------------------------------------------------- the SSTable


def parse_footer(footer: bytes) -> tuple[tuple[int, int], tuple[int, int]]:
    """The last 48 bytes of a table: its metaindex and index block handles, each (offset, size)."""
    if len(footer) != FOOTER_SIZE:
        raise DamagedError(f"the file is shorter than a table footer ({FOOTER_SIZE} bytes)")
    if footer[-8:] != MAGIC:
        raise DamagedError("not an sstable (bad magic number)")
    handles, pos = [], 0
    for _ in range(4):
        value, pos = varint(footer, pos)
        handles.append(value)
    return (handles[0], handles[1]), (handles[2], handles[3])


def read_block(table: bytes | memoryview, handle: tuple[int, int]) -> bytes:
    """The contents of one block: checksum verified, snappy-decompressed when its type byte says 1."""
    offset, size = handle
    if offset + size + BLOCK_TRAILER > len(table):
        raise DamagedError("truncated block read")
    raw = table[offset : offset + size + 1]  # contents + compression type: the CRC covers both
    stored = int.from_bytes(table[offset + size + 1 : offset + size + BLOCK_TRAILER], "little")
    if masked_crc32c(crc32c(raw)) != stored:
        raise DamagedError("block checksum mismatch")
    kind = raw[-1]
    if kind == 0:
        return bytes(raw[:-1])
    if kind == 1:
        import cramjam  # only tables written with snappy compression need it

        try:
            return bytes(cramjam.snappy.decompress_raw(bytes(raw[:-1])))
        except Exception as err:  # cramjam raises its own DecompressionError
            raise DamagedError(f"corrupted compressed block contents ({err})") from None
    raise DamagedError(f"bad block type {kind}")


def block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs of a block; each key shares a prefix with the one before it."""
    if len(block) < 4:
        raise DamagedError("bad block contents (shorter than its restart count)")
    restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 * (restarts + 1)  # the restart offsets (fixed32 each) end the block
    if limit < 0:
        raise DamagedError("bad block contents (restart array larger than the block)")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = varint(block, pos)
        non_shared, pos = varint(block, pos)
        value_len, pos = varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise DamagedError("bad entry in block")
        key = key[:shared] + block[pos : pos + non_shared]
        pos += non_shared
        yield key, block[pos : pos + value_len]
        pos += value_len


def read_table(table: bytes) -> dict[bytes, bytes]:
    """Every key → value of an SSTable held in `table`, in key order."""
    _, index_handle = parse_footer(table[-FOOTER_SIZE:])
    entries: dict[bytes, bytes] = {}
    for _, handle_bytes in block_entries(read_block(table, index_handle)):
        offset, pos = varint(handle_bytes, 0)
        size, _ = varint(handle_bytes, pos)
        entries.update(block_entries(read_block(table, (offset, size))))
    return entries


def is_table(path: str | os.PathLike[str]) -> bool:
    """True when the file ends with the SSTable magic number (a `.index` file or a V1 checkpoint)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() < FOOTER_SIZE:
                return False
            f.seek(-8, os.SEEK_END)
            return f.read(8) == MAGIC
    except OSError:
        return False


# ---------------------------------------------------------------- bundle entries


@dataclass(frozen=True)
class Entry:
    """Where one tensor sits: dtype, shape, data shard, byte range, masked CRC32C, and its slices if cut."""

    dtype: str
    shape: tuple[int, ...]
    shard_id: int = 0
    offset: int = 0
    size: int = 0
    crc32c: int = 0
    slices: tuple[tuple[tuple[int, int], ...], ...] = ()


def parse_entry(raw: bytes) -> Entry:
    """Decode a `BundleEntryProto` (dtype 1, shape 2, shard_id 3, offset 4, size 5, crc32c 6, slices 7)."""
    f = decode_message(raw)
    shape = _shape(_one(f, 2, b"")) or ()
    return Entry(
        dtype=_dtype(_one(f, 1))[0],
        shape=shape,
        shard_id=_one(f, 3),
        offset=_one(f, 4),
        size=_one(f, 5),
        crc32c=_one(f, 6),
        slices=tuple(_slice(s) for s in f.get(7, [])),
    )


def _ordered_num(value: int) -> bytes:
    """OrderedCode's WriteNumIncreasing: a length byte, then the big-endian bytes without leading zeros."""
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes([len(body)]) + body


def _ordered_signed(value: int) -> bytes:
    """OrderedCode's WriteSignedNumIncreasing: a unary length header, then two's complement bits."""
    x = ~value if value < 0 else value
    length = min(x.bit_length() // 7 + 1, 10)
    headers = {
        1: (0x80, 0),
        2: (0xC0, 0),
        3: (0xE0, 0),
        4: (0xF0, 0),
        5: (0xF8, 0),
        6: (0xFC, 0),
        7: (0xFE, 0),
        8: (0xFF, 0),
        9: (0xFF, 0x80),
        10: (0xFF, 0xC0),
    }
    buf = bytearray(value.to_bytes(10, "big", signed=True))[10 - length :]
    buf[0] ^= headers[length][0]
    if length > 1:
        buf[1] ^= headers[length][1]
    return bytes(buf)


def slice_key(name: str, extents: tuple[tuple[int, int], ...]) -> bytes:
    """The table key of one slice of tensor `name` (TensorFlow's EncodeTensorNameSlice)."""
    escaped = name.encode().replace(b"\xff", b"\xff\x00").replace(b"\x00", b"\x00\xff")
    key = _ordered_num(0) + escaped + b"\x00\x01" + _ordered_num(len(extents))
    for start, length in extents:
        key += _ordered_signed(start) + _ordered_signed(length)
    return key


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
    _v1: dict[str, list[tuple[tuple[tuple[int, int], ...], bytes]]] = field(default_factory=dict, repr=False)
    _slices: dict[bytes, Entry] = field(default_factory=dict, repr=False)
    _files: dict[int, object] = field(default_factory=dict, repr=False)

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
        header = decode_message(table.pop(b"", b""))
        entries: dict[str, Entry] = {}
        for key, value in table.items():
            if key.startswith(b"\x00"):
                continue  # a slice of a cut variable: reached through its full entry's `slices`
            entries[key.decode("utf-8", "replace")] = parse_entry(value)
        bundle = cls(prefix, 2, entries, num_shards=_one(header, 1, 1), big_endian=_one(header, 2) == 1)
        bundle._slices = {k: parse_entry(v) for k, v in table.items() if k.startswith(b"\x00")}
        return bundle

    @classmethod
    def _open_v1(cls, prefix: str, files: list[str]) -> Bundle:
        entries: dict[str, Entry] = {}
        slices: dict[str, list] = {}
        for path in files:
            with open(path, "rb") as f:
                table = read_table(f.read())
            meta = decode_message(_one(decode_message(table.pop(b"", b"")), 1, b""))
            for raw in meta.get(1, []):  # SavedSliceMeta: name 1, shape 2, type 3, slice 4
                m = decode_message(raw)
                name = _one(m, 1, b"").decode()
                entries[name] = Entry(_dtype(_one(m, 3))[0], _shape(_one(m, 2, b"")) or ())
            for value in table.values():
                saved = decode_message(_one(decode_message(value), 2, b""))  # SavedSlice: name, slice, data
                name = _one(saved, 1, b"").decode()
                slices.setdefault(name, []).append((_slice(_one(saved, 2, b"")), _one(saved, 3, b"")))
        return cls(prefix, 1, entries, _v1=slices)

    def sorted_keys(self) -> list[str]:
        """Every stored key, sorted (the object graph included)."""
        return sorted(self.entries)

    def read_bytes(self, entry: Entry) -> bytes:
        """The raw bytes of one entry, from its data shard."""
        path = data_file(self.prefix, entry.shard_id, self.num_shards)
        f = self._files.get(entry.shard_id)
        if f is None:
            try:
                f = self._files[entry.shard_id] = open(path, "rb")  # noqa: SIM115 (closed in close())
            except FileNotFoundError:
                raise MissingFileError(f"data file {os.path.basename(path)!r} is missing", path) from None
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
        if self.version == 1:
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
        crc = crc32c(raw)
        if entry.dtype == "string":
            return _strings(key, entry, raw)
        if entry.dtype == "variant":
            return _variants(key, entry, raw)
        if masked_crc32c(crc) != entry.crc32c:
            raise DamagedError(f"checksum does not match for {key!r}: the stored bytes changed")
        dtype = NUMPY_DTYPES[entry.dtype]
        if dtype is None:
            raise DamagedError(f"{key!r} has dtype {entry.dtype}, which holds no values to read")
        count = int(np.prod(entry.shape, dtype=np.int64))
        if count * dtype.itemsize != len(raw):
            raise DamagedError(
                f"{key!r} holds {len(raw)} bytes, not the {count * dtype.itemsize} its shape needs"
            )
        value = np.frombuffer(raw, dtype=dtype.newbyteorder(">") if self.big_endian else dtype)
        if self.big_endian:
            value = value.astype(dtype)  # swapped into this machine's byte order
        return value.reshape(entry.shape)

    def _assemble(self, key: str, entry: Entry) -> np.ndarray:
        """A variable saved in slices (a sharding policy cut it): read each slice, put it in place."""
        parts = []
        for extents in entry.slices:
            raw_key = slice_key(key, extents)
            part = self._slices.get(raw_key)
            if part is None:
                raise DamagedError(f"slice {extents} of {key!r} is not in the index")
            parts.append((extents, self._read(key, part)))
        return _place(entry, parts)

    def _get_v1(self, key: str, entry: Entry) -> np.ndarray:
        parts = [(ext, _tensor_proto(key, entry, ext, raw)) for ext, raw in self._v1.get(key, [])]
        if not parts:
            raise DamagedError(f"no data for {key!r} in the TF1 checkpoint")
        return _place(entry, parts)

    def close(self) -> None:
        """Close the data files opened for reading."""
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self) -> Bundle:
        """Use as a context manager: data files close at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the data files."""
        self.close()


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


def _place(entry: Entry, parts: list[tuple[tuple[tuple[int, int], ...], np.ndarray]]) -> np.ndarray:
    """Put slices into a full array; a single whole slice is returned as it is."""
    if len(parts) == 1 and all(length == -1 for _, length in parts[0][0]):
        return parts[0][1].reshape(entry.shape)
    first = parts[0][1]
    full = np.empty(entry.shape, dtype=first.dtype)
    for extents, value in parts:
        index = tuple(
            slice(None) if length == -1 else slice(start, start + length) for start, length in extents
        )
        full[index] = value
    return full


def _strings(key: str, entry: Entry, raw: bytes) -> np.ndarray:
    """A string tensor: varint lengths, a masked CRC of the lengths, then the bytes of each string."""
    count = int(np.prod(entry.shape, dtype=np.int64))
    lengths, pos, crc = [], 0, 0
    for _ in range(count):
        n, pos = varint(raw, pos)
        lengths.append(n)
        # TensorFlow checksums each length as a fixed-width integer, not as its varint bytes.
        crc = crc32c(n.to_bytes(4 if n <= 0xFFFFFFFF else 8, "little"), crc)
    stored = raw[pos : pos + 4]
    if len(stored) < 4 or int.from_bytes(stored, "little") != masked_crc32c(crc):
        raise DamagedError(f"checksum does not match for the lengths of strings {key!r}")
    crc = crc32c(stored, crc)
    pos += 4
    values = []
    for n in lengths:
        values.append(raw[pos : pos + n])
        pos += n
    crc = crc32c(raw[pos - sum(lengths) : pos], crc)
    if pos != len(raw) or masked_crc32c(crc) != entry.crc32c:
        raise DamagedError(f"checksum does not match for {key!r}: the stored strings changed")
    return np.array(values, dtype=object).reshape(entry.shape)


def _variants(key: str, entry: Entry, raw: bytes) -> bytes:
    """A variant tensor's raw bytes, checked: each element `[varint len][VariantTensorDataProto][CRC]`."""
    count = int(np.prod(entry.shape, dtype=np.int64))
    pos, crc = 0, 0
    for _ in range(count):
        n, pos = varint(raw, pos)
        # The running CRC covers each length as a uint64, the element, then the element's own stored CRC.
        crc = crc32c(element := raw[pos : pos + n], crc32c(n.to_bytes(8, "little"), crc))
        pos += n
        stored = raw[pos : pos + 4]
        if len(element) < n or len(stored) < 4 or int.from_bytes(stored, "little") != masked_crc32c(crc):
            raise DamagedError(f"checksum does not match for variant {key!r}")
        crc = crc32c(stored, crc)
        pos += 4
    if masked_crc32c(crc) != entry.crc32c:
        raise DamagedError(f"checksum does not match for {key!r}: the stored bytes changed")
    return raw


# TensorProto's typed repeated fields, by dtype: field number, packed struct code (None: varints).
_TYPED_FIELDS = {
    "float32": (5, "f"),
    "float64": (6, "d"),
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
    "complex64": (9, "f"),
    "complex128": (12, "d"),
    "float16": (13, None),
    "bfloat16": (13, None),
    "uint32": (16, None),
    "uint64": (17, None),
}


def _tensor_proto(key: str, entry: Entry, extents: tuple[tuple[int, int], ...], raw: bytes) -> np.ndarray:
    """One slice of a TF1 tensor: a `TensorProto` holding only values (tensor_content, or typed fields).

    TF1 writes neither dtype nor shape there: the dtype is the tensor's, the shape its slice's extents.
    """
    f = decode_message(raw)
    name, dtype = entry.dtype, NUMPY_DTYPES[entry.dtype]
    shape = tuple(
        dim if length == -1 else length
        for dim, (_, length) in zip(entry.shape, extents or [(0, -1)] * len(entry.shape), strict=True)
    )
    if name == "string":
        return np.array(f.get(8, []), dtype=object).reshape(shape)
    if dtype is None:
        raise DamagedError(f"{key!r} has dtype {name}, which holds no values to read")
    if 4 in f:
        return np.frombuffer(_one(f, 4), dtype=dtype).reshape(shape)
    number, code = _TYPED_FIELDS[name]
    values: list = []
    for chunk in f.get(number, []):
        if isinstance(chunk, bytes) and code:  # packed floats/doubles
            values.extend(struct.unpack(f"<{len(chunk) // struct.calcsize(code)}{code}", chunk))
        elif isinstance(chunk, bytes):  # packed varints
            pos = 0
            while pos < len(chunk):
                v, pos = varint(chunk, pos)
                values.append(v)
        else:  # unpacked: one value per field occurrence
            values.append(
                struct.unpack(f"<{code}", chunk.to_bytes(struct.calcsize(code), "little"))[0]
                if code
                else chunk
            )
    if name in ("float16", "bfloat16"):
        array = np.array(values, dtype=np.uint16).view(dtype)
    elif name.startswith("complex"):
        array = np.array(values, dtype=np.float32 if name == "complex64" else np.float64).view(dtype)
    elif name == "uint64":
        array = np.array(values, dtype=np.uint64)
    elif dtype.kind in "iu":  # varints: negative numbers arrive as ten-byte two's complement
        array = np.array([_signed(v) for v in values], dtype=np.int64).astype(dtype)
    else:
        array = np.array(values, dtype=dtype)
    count = int(np.prod(shape, dtype=np.int64))
    if array.size == 1 and count > 1:  # TensorFlow stores a tensor of one repeated value once
        array = np.full(count, array[0], dtype=dtype)
    return array.reshape(shape)


def read_object_graph(bundle: Bundle) -> dict | None:
    """The `TrackableObjectGraph` as plain data: nodes with children, attributes and slot variables."""
    if GRAPH_KEY not in bundle.entries:
        return None
    value = bundle.get(GRAPH_KEY)
    raw = value.item() if isinstance(value, np.ndarray) else value
    nodes = []
    for node_raw in decode_message(raw).get(1, []):
        n = decode_message(node_raw)
        children = [(_one(c, 1), _one(c, 2, b"").decode()) for c in (decode_message(x) for x in n.get(1, []))]
        attributes = [
            {
                "name": _one(a, 1, b"").decode(),
                "full_name": _one(a, 2, b"").decode(),
                "checkpoint_key": _one(a, 3, b"").decode(),
            }
            for a in (decode_message(x) for x in n.get(2, []))
        ]
        slots = [
            {
                "original_variable_node_id": _one(s, 1),
                "slot_name": _one(s, 2, b"").decode(),
                "slot_variable_node_id": _one(s, 3),
            }
            for s in (decode_message(x) for x in n.get(3, []))
        ]
        nodes.append({"children": children, "attributes": attributes, "slot_variables": slots})
    return {"nodes": nodes}
