"""Quiet, seeded, deterministic TensorFlow, and a clean workspace folder per notebook."""

from __future__ import annotations

from ckptkit.errors import WorkspaceError

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Set before TensorFlow is imported: TF reads them once, at import.
# Level 3 hides C++ INFO/WARNING/ERROR lines that would land in notebook outputs as stderr.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN picks kernels by CPU features, which changes the last bits of float results from one
# machine to the next; committed notebook outputs must match on any machine.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__all__ = [
    "REGISTRY",
    "WORKSPACE",
    "captured_tf_logs",
    "fresh_folder",
    "import_tensorflow",
    "seed_everything",
    "setup",
    "workspace",
]

WORKSPACE = Path("workspace")
# The folders ckptkit created, one name per line, kept in their parent folder rather than inside
# them, so a notebook listing its own folder shows only checkpoint files.
REGISTRY = ".ckptkit-folders"
# The kit's own workspace root (notebooks/workspace in a clone): every folder below it is the kit's.
_KIT_WORKSPACE = Path(__file__).resolve().parents[1] / "notebooks" / "workspace"


@contextmanager
def _stderr_muted() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null, so C++ lines printed before logging is set up vanish."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():  # returns the tensorflow module itself
    """Import TensorFlow with its start-up C++ log lines silenced and return the module."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # Some lines (the CUDA stub, absl's pre-init banner) ignore TF_CPP_MIN_LOG_LEVEL: they are
    # written straight to fd 2 during import and device discovery, so mute fd 2 for both.
    # Physical devices only: listing logical ones would initialise TensorFlow's runtime, after
    # which logical CPUs (MirroredStrategy on one CPU) and collective ops (multi-worker) can no
    # longer be configured.
    with _stderr_muted():
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf


@contextmanager
def captured_tf_logs() -> Iterator[list[str]]:
    """Collect what TensorFlow's Python logger says inside the block, instead of printing it."""
    import logging

    logger = import_tensorflow().get_logger()
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    saved, logger.handlers = logger.handlers, [_Collect()]
    propagate, logger.propagate = logger.propagate, False
    try:
        yield lines
    finally:
        logger.handlers, logger.propagate = saved, propagate


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _created_here(folder: Path) -> bool:
    """True when ckptkit made `folder`: its parent's registry names it, or it is in the kit's workspace."""
    registry = folder.parent / REGISTRY
    if registry.is_file() and folder.name in registry.read_text().splitlines():
        return True
    return _KIT_WORKSPACE in folder.resolve().parents


def fresh_folder(path: str | os.PathLike[str]) -> Path:
    """Return `path` as an empty folder: created if new, wiped only if ckptkit created it before.

    A folder that holds files ckptkit did not create is refused, never emptied.
    """
    text = os.fspath(path)
    folder = Path(text)
    if not text.strip() or folder.name in ("", ".", ".."):
        raise WorkspaceError(
            f"{text!r} is not a folder ckptkit can empty: pass a new folder name, such as 'workspace/my-run'"
        )
    if folder.exists() and not folder.is_dir():
        raise WorkspaceError(f"{text!r} is a file, not a folder: pass a new folder name")
    if folder.is_dir() and _created_here(folder):
        shutil.rmtree(folder)
    elif folder.is_dir() and any(folder.iterdir()):
        names = sorted(p.name for p in folder.iterdir())
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise WorkspaceError(
            f"folder {text!r} holds files ckptkit did not create ({shown}): "
            "pass an empty or new folder; ckptkit never deletes what it did not create"
        )
    folder.mkdir(parents=True, exist_ok=True)
    registry = folder.parent / REGISTRY
    known = registry.read_text().splitlines() if registry.is_file() else []
    if folder.name not in known:
        with registry.open("a") as f:
            f.write(folder.name + "\n")
    return folder


def workspace(name: str, root: Path | str = WORKSPACE) -> Path:
    """Return an empty folder `root/name` for one notebook's files, wiping what a past run of it left."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise WorkspaceError(f"workspace name {name!r} must be a plain folder name, such as '01_linear'")
    return fresh_folder(Path(root) / name)


def setup(name: str, seed: int = 0) -> Path:
    """Quiet and seed TensorFlow, then return the notebook's fresh workspace folder."""
    seed_everything(seed)
    return workspace(name)
