"""A folder's `checkpoint` state file: the latest checkpoint and the kept ones, read without TensorFlow.

It is a text-format `CheckpointState` protobuf, `field: "value"` per line. TensorFlow 2.21 writes
non-ASCII paths as UTF-8; older writers (protobuf's text format without `as_utf8`, and C++) escape
each byte past ASCII in octal (`\303\251`): both name the same path here.
"""

from __future__ import annotations

from ckptkit.errors import CheckpointPermissionError

import os
import re

__all__ = ["read_state_file"]

# A C escape in protobuf's text format: octal (`\303`), hex (`\xc3`), or one character (`\n`, `\"`).
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.S)
_NAMED = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"a": b"\a", b"b": b"\b", b"f": b"\f", b"v": b"\v"}


def _unescape(quoted: bytes) -> str:
    """A text-format string's bytes as a path: escapes decoded, then UTF-8 (as the file system names it)."""

    def one(m: re.Match) -> bytes:
        octal, hexa, char = m.groups()
        if octal:
            return bytes([int(octal, 8) & 0xFF])
        return bytes([int(hexa, 16)]) if hexa else _NAMED.get(char, char)

    return os.fsdecode(_ESCAPE.sub(one, quoted))


def read_state_file(folder: str | os.PathLike[str]) -> tuple[str | None, list[str]]:
    """The `checkpoint` state file's latest path and all kept paths, joined with the folder when relative."""
    folder = os.fspath(folder)
    try:
        with open(os.path.join(folder, "checkpoint"), "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return None, []
    except PermissionError:
        raise CheckpointPermissionError(
            f"cannot read the state file {os.path.join(folder, 'checkpoint')!r}: permission denied"
        ) from None
    # A text-format CheckpointState proto: `field: "value"` per line.
    fields = re.findall(
        rb'^\s*(model_checkpoint_path|all_model_checkpoint_paths):\s*"((?:[^"\\]|\\.)*)"', text, re.M | re.S
    )

    def full(quoted: bytes) -> str:
        p = _unescape(quoted)
        return os.path.normpath(p if os.path.isabs(p) else os.path.join(folder, p))

    latest = next((full(v) for k, v in fields if k == b"model_checkpoint_path"), None)
    kept = [full(v) for k, v in fields if k == b"all_model_checkpoint_paths"]
    if latest and latest not in kept:
        kept.append(latest)
    return latest, kept
