"""The few protobuf messages a checkpoint holds, decoded from the wire format without protobuf itself.

`BundleHeaderProto` and `BundleEntryProto` (the `.index` values), `TensorShapeProto`,
`TensorSliceProto`, the `TrackableObjectGraph` and TF1's `SavedTensorSlices`. Fields are read as
protobuf's C++ parser reads them: a field sent with another wire type than its declared one is an
unknown field and skipped, the last value of a singular field wins, and a singular message sent
twice is merged.
"""

from __future__ import annotations

from ckptkit.files.table import DamagedError, UnsupportedError, varint

import re
from dataclasses import dataclass, field

__all__ = [
    "DTYPE_NAMES",
    "Entry",
    "decode_message",
    "name_of_dtype",
    "parse_entry",
    "parse_header",
    "parse_object_graph",
    "parse_shape",
    "parse_slice",
    "parse_v1_meta",
    "parse_v1_slice",
    "slice_key",
]

# DataType enum of tensorflow/core/framework/types.proto → TensorFlow's name for it.
DTYPE_NAMES = {
    **dict(enumerate(["float32", "float64", "int32", "uint8", "int16", "int8", "string"], 1)),
    **dict(enumerate(["complex64", "int64", "bool", "qint8", "quint8", "qint32", "bfloat16"], 8)),
    **dict(enumerate(["qint16", "quint16", "uint16", "complex128", "float16", "resource"], 15)),
    **dict(enumerate(["variant", "uint32", "uint64", "float8_e5m2", "float8_e4m3fn"], 21)),
    **dict(enumerate(["float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2fnuz", "int4", "uint4"], 26)),
    **dict(enumerate(["int2", "uint2", "float4_e2m1fn"], 31)),
}
_MAX_DIMS = 254  # TensorShape's limit
_INT64_MAX = (1 << 63) - 1
_VERSION = 1  # the format version this reader is: kTensorBundleVersion and TF_CHECKPOINT_VERSION are 1


def _fields(data: bytes | memoryview) -> dict[int, list[tuple[int, int | bytes]]]:
    """A message as {field number: [(wire type, value)]}: ints for varint/fixed fields, bytes for the rest."""
    fields: dict[int, list[tuple[int, int | bytes]]] = {}
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if not 0 < number < 1 << 29:
            raise DamagedError(f"protobuf field number {number} is not valid")
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
        fields.setdefault(number, []).append((wire, value))
    return fields


def decode_message(data: bytes | memoryview) -> dict[int, list]:
    """A protobuf message as {field number: [values]}: ints for varint/fixed fields, bytes for the rest."""
    return {number: [value for _, value in values] for number, values in _fields(data).items()}


def _int(fields: dict, number: int, bits: int = 64) -> int:
    """A singular int32/int64/enum/bool field (varint wire type), two's complement; 0 when absent."""
    values = [v for wire, v in fields.get(number, []) if wire == 0]
    if not values:
        return 0
    value = values[-1] & ((1 << bits) - 1)  # an int32 field keeps the low 32 bits of its varint
    return value - (1 << bits) if value >> (bits - 1) else value


def _ints(fields: dict, number: int) -> list[int]:
    """A repeated int32 field, packed or not."""
    out = []
    for wire, value in fields.get(number, []):
        if wire == 0:
            out.append(_int({1: [(0, value)]}, 1, 32))
        elif wire == 2:
            pos = 0
            while pos < len(value):
                item, pos = varint(value, pos)
                out.append(_int({1: [(0, item)]}, 1, 32))
    return out


def _bytes(fields: dict, number: int) -> bytes:
    """A singular bytes/string field: its last value, or b"" when absent."""
    values = [v for wire, v in fields.get(number, []) if wire == 2]
    return values[-1] if values else b""


def _messages(fields: dict, number: int) -> list[bytes]:
    """A repeated message field: each occurrence."""
    return [v for wire, v in fields.get(number, []) if wire == 2]


def _text(raw: bytes) -> str:
    """A proto3 string field: UTF-8, or the message does not parse."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DamagedError("a protobuf string field is not valid UTF-8") from None


def _check_version(raw: bytes, what: str) -> None:
    """A `VersionDef`: refuse files whose writer says this reader's format version is too old or bad."""
    version = _fields(raw)
    if _int(version, 1, 32) < 0:
        raise DamagedError(f"{what} producer version {_int(version, 1, 32)} is below 0")
    if _int(version, 2, 32) > _VERSION:
        raise UnsupportedError(
            f"{what} needs a reader of format version {_int(version, 2, 32)} or newer "
            f"(this one is {_VERSION}): read it with the TensorFlow that wrote it"
        )
    if _VERSION in _ints(version, 3):
        raise UnsupportedError(
            f"{what} disallows readers of format version {_VERSION}: "
            "read it with the TensorFlow that wrote it"
        )


# ---------------------------------------------------------------- shapes and slices


def parse_shape(raw: bytes) -> tuple[int, ...]:
    """A `TensorShapeProto`'s dims, refused as TensorFlow refuses them (negative, too many, too large)."""
    dims = tuple(_int(_fields(d), 1) for d in _messages(_fields(raw), 2))
    if len(dims) > _MAX_DIMS or any(d < 0 for d in dims):
        raise DamagedError(f"invalid tensor shape {dims}")
    count = 1
    for d in dims:
        count *= d
        if count > _INT64_MAX:
            raise DamagedError(f"invalid tensor shape {dims} (more elements than an int64 counts)")
    return dims


