"""ckptkit: plumbing for notebooks that teach TensorFlow 2 checkpoints (training, snapshots, diffs, plots).

`import ckptkit` does not import TensorFlow: it sets TensorFlow's log level first, so TensorFlow
imported afterwards (by a notebook, `ckptkit.setup(...)` or `ckptkit.import_tensorflow()`) starts
quiet. Names that need TensorFlow load on first use.
"""

from __future__ import annotations

# env first: it sets TensorFlow's log level before anything imports TensorFlow.
from ckptkit.env import _stderr_muted, captured_tf_logs, import_tensorflow, seed_everything, setup, workspace  # isort: skip
from ckptkit.diff import Diff, diff
from ckptkit.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointPermissionError,
    CorruptCheckpointError,
    InvalidStepsError,
    LfsPointerError,
    MissingShardError,
    ShapeMismatchError,
    StateFileError,
    UnbuiltModelError,
)
from ckptkit.history import History
from ckptkit.reader import open_checkpoint, resolve_checkpoint
from ckptkit.snapshot import compare, snapshot

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointPermissionError",
    "CorruptCheckpointError",
    "Diff",
    "DivergedError",
    "History",
    "InvalidStepsError",
    "LfsPointerError",
    "MissingShardError",
    "RestoreReport",
    "ShapeMismatchError",
    "StateFileError",
    "UnbuiltModelError",
    "captured_tf_logs",
    "compare",
    "diff",
    "fit",
    "import_tensorflow",
    "open_checkpoint",
    "resolve_checkpoint",
    "restore_checked",
    "seed_everything",
    "setup",
    "snapshot",
    "train_step",
    "workspace",
]

__version__ = "0.1.0"

# Names whose modules import TensorFlow: loaded when first used, so the CLI's readers stay light.
_LAZY = {
    "RestoreReport": "ckptkit.restore",
    "restore_checked": "ckptkit.restore",
    "DivergedError": "ckptkit.training",
    "fit": "ckptkit.training",
    "train_step": "ckptkit.training",
}


def __getattr__(name: str) -> object:
    """Load a TensorFlow-backed name (`fit`, `restore_checked`, ...) on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ckptkit' has no attribute {name!r}")


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Mute file descriptor 2 while TensorFlow loads, however it is imported (`import tensorflow`, keras).

    A few start-up lines (the CUDA stub, absl's pre-init banner) ignore `TF_CPP_MIN_LOG_LEVEL` and
    would land in notebook outputs as red stderr text.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        """Hand back TensorFlow's own spec, its loading wrapped in a muted stderr."""
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def quiet_load(module: object) -> None:
            with _stderr_muted():
                load(module)
                # Device discovery prints once more. Physical devices only: logical ones would start
                # TensorFlow's runtime, after which logical CPUs and collective ops cannot be set up.
                module.config.list_physical_devices()

        spec.loader.exec_module = quiet_load
        return spec


if "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietTensorFlow())
