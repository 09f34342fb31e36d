"""`CheckpointLab`: a plain-Python controller over a model, its optimizer, checkpoints and loss history."""

from __future__ import annotations

from ckptkit.errors import CheckpointError, CheckpointNotFoundError, InvalidStepsError
from ckptkit.files.diff import Diff
from ckptkit.lab.check import STATUS_CHECK, check_restore, checked_variables, restore_or_roll_back
from ckptkit.lab.folder import checkpoint_bytes, forget_checkpoint, size_text
from ckptkit.live.determinism import seed_everything
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.restore import RestoreReport, build_keras
from ckptkit.live.snapshot import brief, compare, live_variables, snapshot, value_of
from ckptkit.live.workspace import fresh_folder
from ckptkit.runs.history import History
from ckptkit.runs.loop import check_steps
from ckptkit.runs.models import MyModel, linear_data, linear_model, linear_variables, regression_data
from ckptkit.runs.step import fit, mse

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["LIVE", "MAX_LEARNING_RATE", "MAX_STEPS", "CheckpointLab", "VariableRow"]

LIVE = "live"
# The lab's own limits, checked whatever a widget sends: one run stays short on a shared machine.
MAX_STEPS = 200
MAX_LEARNING_RATE = 10.0

# How `last_call` names the lab's own objects; a lab over a notebook's objects uses the notebook's names.
LAB_CODE = {
    "lab": "lab",
    "ckpt": "lab.checkpoint",
    "optimizer": "lab.optimizer",
    "manager": "lab.manager",
    "train": (
        "ckptkit.fit(lab.predict, lab.variables, lab.optimizer, lab.inputs, lab.targets, {steps}, "
        "step=lab.step)"
    ),
}


@dataclass(frozen=True)
class VariableRow:
    """One line of the variables table: name, shape, a value or norm, change since the last save."""

    name: str
    shape: tuple[int, ...]
    value: str
    change: str


