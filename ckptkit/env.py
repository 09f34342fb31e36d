"""Quiet, seeded, deterministic TensorFlow, and a clean workspace folder per notebook."""

from __future__ import annotations

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

__all__ = ["WORKSPACE", "captured_tf_logs", "import_tensorflow", "seed_everything", "setup", "workspace"]

WORKSPACE = Path("workspace")


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


def workspace(name: str, root: Path | str = WORKSPACE) -> Path:
    """Return an empty folder `root/name` for one notebook's files, wiping what a past run left."""
    folder = Path(root) / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def setup(name: str, seed: int = 0) -> Path:
    """Quiet and seed TensorFlow, then return the notebook's fresh workspace folder."""
    seed_everything(seed)
    return workspace(name)
