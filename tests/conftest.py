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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep each notebook's cells on one xdist worker: nbval runs them in order in one kernel."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.xdist_group(item.path.name))
