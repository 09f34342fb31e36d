"""ckptkit: plumbing for notebooks that teach TensorFlow 2 checkpoints (training, snapshots, diffs, plots).

`import ckptkit` does not import TensorFlow: it sets TensorFlow's log level and installs a hook that
mutes its C++ start-up lines, so TensorFlow imported afterwards (by a notebook, `ckptkit.setup(...)`
or `ckptkit.import_tensorflow()`) starts quiet. Every public name is importable from here; each is
loaded on first use, so the TensorFlow-free CLI (`inspect`, `diff`, `ls`) stays light.

The subpackages, one job each: `files` reads checkpoint files without TensorFlow; `live` works on live
TensorFlow objects; `runs` trains; `lab` is the interactive lab; `lessons` and `exercises` serve one
notebook each.
"""

from __future__ import annotations

# quiet first: it sets TensorFlow's log level before anything imports TensorFlow.
from ckptkit.live.quiet import install_import_hook  # isort: skip
from ckptkit.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointPermissionError,
    ClusterError,
    CorruptCheckpointError,
    DivergedError,
    ExtraValueError,
    InvalidStepsError,
    LfsPointerError,
    MissingShardError,
    MissingValueError,
    ModelMismatchError,
    OptimizerMismatchError,
    ShapeMismatchError,
    StateFileError,
    UnbuiltModelError,
    UnsupportedCheckpointError,
    WorkspaceError,
)

import importlib

install_import_hook()

__version__ = "0.1.0"

# Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    # files: checkpoint files without TensorFlow
    "Diff": "ckptkit.files.diff",
    "diff": "ckptkit.files.diff",
    "open_checkpoint": "ckptkit.files.reader",
    "resolve_checkpoint": "ckptkit.files.reader",
    "VALUE_SUFFIX": "ckptkit.files.reader",
    "Inventory": "ckptkit.files.inventory",
    "inspect_checkpoint": "ckptkit.files.inventory",
    "list_folder": "ckptkit.files.inventory",
    # live: TensorFlow objects
    "captured_tf_logs": "ckptkit.live.quiet",
    "import_tensorflow": "ckptkit.live.quiet",
    "seed_everything": "ckptkit.live.determinism",
    "setup": "ckptkit.live.determinism",
    "fresh_folder": "ckptkit.live.workspace",
    "workspace": "ckptkit.live.workspace",
    "brief": "ckptkit.live.snapshot",
    "compare": "ckptkit.live.snapshot",
    "live_variables": "ckptkit.live.snapshot",
    "snapshot": "ckptkit.live.snapshot",
    "RestoreReport": "ckptkit.live.restore",
    "restore_checked": "ckptkit.live.restore",
    "restore_newest_good": "ckptkit.live.restore",
    "keras2_to_keras3": "ckptkit.live.migrate",
    # runs: models and training
    "History": "ckptkit.runs.history",
    "DropoutModel": "ckptkit.runs.models",
    "FinetuneModel": "ckptkit.runs.models",
    "MyModel": "ckptkit.runs.models",
    "linear_data": "ckptkit.runs.models",
    "linear_model": "ckptkit.runs.models",
    "linear_variables": "ckptkit.runs.models",
    "regression_data": "ckptkit.runs.models",
    "seed_states": "ckptkit.runs.models",
    "fit": "ckptkit.runs.step",
    "mse": "ckptkit.runs.step",
    "train_step": "ckptkit.runs.step",
    "INGREDIENTS": "ckptkit.runs.trainer",
    "train": "ckptkit.runs.trainer",
    # lab: the interactive lab
    "CheckpointLab": "ckptkit.lab.lab",
    "CheckpointPanel": "ckptkit.lab.panel",
    "CheckpointApp": "ckptkit.lab.app",
    "plot_diff": "ckptkit.lab.plots",
    "plot_history": "ckptkit.lab.plots",
}
# Modules a lesson uses as a whole (`from ckptkit import bundle`), loaded on first use too.
_MODULES = {
    "bundle": "ckptkit.files.bundle",
    "checkup": "ckptkit.lessons.checkup",
    "distributed": "ckptkit.runs.distributed",
    "launcher": "ckptkit.runs.launcher",
    "performance": "ckptkit.lessons.performance",
}

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
    *sorted(_LAZY),
    *sorted(_MODULES),
]


def __getattr__(name: str) -> object:
    """Load a public name (`fit`, `CheckpointLab`, `bundle`, ...) from its module on first use."""
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'ckptkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, loaded or not."""
    return sorted(set(globals()) | set(_LAZY) | set(_MODULES))
