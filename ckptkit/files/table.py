"""The SSTable a checkpoint index is (and a whole TF1 V1 checkpoint): blocks, restarts, footer.

A table is data blocks of sorted key → value entries, an index block whose entries point at them
(`(offset, size)` block handles), and a 48-byte footer naming the index block. Each block ends with
a compression byte (0 none, 1 snappy) and a masked CRC32C. Inside a block each key stores only the
bytes it does not share with the key before it; restart points (every 16th entry) store whole keys so
a reader can binary-search, and TensorFlow does: a table whose restarts or key order are wrong loses
keys for TensorFlow, so this reader refuses it rather than read what TensorFlow cannot find.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterator

import crc32c as _crc32c

__all__ = [
    "BLOCK_TRAILER",
    "FOOTER_SIZE",
    "MAGIC",
    "BundleError",
    "DamagedError",
    "Table",
    "UnsupportedError",
    "block_entries",
    "crc32c",
    "is_table",
    "masked_crc32c",
    "parse_footer",
    "read_block",
    "read_table",
    "varint",
]

MAGIC = bytes.fromhex("57fb808b247547db")  # kTableMagicNumber 0xdb4775248b80fb57, little-endian
FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the 8-byte magic
BLOCK_TRAILER = 5  # compression type (1 byte) + masked CRC32C (4 bytes)
_UINT64 = (1 << 64) - 1


class BundleError(Exception):
    """Base class of what the file readers raise; `ckptkit.files.reader` turns it into ckptkit's errors."""


class DamagedError(BundleError):
    """Bytes that fail a checksum, a bad magic number, a file cut short."""


class UnsupportedError(BundleError):
    """Sound bytes this reader does not decode: a dtype it has no NumPy form for, a newer format version."""


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
            return result & _UINT64, pos  # bits past 64 are dropped, as TensorFlow's uint64 drops them
        shift += 7
        if shift > 63:
            raise DamagedError("a varint is longer than 10 bytes")


# ---------------------------------------------------------------- footer and blocks


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
    raw = memoryview(table)[offset : offset + size + 1]  # contents + compression type: the CRC covers both
    stored = int.from_bytes(table[offset + size + 1 : offset + size + BLOCK_TRAILER], "little")
    if masked_crc32c(crc32c(raw)) != stored:
        raise DamagedError("block checksum mismatch")
    kind = raw[-1]
    if kind == 0:
        return bytes(raw[:-1])  # the one copy: the table's bytes are not kept
    if kind == 1:
        import cramjam  # only tables written with snappy compression need it

        try:
            return bytes(cramjam.snappy.decompress_raw(bytes(raw[:-1])))
        except Exception as err:  # cramjam raises its own DecompressionError
            raise DamagedError(f"corrupted compressed block contents ({err})") from None
    raise DamagedError(f"bad block type {kind}")


def block_entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs of a block, each key sharing a prefix with the one before it.

    Checked as TensorFlow's binary search needs them: keys in order, restart points at whole keys.
    """
    if len(block) < 4:
        raise DamagedError("bad block contents (shorter than its restart count)")
    restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 * (restarts + 1)  # the restart offsets (fixed32 each) end the block
    if limit < 0:
        raise DamagedError("bad block contents (restart array larger than the block)")
    if restarts == 0:  # TensorFlow reads no entry from a block without restart points
        if limit:
            raise DamagedError("bad block contents (entries but no restart point)")
        return
    entries, whole_keys = [], set()  # whole_keys: offsets of entries that share nothing with the last key
    pos, key = 0, b""
    while pos < limit:
        start = pos
        shared, pos = varint(block, pos)
        non_shared, pos = varint(block, pos)
        value_len, pos = varint(block, pos)
        if shared > len(key) or pos + non_shared + value_len > limit:
            raise DamagedError("bad entry in block")
        if shared == 0:
            whole_keys.add(start)
        following = key[:shared] + block[pos : pos + non_shared]
        if entries and following <= key:
            raise DamagedError("bad entry in block (keys out of order)")
        key = following
        pos += non_shared
        entries.append((key, block[pos : pos + value_len]))
        pos += value_len
    offsets = [int.from_bytes(block[limit + 4 * i : limit + 4 * i + 4], "little") for i in range(restarts)]
    if entries and (offsets[0] != 0 or offsets != sorted(set(offsets)) or not whole_keys.issuperset(offsets)):
        raise DamagedError("bad block contents (restart points do not start whole keys)")
    yield from entries


def _handle(value: bytes) -> tuple[int, int]:
    """An index entry's block handle: two varints (offset, size); extra bytes after them are allowed."""
    offset, pos = varint(value, 0)
    return offset, varint(value, pos)[0]


def _index(block: bytes) -> list[tuple[bytes, tuple[int, int]]]:
    """The entries of an index block: each data block's index key and handle."""
    return [(key, _handle(value)) for key, value in block_entries(block)]


def _checked(index_key: bytes, last: bytes | None, entries: list[tuple[bytes, bytes]]) -> None:
    """A data block's keys follow the previous block's and stay within its index key, or seeks miss them."""
    if entries and ((last is not None and entries[0][0] <= last) or entries[-1][0] > index_key):
        raise DamagedError("bad index entry (a block's keys lie outside its index key)")


def read_table(table: bytes) -> dict[bytes, bytes]:
    """Every key → value of an SSTable held in `table`, in key order."""
    _, index_handle = parse_footer(table[-FOOTER_SIZE:])
    entries: dict[bytes, bytes] = {}
    last = None
    for index_key, handle in _index(read_block(table, index_handle)):
        block = list(block_entries(read_block(table, handle)))
        _checked(index_key, last, block)
        entries.update(block)
        last = block[-1][0] if block else last
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


class Table:
    """An SSTable on disk read lazily: the index block at open, one data block per lookup.

    Memory stays bounded by the largest block (TensorFlow writes 256 KiB blocks, or one entry if it is
    larger), not by the file: a TF1 V1 checkpoint keeps its tensors in this table.
    """

    def __init__(self, path: str) -> None:
        """Open `path` and read its footer and index block."""
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 (closed in close())
        try:
            size = self._file.seek(0, os.SEEK_END)
            _, (offset, length) = parse_footer(self._read(max(size - FOOTER_SIZE, 0), FOOTER_SIZE))
            index = _index(read_block(self._read(offset, length + BLOCK_TRAILER), (0, length)))
        except BaseException:
            self._file.close()
            raise
        self._keys = [k for k, _ in index]
        self._handles = [h for _, h in index]
        self._cached: tuple[int, dict[bytes, bytes]] | None = None

    def _read(self, offset: int, size: int) -> bytes:
        self._file.seek(offset)
        return self._file.read(size)

    def _block(self, i: int) -> dict[bytes, bytes]:
        if self._cached is None or self._cached[0] != i:
            offset, size = self._handles[i]
            entries = list(block_entries(read_block(self._read(offset, size + BLOCK_TRAILER), (0, size))))
            _checked(self._keys[i], None, entries)
            self._cached = (i, dict(entries))  # one block kept: the next lookup is often in it
        return self._cached[1]

    def get(self, key: bytes) -> bytes | None:
        """The value stored under `key`, or None: the index finds the one block that can hold it."""
        i = bisect_left(self._keys, key)
        return self._block(i).get(key) if i < len(self._keys) else None

    def close(self) -> None:
        """Close the file."""
        self._cached = None
        self._file.close()
