"""A lab's folder: each checkpoint's files and their sizes, the state file, deleting one checkpoint.

Deleting goes through TensorFlow's own state-file writer, and only ever touches the files of a
checkpoint the lab's manager saved, so ckptkit never deletes a file it did not create.
"""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.live.quiet import captured_tf_logs, import_tensorflow
from ckptkit.live.workspace import REGISTRY

import os
import re
from dataclasses import dataclass
from pathlib import Path

tf = import_tensorflow()

__all__ = [
    "STATE_FILE",
    "FolderFile",
    "checkpoint_bytes",
    "checkpoint_files",
    "folder_files",
    "forget_checkpoint",
]

STATE_FILE = "checkpoint"  # the name `CheckpointManager` gives its state file


@dataclass(frozen=True)
class FolderFile:
    """One file of a folder: its path relative to the folder, and its size in bytes."""

    name: str
    size: int


def checkpoint_files(prefix: str | os.PathLike[str]) -> list[Path]:
    """The files of checkpoint `prefix`: `prefix.index` and its `prefix.data-NNNNN-of-NNNNN` shards."""
    prefix = Path(prefix)
    shard = re.compile(re.escape(prefix.name) + r"\.data-\d{5}-of-\d{5}")
    found = [p for p in prefix.parent.glob(prefix.name + ".data-*") if shard.fullmatch(p.name)]
    index = prefix.with_name(prefix.name + ".index")
    return sorted(found + ([index] if index.exists() else []))


def checkpoint_bytes(prefix: str | os.PathLike[str]) -> int:
    """Bytes on disk of one checkpoint's files."""
    return sum(p.stat().st_size for p in checkpoint_files(prefix))


def folder_files(folder: str | os.PathLike[str]) -> list[FolderFile]:
    """Every file the saves wrote under `folder`, by path relative to it, with its size (a files view).

    ckptkit's own note of the folders it made (`REGISTRY`, kept beside them) is no save's: left out.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    return [
        FolderFile(str(p.relative_to(root)), p.stat().st_size)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != REGISTRY
    ]


def size_text(size: int) -> str:
    """Bytes as a short text: `812 B`, `8.4 kB`, `1.2 MB`."""
    if size < 1000:
        return f"{size} B"
    return f"{size / 1000:.1f} kB" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"


def forget_checkpoint(manager: tf.train.CheckpointManager, prefix: str) -> None:
    """Delete one checkpoint `manager` saved and write the folder's state file without it.

    The state file keeps its other entries and their timestamps; "latest" becomes the newest
    checkpoint left (no state file when none is left). A path the manager did not save is refused.
    The manager still lists the deleted one: make a new `CheckpointManager`, which reads the file.
    """
    if prefix not in manager.checkpoints:
        raise CheckpointError(
            f"{os.path.basename(prefix)} is not a checkpoint this lab saved: ckptkit deletes only its own"
        )
    folder = manager.directory
    state = tf.train.get_checkpoint_state(folder)
    kept = [os.path.basename(p) for p in manager.checkpoints if p != prefix]
    for path in checkpoint_files(prefix):
        path.unlink()
    if not kept:
        Path(folder, STATE_FILE).unlink(missing_ok=True)
        return
    names = [os.path.basename(p) for p in state.all_model_checkpoint_paths]
    stamps = dict(zip(names, state.all_model_checkpoint_timestamps, strict=False))
    timestamps = [stamps[n] for n in kept] if len(stamps) == len(names) else None
    # TensorFlow's own writer, given relative names as the manager writes them; its deprecation
    # notice (edit through a manager) does not apply: no manager call removes one checkpoint.
    with captured_tf_logs():
        tf.compat.v1.train.update_checkpoint_state(
            folder,
            kept[-1],
            kept,
            all_model_checkpoint_timestamps=timestamps,
            last_preserved_timestamp=state.last_preserved_timestamp,
        )