def parse_slice(raw: bytes) -> tuple[tuple[int, int], ...]:
    """A `TensorSliceProto` as (start, length) per dimension; length -1 means the whole dimension."""
    extents = []
    for extent in _messages(_fields(raw), 1):
        f = _fields(extent)
        has_length = any(wire == 0 for wire, _ in f.get(2, []))
        extents.append((_int(f, 1), _int(f, 2) if has_length else -1))
    return tuple(extents)


def _ordered_num(value: int) -> bytes:
    """OrderedCode's WriteNumIncreasing: a length byte, then the big-endian bytes without leading zeros."""
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes([len(body)]) + body


# OrderedCode's WriteSignedNumIncreasing: the unary length header of its first two bytes, by length.
_HEADERS = {
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


def _ordered_signed(value: int) -> bytes:
    """OrderedCode's WriteSignedNumIncreasing: a unary length header, then two's complement bits."""
    x = ~value if value < 0 else value
    length = min(x.bit_length() // 7 + 1, 10)
    first, second = _HEADERS[length]
    buf = bytearray(value.to_bytes(10, "big", signed=True))[10 - length :]
    buf[0] ^= first
    if length > 1:
        buf[1] ^= second
    return bytes(buf)


_ESCAPED = {b"\x00": b"\x00\xff", b"\xff": b"\xff\x00"}  # OrderedCode's WriteString escapes


def slice_key(name: str | bytes, extents: tuple[tuple[int, int], ...]) -> bytes:
    """The table key of one slice of tensor `name` (TensorFlow's EncodeTensorNameSlice)."""
    raw = name if isinstance(name, bytes) else name.encode()
    escaped = re.sub(rb"[\x00\xff]", lambda m: _ESCAPED[m.group()], raw)  # in one pass: the two overlap
    key = _ordered_num(0) + escaped + b"\x00\x01" + _ordered_num(len(extents))
    for start, length in extents:
        key += _ordered_signed(start) + _ordered_signed(length)
    return key


# ---------------------------------------------------------------- the `.index` values


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
    dtype_number: int = field(default=1, repr=False, compare=False)  # TensorFlow's DataType enum value


def name_of_dtype(number: int) -> str:
    """TensorFlow's name for a DataType enum value (`float32`), or `dtype N` for one it does not define."""
    return DTYPE_NAMES.get(number, f"dtype {number}")


def parse_entry(raw: bytes) -> Entry:
    """Decode a `BundleEntryProto` (dtype 1, shape 2, shard_id 3, offset 4, size 5, crc32c 6, slices 7)."""
    f = _fields(raw)
    number = _int(f, 1, 32)
    crcs = [v for wire, v in f.get(6, []) if wire == 5]  # fixed32
    return Entry(
        dtype=name_of_dtype(number),
        shape=parse_shape(b"".join(_messages(f, 2))),
        shard_id=_int(f, 3, 32),
        offset=_int(f, 4),
        size=_int(f, 5),
        crc32c=crcs[-1] if crcs else 0,
        slices=tuple(parse_slice(s) for s in _messages(f, 7)),
        dtype_number=number,
    )


def parse_header(raw: bytes) -> tuple[int, bool]:
    """A `BundleHeaderProto`: (number of data shards, big-endian?), its format version checked."""
    f = _fields(raw)
    _check_version(b"".join(_messages(f, 3)), "the checkpoint")
    return _int(f, 1, 32), _int(f, 2, 32) == 1


# ---------------------------------------------------------------- the object graph


def parse_object_graph(raw: bytes) -> dict:
    """A `TrackableObjectGraph` as plain data: nodes with children, attributes and slot variables."""
    nodes = []
    for node_raw in _messages(_fields(raw), 1):
        n = _fields(node_raw)
        children = [(_int(c, 1, 32), _text(_bytes(c, 2))) for c in map(_fields, _messages(n, 1))]
        attributes = [
            {
                "name": _text(_bytes(a, 1)),
                "full_name": _text(_bytes(a, 2)),
                "checkpoint_key": _text(_bytes(a, 3)),
            }
            for a in map(_fields, _messages(n, 2))
        ]
        slots = [
            {
                "original_variable_node_id": _int(s, 1, 32),
                "slot_name": _text(_bytes(s, 2)),
                "slot_variable_node_id": _int(s, 3, 32),
            }
            for s in map(_fields, _messages(n, 3))
        ]
        nodes.append({"children": children, "attributes": attributes, "slot_variables": slots})
    return {"nodes": nodes}


# ---------------------------------------------------------------- TF1's V1 format


def parse_v1_meta(raw: bytes) -> list[tuple[str, int, tuple[int, ...], list[tuple[tuple[int, int], ...]]]]:
    """A V1 file's `SavedTensorSlices` header: (name, dtype number, shape, slices) per tensor."""
    meta = _fields(b"".join(_messages(_fields(raw), 1)))
    _check_version(b"".join(_messages(meta, 2)), "the TF1 checkpoint")
    tensors = []
    for saved in map(_fields, _messages(meta, 1)):  # SavedSliceMeta: name 1, shape 2, type 3, slice 4
        shape = parse_shape(b"".join(_messages(saved, 2)))
        slices = [parse_slice(s) for s in _messages(saved, 4)]
        tensors.append((_text(_bytes(saved, 1)), _int(saved, 3, 32), shape, slices))
    return tensors


def parse_v1_slice(raw: bytes) -> dict[int, list[tuple[int, int | bytes]]]:
    """One V1 record: `SavedTensorSlices.data` (a `SavedSlice`), its `TensorProto` as wire fields."""
    saved = _fields(b"".join(_messages(_fields(raw), 2)))  # SavedSlice: name 1, slice 2, data 3
    return _fields(b"".join(_messages(saved, 3)))
