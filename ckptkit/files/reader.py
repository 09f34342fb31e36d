"""Any user path → checkpoint prefixes; values read without TensorFlow; every problem as one clear error.

Accepts a prefix (`ckpts/ckpt-3`), one of its files (`.index`, `.data-*`), a TF1 V1 file, a folder
(its state file's latest, or its only checkpoint) and a SavedModel folder (`variables/variables`).
The bytes are read by `ckptkit.files.bundle`; this module names what went wrong: a damaged file, a missing
file or shard, a file this user may not read, a Git LFS pointer, a state file pointing elsewhere.
"""

from __future__ import annotations

from ckptkit.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointPermissionError,
    CorruptCheckpointError,
    LfsPointerError,
    MissingShardError,
    StateFileError,
    UnsupportedCheckpointError,
)
from ckptkit.files import bundle
from ckptkit.files.state import read_state_file
from ckptkit.files.text import first_few

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GRAPH_KEY",
    "VALUE_SUFFIX",
    "StoredCheckpoint",
    "StoredValues",
    "checkpoints_in",
    "exists",
    "explain_tf_error",
    "is_lfs_pointer",
    "open_checkpoint",
    "read_state_file",
    "resolve_checkpoint",
]

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
GRAPH_KEY = bundle.GRAPH_KEY
LFS_HEADER = b"version https://git-lfs.github.com/spec/"
_FILE_SUFFIX = re.compile(r"\.(index|data-\d{5}-of-\d{5})$")
_V1_SHARD = re.compile(r"^(.*)-\d{5}-of-\d{5}$")
_NOT_CHECKPOINTS = (".meta", ".pb", ".pbtxt", ".json", ".txt", ".h5", ".keras", ".tempstate")


def is_lfs_pointer(path: str | os.PathLike[str]) -> bool:
    """True when the file is a Git LFS pointer: a few lines of text standing in for the real bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(len(LFS_HEADER)) == LFS_HEADER
    except OSError:
        return False


def _lfs_error(prefix: str, path: str) -> LfsPointerError:
    return LfsPointerError(
        f"{os.path.basename(path)!r} of checkpoint {prefix!r} is a Git LFS pointer, not the file itself: "
        "run `git lfs pull` in its repository"
    )


# ---------------------------------------------------------------- finding checkpoints


def exists(prefix: str) -> bool:
    """A V2 checkpoint (its `.index`) or a TF1 V1 file is on disk under `prefix`."""
    return os.path.exists(prefix + ".index") or bool(bundle.v1_files(prefix))


def checkpoints_in(folder: str | os.PathLike[str]) -> list[str]:
    """Every checkpoint prefix in `folder` (V2 by its `.index`, TF1 V1 by its table footer), sorted."""
    folder = os.fspath(folder)
    found = set()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    for name in names:
        path = os.path.join(folder, name)
        if name.endswith(".index"):
            found.add(os.path.normpath(path[: -len(".index")]))
        elif (
            "." + name.rsplit(".", 1)[-1] not in _NOT_CHECKPOINTS
            and not _FILE_SUFFIX.search(name)
            and name != "checkpoint"
            and os.path.isfile(path)
            and bundle.is_table(path)
        ):
            shard = _V1_SHARD.match(name)
            found.add(os.path.normpath(os.path.join(folder, shard.group(1)) if shard else path))
    return sorted(found, key=_natural)


def _natural(path: str) -> list:
    """Sort `ckpt-10` after `ckpt-9`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def _shown(prefixes: list[str], limit: int = 6) -> str:
    names = [os.path.basename(p) for p in prefixes]
    return first_few(names, limit)


def resolve_checkpoint(path: str | os.PathLike[str]) -> str:
    """The checkpoint prefix for `path`: the prefix itself, one of its files, or a folder's checkpoint."""
    path = os.fspath(path)
    stripped = _FILE_SUFFIX.sub("", path)
    if os.path.isdir(path):
        return _resolve_folder(path)
    if exists(stripped):
        return stripped
    if os.path.isfile(stripped) and is_lfs_pointer(stripped):
        raise _lfs_error(stripped, stripped)
    folder = os.path.dirname(stripped) or "."
    if os.path.isdir(folder):
        near = checkpoints_in(folder)
        hint = f"checkpoints there: {_shown(near)}" if near else "it holds no checkpoint"
    else:
        hint = "that folder does not exist"
    raise CheckpointNotFoundError(
        f"no checkpoint at {path!r} ({hint}): pass a prefix with its number, such as 'ckpt-1', or a folder"
    )


