"""ckptkit: plumbing for notebooks that teach TensorFlow 2 checkpoints (training, snapshots, diffs, plots)."""

from __future__ import annotations

# env first: it sets TensorFlow's log level before anything imports TensorFlow.
from ckptkit.env import captured_tf_logs, import_tensorflow, seed_everything, setup, workspace  # isort: skip
from ckptkit.diff import Diff, diff
from ckptkit.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    InvalidStepsError,
    ShapeMismatchError,
    UnbuiltModelError,
)
from ckptkit.history import History
from ckptkit.restore import RestoreReport, restore_checked
from ckptkit.snapshot import compare, resolve_checkpoint, snapshot
from ckptkit.training import DivergedError, fit, train_step

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "CorruptCheckpointError",
    "Diff",
    "DivergedError",
    "History",
    "InvalidStepsError",
    "RestoreReport",
    "ShapeMismatchError",
    "UnbuiltModelError",
    "captured_tf_logs",
    "compare",
    "diff",
    "fit",
    "import_tensorflow",
    "resolve_checkpoint",
    "restore_checked",
    "seed_everything",
    "setup",
    "snapshot",
    "train_step",
    "workspace",
]

__version__ = "0.1.0"
