"""`CheckpointLab`: a plain-Python controller over a model, its optimizer, checkpoints and loss history."""

from __future__ import annotations

from ckptkit.errors import CheckpointError, CheckpointNotFoundError
from ckptkit.files.diff import Diff
from ckptkit.live.determinism import seed_everything
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.restore import RestoreReport, restore_checked
from ckptkit.live.snapshot import brief, compare, live_variables, snapshot, value_of
from ckptkit.live.workspace import fresh_folder
from ckptkit.runs.history import History
from ckptkit.runs.models import MyModel, linear_data, linear_model, linear_variables, regression_data
from ckptkit.runs.step import check_steps, fit, mse

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = ["LIVE", "CheckpointLab", "VariableRow"]

LIVE = "live"

# How `last_call` names the lab's own objects; a lab over a notebook's objects uses the notebook's names.
LAB_CODE = {
    "ckpt": "lab.checkpoint",
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
        checkpoint: tf.train.Checkpoint | None = None,
        history: History | None = None,
        code: Mapping[str, str] | None = None,
    ) -> None:
        """Track `objects` (e.g. `{"model": model}`), the optimizer and a step counter under `workdir`.

        `workdir` must be new, empty, or a folder ckptkit created (it is emptied); a folder holding
        other files is refused. By default every checkpoint is kept: learners restore old ones.
        A given `checkpoint` (with its own `step`) is used as it is; `code` names the objects in
        `last_call` (keys "ckpt", "manager", and "train" with a `{steps}` field).
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
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.workdir, max_to_keep=max_to_keep, checkpoint_name="ckpt"
        )
        self.history = History() if history is None else history
        self.code = {**LAB_CODE, **(code or {})}
        self.last_call = ""  # the line of code the last action ran, as a learner would type it
        self._last_saved: str | None = None  # the checkpoint the live values were last equal to
        self._last_values: dict[str, np.ndarray] | None = None  # its values, read when first needed

    @classmethod
    def linear(cls, seed: int = 0, workdir: str | os.PathLike[str] = "workspace/lab-linear") -> CheckpointLab:
        """The seed's linear model `x @ w + b` with SGD, in a fresh `workdir`."""
        seed_everything(seed)
        w, b = linear_variables(seed)
        return cls(
            lambda x: linear_model(x, w, b),
            [w, b],
            tf.keras.optimizers.SGD(learning_rate=0.02),
            linear_data(),
            {"model_variables": (w, b)},
            workdir,
        )

    @classmethod
    def keras(cls, seed: int = 0, workdir: str | os.PathLike[str] = "workspace/lab-keras") -> CheckpointLab:
        """The seed's Keras `MyModel` with Adam, built before any restore, in a fresh `workdir`."""
        seed_everything(seed)
        model, optimizer = MyModel(), tf.keras.optimizers.Adam(learning_rate=0.01)
        return cls.from_keras(model, optimizer, regression_data(seed=seed), workdir)

    @classmethod
    def from_keras(
        cls,
        model: tf.keras.Model,
        optimizer: tf.keras.optimizers.Optimizer,
        data: tuple[tf.Tensor, tf.Tensor],
        workdir: str | os.PathLike[str],
    ) -> CheckpointLab:
        """A lab over your own Keras model, optimizer and `(inputs, targets)`; builds both first."""
        model(data[0][:1])  # Keras 3: variables must exist before a restore can fill them
        optimizer.build(model.trainable_variables)
        return cls(model, None, optimizer, data, {"model": model}, workdir)

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
        """A lab over a notebook's own checkpoint, model, optimizer and data (notebooks 01-03).

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
            if not predict.built:
                predict(data[0][:1])
            if not optimizer.built:
                optimizer.build(predict.trainable_variables)
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
        """Save a checkpoint and return its path.

        Files are numbered 1, 2, 3... by the lab, not by step nor by `save_counter`: both go back on
        a restore, and the branch that follows would overwrite the other branch's files.
        """
        number = self._next_number()
        self.last_call = f"{self.code['manager']}.save(checkpoint_number={number})"
        path = self.manager.save(checkpoint_number=number)
        self.history.mark_save(path, int(self.step))
        self._last_saved, self._last_values = path, None
        return path

    def checkpoints(self) -> list[str]:
        """Paths of the saved checkpoints still on disk, newest first."""
        return [p for p in reversed(self.manager.checkpoints) if os.path.exists(p + ".index")]

    def restore(self, path: str) -> RestoreReport:
        """Restore `path` with every check on; later training becomes a new branch of the history."""
        self.last_call = f"{self.code['ckpt']}.restore({self._code_path(path)}).assert_consumed()"
        report = restore_checked(self.checkpoint, _on_disk(path))
        self.history.mark_restore(report.path, int(self.step))
        self._last_saved, self._last_values = report.path, None
        return report

    def compare(self, a: str, b: str) -> Diff:
        """Per-variable diff of `a` and `b`, each a checkpoint path or "live"."""
        codes = [self.code["ckpt"] if side == LIVE else self._code_path(side) for side in (a, b)]
        self.last_call = f"ckptkit.compare({codes[0]}, {codes[1]})"
        sources = [self.checkpoint if side == LIVE else _on_disk(side) for side in (a, b)]
        return compare(*sources, label_a=_name(a), label_b=_name(b))

    def _next_number(self) -> int:
        """One more than any number the manager listed or a file in its folder carries: never goes back."""
        listed = [int(p.rsplit("-", 1)[1]) for p in self.manager.checkpoints]
        on_disk = [
            int(m[1])
            for f in self.workdir.glob("ckpt-*.index")
            if (m := re.fullmatch(r"ckpt-(\d+)\.index", f.name))
        ]
        return max(listed + on_disk, default=0) + 1

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