def _resolve_folder(folder: str) -> str:
    saved_model = os.path.join(folder, "variables", "variables")
    if exists(saved_model) and not checkpoints_in(folder):
        return saved_model  # a SavedModel: its variables are a checkpoint under variables/variables
    present = checkpoints_in(folder)
    latest, _ = read_state_file(folder)
    if latest is not None:
        if exists(latest):
            return latest
        what = "was deleted" if os.path.dirname(latest) == os.path.normpath(folder) else "is not on this disk"
        there = f"checkpoints present: {_shown(present)}" if present else "no checkpoint is present"
        example = os.path.join(folder, os.path.basename(present[-1])) if present else "a checkpoint prefix"
        raise StateFileError(
            f"the state file in {folder!r} names {latest!r}, which {what} ({there}): "
            f"pass one as a prefix, such as {example!r}"
        )
    if len(present) == 1:
        return present[0]
    if present:
        raise CheckpointNotFoundError(
            f"folder {folder!r} has no state file to say which checkpoint is latest; it holds "
            f"{_shown(present)}: pass one as a prefix, such as "
            f"{os.path.join(folder, os.path.basename(present[-1]))!r}"
        )
    try:
        files = sorted(os.listdir(folder))
    except PermissionError:
        raise CheckpointPermissionError(f"cannot list folder {folder!r}: permission denied") from None
    shown = first_few(files, 8) or "nothing"
    raise CheckpointNotFoundError(
        f"no checkpoint in folder {folder!r} (it holds: {shown}): "
        "save one first, or pass a checkpoint prefix such as 'folder/ckpt-1'"
    )


# ---------------------------------------------------------------- reading, with errors translated


def _damage_cause(prefix: str, err: BaseException) -> CheckpointError:
    """Name the real cause of a failed read, looking at the files on disk first."""
    folder = os.path.dirname(prefix) or "."
    data = sorted(n for n in os.listdir(folder) if n.startswith(os.path.basename(prefix) + ".data-"))
    files = [prefix + ".index", *(os.path.join(folder, n) for n in data)]
    for path in files:
        if is_lfs_pointer(path):
            return _lfs_error(prefix, path)
    if isinstance(err, bundle.UnsupportedError):
        return UnsupportedCheckpointError(f"checkpoint {prefix!r} cannot be read by ckptkit: {err}")
    if isinstance(err, bundle.MissingFileError):
        return MissingShardError(
            f"checkpoint {prefix!r} is missing its data file {os.path.basename(err.path)!r}: "
            "copy that file next to the others, or restore another checkpoint"
        )
    if isinstance(err, PermissionError):
        return CheckpointPermissionError(
            f"cannot read checkpoint {prefix!r}: "
            f"permission denied on {os.path.basename(err.filename or prefix)!r}"
        )
    if isinstance(err, FileNotFoundError):
        return CheckpointNotFoundError(
            f"checkpoint {prefix!r} lost a file while being read ({err.filename!r})"
        )
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return CorruptCheckpointError(f"checkpoint {prefix!r} is damaged ({reason}): restore an older checkpoint")


@contextmanager
def _translated(prefix: str) -> Iterator[None]:
    try:
        yield
    except CheckpointError:
        raise
    except (bundle.BundleError, OSError) as err:
        raise _damage_cause(prefix, err) from None


def _missing_shard(opened: bundle.Bundle) -> str | None:
    """The first data shard the index points into that is not on disk."""
    return next((path for path in opened.data_files() if not os.path.exists(path)), None)