class CheckpointLab:
    """Own a model, optimizer, data, `tf.train.Checkpoint`, `CheckpointManager` and `History`."""

    def __init__(
        self,
        predict: Callable[[tf.Tensor], tf.Tensor],
        variables: Sequence[tf.Variable] | None,
        optimizer: tf.keras.optimizers.Optimizer,
        data: tuple[tf.Tensor, tf.Tensor],
        objects: Mapping[str, object],
        workdir: str | os.PathLike[str],
        max_to_keep: int | None = None,
        *,
        max_steps: int = MAX_STEPS,
        max_bytes: int | None = None,
        checkpoint: tf.train.Checkpoint | None = None,
        history: History | None = None,
        code: Mapping[str, str] | None = None,
    ) -> None:
        """Track `objects` (e.g. `{"model": model}`), the optimizer and a step counter under `workdir`.

        `workdir` must be new, empty, or a folder ckptkit created (it is emptied); a folder holding
        other files is refused. By default every checkpoint is kept: learners restore old ones;
        `max_to_keep` keeps only the newest ones, `max_bytes` refuses a save that would take the
        folder past that size, `max_steps` bounds one `train` call. A given `checkpoint` (with its
        own `step`) is used as it is; `code` names the objects in `last_call` (keys "lab", "ckpt",
        "optimizer", "manager", and "train" with a `{steps}` field).
        """
        self.predict, self.variables, self.optimizer = predict, variables, optimizer
        self.inputs, self.targets = data
        if checkpoint is None:
            self.step = tf.Variable(0, dtype=tf.int64)
            checkpoint = tf.train.Checkpoint(step=self.step, optimizer=optimizer, **objects)
        else:
            self.step = checkpoint.step
        self.checkpoint = checkpoint
        self.workdir = fresh_folder(workdir)  # every constructor passes through here: one rule
        self.max_to_keep, self.max_steps, self.max_bytes = max_to_keep, max_steps, max_bytes
        self.manager = self._manager()
        self.dropped: str | None = None  # the checkpoint the last save deleted to stay within max_to_keep
        self.history = History() if history is None else history
        self.code = {**LAB_CODE, **(code or {})}
        self.last_call = ""  # the line of code the last action ran, as a learner would type it
        self._last_saved: str | None = None  # the checkpoint the live values were last equal to
        self._last_values: dict[str, np.ndarray] | None = None  # its values, read when first needed

    @classmethod
    def linear(
        cls, seed: int = 0, workdir: str | os.PathLike[str] = "workspace/lab-linear", **limits: int | None
    ) -> CheckpointLab:
        """The seed's linear model `x @ w + b` with SGD, in a fresh `workdir` (`limits` as in `__init__`)."""
        seed_everything(seed)
        w, b = linear_variables(seed)
        return cls(
            lambda x: linear_model(x, w, b),
            [w, b],
            tf.keras.optimizers.SGD(learning_rate=0.02),
            linear_data(),
            {"model_variables": (w, b)},
            workdir,
            **limits,
        )

    @classmethod
    def keras(
        cls, seed: int = 0, workdir: str | os.PathLike[str] = "workspace/lab-keras", **limits: int | None
    ) -> CheckpointLab:
        """The seed's Keras `MyModel` with Adam, built before any restore, in a fresh `workdir`."""
        seed_everything(seed)
        model, optimizer = MyModel(), tf.keras.optimizers.Adam(learning_rate=0.01)
        return cls.from_keras(model, optimizer, regression_data(seed=seed), workdir, **limits)

    @classmethod
    def from_keras(
        cls,
        model: tf.keras.Model,
        optimizer: tf.keras.optimizers.Optimizer,
        data: tuple[tf.Tensor, tf.Tensor],
        workdir: str | os.PathLike[str],
        **limits: int | None,
    ) -> CheckpointLab:
        """A lab over your own Keras model, optimizer and `(inputs, targets)`; builds both first."""
        build_keras(model, optimizer, data[0])  # Keras 3: variables must exist before a restore can fill them
        return cls(model, None, optimizer, data, {"model": model}, workdir, **limits)

    @classmethod
    def over(
        cls,
        checkpoint: tf.train.Checkpoint,
        predict: Callable[[tf.Tensor], tf.Tensor],
        data: tuple[tf.Tensor, tf.Tensor],
        workdir: str | os.PathLike[str],
        *,
        variables: Sequence[tf.Variable] | None = None,
        history: History | None = None,
        code: Mapping[str, str] | None = None,
    ) -> CheckpointLab:
        """A lab over a notebook's own checkpoint, model, optimizer and data (notebooks 01 and 02).

        `checkpoint` must track `step` (an integer variable) and `optimizer`; training goes on from
        their current values with their hyperparameters. `variables=None` means `predict` is a
        Keras model, built here (with its optimizer) if it is not yet.
        """
        step, optimizer = getattr(checkpoint, "step", None), getattr(checkpoint, "optimizer", None)
        if not isinstance(step, tf.Variable) or not step.dtype.is_integer or optimizer is None:
            raise CheckpointError(
                "the lab needs a checkpoint that tracks step=tf.Variable(0) and optimizer=optimizer"
            )
        if variables is None:
            build_keras(predict, optimizer, data[0])
        return cls(
            predict,
            variables,
            optimizer,
            data,
            {},
            workdir,
            checkpoint=checkpoint,
            history=history,
            code=code,
        )

    def train(self, steps: int, on_step: Callable[[int, float], None] | None = None) -> float:
        """Train `steps` steps and return the last loss (the current loss when `steps` is 0)."""
        steps = check_steps(steps)
        if steps > self.max_steps:
            raise InvalidStepsError(
                f"this lab trains at most {self.max_steps} steps per run, got {steps}: train in shorter runs"
            )
        self.last_call = self.code["train"].format(steps=steps)
        losses = fit(
            self.predict,
            self.variables,
            self.optimizer,
            self.inputs,
            self.targets,
            steps,
            step=self.step,
            history=self.history,
            on_step=on_step,
        )
        return losses[-1] if losses else self.loss()

    def loss(self) -> float:
        """The current loss on the lab's data, without training."""
        return float(mse(self.predict(self.inputs), self.targets))

    def save(self) -> str:
        """Save a checkpoint and return its path; past `max_to_keep`, the oldest is deleted (`dropped`).

        Files are numbered 1, 2, 3... by the lab, not by step nor by `save_counter`: both go back on
        a restore, and the branch that follows would overwrite the other branch's files.
        """
        kept = self.checkpoints()
        dropped = kept[-1] if self.max_to_keep is not None and len(kept) >= self.max_to_keep else None
        if self.max_bytes is not None:
            used = sum(checkpoint_bytes(p) for p in kept if p != dropped)
            if used + self._save_size() > self.max_bytes:
                limit, held = size_text(self.max_bytes), size_text(used)
                raise CheckpointError(
                    f"this lab's checkpoints may take {limit} and hold {held}, "
                    "too little room for one more: delete a checkpoint, or start over"
                )
        number = self._next_number()
        self.last_call = f"{self.code['manager']}.save(checkpoint_number={number})"
        path = self.manager.save(checkpoint_number=number)
        self.history.mark_save(path, int(self.step))
        self._last_saved, self._last_values = path, None
        self.dropped = dropped if dropped is not None and not os.path.exists(dropped + ".index") else None
        return path

    def _save_size(self) -> int:
        """What the next save will take: the newest checkpoint's size, or the variables' bytes before any."""
        kept = self.checkpoints()
        if kept:
            return checkpoint_bytes(kept[0])
        return sum(value_of(v).nbytes for _, v in live_variables(self.checkpoint))

    def delete(self, path: str) -> None:
        """Delete a checkpoint this lab saved: its `.index` and `.data-*` files and its state-file line."""
        self.last_call = (
            f"{self.code['lab']}.delete({self._code_path(path)})  # ckptkit: its files and state-file line"
        )
        forget_checkpoint(self.manager, path)
        self.manager = self._manager()  # a new manager reads the state file as it now is

    def _manager(self) -> tf.train.CheckpointManager:
        return tf.train.CheckpointManager(
            self.checkpoint, self.workdir, max_to_keep=self.max_to_keep, checkpoint_name="ckpt"
        )

    def set_learning_rate(self, value: float) -> float:
        """Set the optimizer's learning rate (a variable in the checkpoint: a restore brings it back)."""
        rate = float(value)
        if not (math.isfinite(rate) and 0 < rate <= MAX_LEARNING_RATE):
            raise CheckpointError(
                f"the learning rate must be above 0 and at most {MAX_LEARNING_RATE:g}, got {value!r}"
            )
        variable = self.optimizer.learning_rate
        if not hasattr(variable, "assign"):
            raise CheckpointError(
                "this optimizer's learning rate is a schedule, not a value: it cannot be set"
            )
        self.last_call = f"{self.code['optimizer']}.learning_rate.assign({rate:.4g})"
        variable.assign(rate)
        return rate

    def checkpoints(self) -> list[str]:
        """Paths of the saved checkpoints still on disk, newest first."""
        return [p for p in reversed(self.manager.checkpoints) if os.path.exists(p + ".index")]

    def restore(self, path: str) -> RestoreReport:
        """Restore `path` as `last_call` shows: ckptkit's check, then TensorFlow's restore and status check.

        The check changes nothing; if the restore or its status check raises, every live value is put
        back. Later training becomes a new branch of the history.
        """
        shown = self._code_path(path)
        check = f"{self.code['lab']}.check_restore({shown})  # ckptkit's own check; changes nothing"
        self.last_call = check  # what ran when the check refuses: TensorFlow's restore never starts
        report, variables = checked_variables(self.checkpoint, _on_disk(path))
        self.last_call = f"{check}\n{self.code['ckpt']}.restore({shown}).{STATUS_CHECK}()"
        restore_or_roll_back(self.checkpoint, str(path), variables)
        self.history.mark_restore(report.path, int(self.step))
        self._last_saved, self._last_values = report.path, None
        return report

    def check_restore(self, path: str) -> RestoreReport:
        """What restoring `path` would fill, or one line saying why it would not fit; changes nothing."""
        return check_restore(self.checkpoint, _on_disk(path))

    def compare(self, a: str, b: str) -> Diff:
        """Per-variable diff of `a` and `b`, each a checkpoint path or "live"."""
        codes = [self.code["ckpt"] if side == LIVE else self._code_path(side) for side in (a, b)]
        self.last_call = f"ckptkit.compare({codes[0]}, {codes[1]})"
        sources = [self.checkpoint if side == LIVE else _on_disk(side) for side in (a, b)]
        return compare(*sources, label_a=_name(a), label_b=_name(b))

    def _next_number(self) -> int:
        """One more than any number the manager listed, a file in its folder or a past save carries.

        Never goes back: not over a file the lab did not write, nor to the name of one it deleted
        (the history still names that one).
        """
        names = [os.path.basename(p) for p in self.manager.checkpoints]
        names += [f.name.removesuffix(".index") for f in self.workdir.glob("ckpt-*.index")]
        saved = [e.path for e in self.history.saves()]
        # One Path per folder, not per save: a long history made each save slower.
        here = {d for d in {os.path.dirname(p) for p in saved} if Path(d) == self.workdir}
        names += [os.path.basename(p) for p in saved if os.path.dirname(p) in here]
        return max((int(m[1]) for n in names if (m := re.fullmatch(r"ckpt-([0-9]+)", n))), default=0) + 1

    def _code_path(self, path: str) -> str:
        """`path` as code: relative to the manager's folder when it lies there."""
        if Path(path).parent == Path(self.manager.directory):
            return f'f"{{{self.code["manager"]}.directory}}/{Path(path).name}"'
        return repr(str(path))

    def loss_of(self, path: str) -> float | None:
        """The loss recorded when `path` was saved."""
        saved = self.history.last_save(path)
        return saved.loss if saved else None

    def step_of(self, path: str) -> int | None:
        """The step at which `path` was saved."""
        saved = self.history.last_save(path)
        return saved.step if saved else None

    def variable_rows(self) -> list[VariableRow]:
        """Each model variable: shape, values (small) or norm (large), max change since the last save."""
        if (
            self._last_saved is not None
            and self._last_values is None
            and os.path.exists(self._last_saved + ".index")
        ):
            self._last_values = snapshot(self._last_saved)
        # The model's own variables, wherever the walk first meets them: a Sequential's weights are
        # reached through the optimizer (optimizer/_trainable_variables/N) before the model.
        own = {id(v) for v in (self.variables or getattr(self.predict, "variables", []))}
        rows = []
        for name, var in live_variables(self.checkpoint):
            if id(var) not in own:
                continue
            value = value_of(var)
            shown = brief(value) if value.size <= 3 else f"norm {np.linalg.norm(value):.4g}"
            if self._last_values is None or name not in self._last_values:
                change = "not saved yet"
            else:
                change = f"{np.max(np.abs(value - self._last_values[name])):.4g}"
            rows.append(VariableRow(name, tuple(value.shape), shown, change))
        return rows


def _on_disk(path: str) -> str:
    """`path` itself, or a clear error when its files were deleted behind the lab's back."""
    if not os.path.exists(str(path) + ".index"):
        raise CheckpointNotFoundError(
            f"checkpoint {os.path.basename(str(path))} is gone from disk: pick another one, or save again"
        )
    return str(path)


def _name(side: str) -> str:
    return side if side == LIVE else os.path.basename(side)
