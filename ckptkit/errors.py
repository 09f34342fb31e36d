"""The errors ckptkit raises: one clear sentence each, all under `CheckpointError`."""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointPermissionError",
    "ClusterError",
    "CorruptCheckpointError",
    "DivergedError",
    "ExtraValueError",
    "InvalidStepsError",
    "LfsPointerError",
    "MissingShardError",
    "MissingValueError",
    "ModelMismatchError",
    "OptimizerMismatchError",
    "ShapeMismatchError",
    "StateFileError",
    "UnbuiltModelError",
    "UnsupportedCheckpointError",
    "WorkspaceError",
]


class CheckpointError(Exception):
    """Base class of every error ckptkit raises about checkpoints and training."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint exists at the given path or in the given folder."""


class MissingShardError(CheckpointNotFoundError):
    """A checkpoint's index is there but one of its data shards is not."""


class StateFileError(CheckpointNotFoundError):
    """A folder's state file names a checkpoint that is not on disk (deleted, or another machine's path)."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file is damaged: cut short, a bad magic number, or bytes that fail their checksum."""


class LfsPointerError(CorruptCheckpointError):
    """A checkpoint file is a Git LFS pointer (a small text file) instead of the bytes it stands for."""


class UnsupportedCheckpointError(CheckpointError):
    """A checkpoint holds something ckptkit's reader does not decode (an unknown dtype): TensorFlow may."""


class CheckpointPermissionError(CheckpointError, PermissionError):
    """A checkpoint file exists but this user may not read it."""


class ShapeMismatchError(CheckpointError, ValueError):
    """A stored value's shape differs from the shape of the live variable it would fill."""


class UnbuiltModelError(CheckpointError):
    """A Keras model or optimizer has not created its variables yet, so a restore would load nothing."""


class InvalidStepsError(CheckpointError, ValueError):
    """A step count that is negative or not a whole number."""


class WorkspaceError(CheckpointError, ValueError):
    """A folder ckptkit was asked to empty holds files it did not create, or is no folder name at all."""


class ModelMismatchError(CheckpointError, ValueError):
    """A checkpoint holds values that the objects restoring it do not have, or lacks values they have."""


class MissingValueError(CheckpointError, LookupError):
    """A live variable has no value in the checkpoint it would be filled from."""


class ExtraValueError(CheckpointError, ValueError):
    """A checkpoint holds a value that no live variable would receive."""


class OptimizerMismatchError(CheckpointError, TypeError):
    """The checkpoint's optimizer state belongs to a different kind of optimizer than the live one."""


class DivergedError(CheckpointError, FloatingPointError):
    """Training produced a loss that is not a finite number."""


class ClusterError(CheckpointError, RuntimeError):
    """A worker lost the cluster: another worker died, or never answered within the timeout."""
