"""Seeded, deterministic TensorFlow: what makes committed notebook outputs match a fresh run."""

from __future__ import annotations

from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.workspace import workspace

from pathlib import Path

__all__ = ["seed_everything", "setup"]


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def setup(name: str, seed: int = 0) -> Path:
    """Quiet and seed TensorFlow, then return the notebook's fresh workspace folder (each setup cell)."""
    seed_everything(seed)
    return workspace(name)
