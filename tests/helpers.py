"""Small builders shared by the tests: trained Keras and linear checkpoints in a temporary folder."""

from __future__ import annotations

import ckptkit
from ckptkit.live.restore import build_keras
from ckptkit.runs.models import MyModel, regression_data

import json
import re
from pathlib import Path

import tensorflow as tf


def built_keras(hidden: int = 16) -> tuple[MyModel, tf.keras.optimizers.Optimizer, tf.train.Checkpoint]:
    """A built model, a built Adam, and a checkpoint over both plus a step counter."""
    model, optimizer = MyModel(hidden), tf.keras.optimizers.Adam(0.01)
    build_keras(model, optimizer, regression_data()[0])
    return model, optimizer, tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(0))


def saved_keras(folder: Path, steps: int = 3) -> tuple[str, tf.train.Checkpoint]:
    """Train a Keras model a few steps, save it in `folder`, and return the path and the checkpoint."""
    model, optimizer, ckpt = built_keras()
    inputs, targets = regression_data()
    ckptkit.fit(model, model.trainable_variables, optimizer, inputs, targets, steps, step=ckpt.step)
    return ckpt.save(str(folder / "ckpt")), ckpt


def data_file(prefix: str) -> Path:
    """The single data shard of a checkpoint."""
    return Path(prefix + ".data-00000-of-00001")


def damage(prefix: str, how: str, at: float = 0.5, bits: int = 0xFF) -> None:
    """Flip `bits` of the byte at fraction `at` of the data file ("flip"), or cut it there ("truncate")."""
    data = data_file(prefix)
    raw = bytearray(data.read_bytes())
    cut = int(len(raw) * at)
    if how == "flip":
        raw[cut] ^= bits
    else:
        raw = raw[:cut]
    data.write_bytes(bytes(raw))


def missing_sections(notebook: Path, sections: str) -> list[str]:
    """The section names quoted in a hint (`section 'A'`, `sections 'A' and 'B'`) that are no `##` heading."""
    headings = {
        line.removeprefix("## ").replace("`", "")
        for cell in json.loads(notebook.read_text())["cells"]
        if cell["cell_type"] == "markdown"
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("## ")
    }
    names = re.findall(r"'(.+?)'(?: and|\)|$)", sections)
    return [name for name in names if name.replace("`", "") not in headings]


def spells_out(message: str, calls: tuple[str, ...]) -> bool:
    """True when a check's message names a call of the reference solution: a ❌ hints, never gives code."""
    return any(call in message for call in calls)
