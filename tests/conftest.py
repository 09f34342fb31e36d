"""Shared set-up: quiet TensorFlow before any test imports it, and a headless plotting backend."""

from __future__ import annotations

import ckptkit  # sets TensorFlow's log level before TensorFlow loads

import matplotlib
import pytest

# In this process only: an MPLBACKEND variable would reach the notebook kernels that nbval starts
# and stop their inline figures from displaying.
matplotlib.use("Agg")

tf = ckptkit.import_tensorflow()


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same random state."""
    ckptkit.seed_everything(0)
