"""Shared set-up: quiet TensorFlow before any test imports it, and a headless plotting backend."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import ckptkit  # sets TensorFlow's log level before TensorFlow loads

import pytest

tf = ckptkit.import_tensorflow()


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same random state."""
    ckptkit.seed_everything(0)