@dataclass
class StoredCheckpoint:
    """An opened checkpoint: keys, shapes, dtypes from the index; values read and checksummed on demand."""

    prefix: str
    _bundle: bundle.Bundle

    @property
    def format(self) -> str:
        """`"V2"` (`.index` + `.data-*`) or `"V1"` (a TF1 single file)."""
        return f"V{self._bundle.version}"

    @property
    def object_based(self) -> bool:
        """True for a TF2 `tf.train.Checkpoint` (it stores its object graph); False for a TF1 `Saver`'s."""
        return GRAPH_KEY in self._bundle.entries

    def stored_keys(self) -> list[str]:
        """Every stored key except the object graph, sorted."""
        return [k for k in self._bundle.sorted_keys() if k != GRAPH_KEY]

    def has(self, key: str) -> bool:
        """True when `key` is stored."""
        return key in self._bundle.entries

    def dtype(self, key: str) -> str:
        """TensorFlow's name for the dtype of `key` (`float32`, `string`, `variant`, ...)."""
        return self._bundle.entries[key].dtype

    def shape(self, key: str) -> tuple[int, ...]:
        """The shape of the value stored under `key`."""
        return self._bundle.entries[key].shape

    def stored_size(self, key: str) -> int:
        """Bytes `key` takes in the data files (slices summed); 0 in a V1 file."""
        entry = self._bundle.entries[key]
        if entry.slices:
            return sum(
                self._bundle._slices[bundle.slice_key(key, ext)].size
                for ext in entry.slices
                if bundle.slice_key(key, ext) in self._bundle._slices
            )
        return entry.size

    def get(self, key: str) -> np.ndarray | bytes:
        """The value under `key`, checksum verified (variants as their raw bytes)."""
        if key not in self._bundle.entries:
            raise CheckpointNotFoundError(f"checkpoint {self.prefix!r} has no key {key!r}")
        with _translated(self.prefix):
            return self._bundle.get(key)

    def object_graph(self) -> dict | None:
        """The stored `TrackableObjectGraph` as plain data, or None for a TF1 checkpoint."""
        with _translated(self.prefix):
            return bundle.read_object_graph(self._bundle)

    def step(self) -> int | None:
        """The training step stored with it: `step` (TF2) or `global_step` (TF1, Estimator), if any."""
        for key in ("step" + VALUE_SUFFIX, "global_step", "global_step" + VALUE_SUFFIX):
            if self.has(key) and self.dtype(key).startswith(("int", "uint")):
                return int(self.get(key))
        return None

    def close(self) -> None:
        """Close its data files."""
        self._bundle.close()

    def __enter__(self) -> StoredCheckpoint:
        """Use as a context manager: data files close at the end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close its data files."""
        self.close()


def open_checkpoint(path: str | os.PathLike[str]) -> StoredCheckpoint:
    """Open the checkpoint at `path` (any form `resolve_checkpoint` accepts), reading only its index."""
    prefix = resolve_checkpoint(path)
    index = prefix + ".index"
    if os.path.exists(index) and is_lfs_pointer(index):
        raise _lfs_error(prefix, index)
    with _translated(prefix):
        opened = bundle.Bundle.open(prefix)
    if missing := _missing_shard(opened):
        raise _damage_cause(prefix, bundle.MissingFileError("missing", missing))
    return StoredCheckpoint(prefix, opened)


class StoredValues(Mapping):
    """A checkpoint's values by name (`/.ATTRIBUTES/VARIABLE_VALUE` dropped), each read when asked for.

    Reading on demand keeps only one value in memory at a time while two checkpoints are compared.
    Variants (a `tf.data` iterator's state) and the object graph are left out: they have no NumPy form.
    """

    def __init__(self, checkpoint: StoredCheckpoint, only: str = "") -> None:
        """Index the values of `checkpoint` whose names start with `only`."""
        self.checkpoint = checkpoint
        self._keys = {
            key.removesuffix(VALUE_SUFFIX): key
            for key in checkpoint.stored_keys()
            if checkpoint.dtype(key) not in ("variant", "resource")
            and key.removesuffix(VALUE_SUFFIX).startswith(only)
        }

    def __getitem__(self, name: str) -> np.ndarray:
        """Read (and checksum) one value."""
        return np.asarray(self.checkpoint.get(self._keys[name]))

    def __iter__(self) -> Iterator[str]:
        """Names in sorted order."""
        return iter(sorted(self._keys))

    def __len__(self) -> int:
        """How many values."""
        return len(self._keys)

    def dtype(self, name: str) -> str:
        """The stored dtype of one value, without reading it."""
        return self.checkpoint.dtype(self._keys[name])

    def shape(self, name: str) -> tuple[int, ...]:
        """The stored shape of one value, without reading it."""
        return self.checkpoint.shape(self._keys[name])


def explain_tf_error(prefix: str, err: BaseException) -> CheckpointError:
    """Turn an error TensorFlow raised while reading `prefix` into ckptkit's, with the real cause.

    The files are looked at first (an LFS pointer, a missing shard, a damaged index explain more
    than TensorFlow's message); otherwise TensorFlow's error class decides.
    """
    try:
        with open_checkpoint(prefix):
            pass
    except CheckpointError as found:
        return found
    if type(err).__name__ == "PermissionDeniedError":
        return _damage_cause(prefix, PermissionError(str(err)))
    text = (getattr(err, "message", None) or str(err)).strip()
    # TensorFlow wraps op errors as "{{function_node ...}} reason [Op:Name]": keep the reason.
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]$", "", text)
    return _damage_cause(prefix, bundle.DamagedError(text.splitlines()[0] if text else type(err).__name__))
