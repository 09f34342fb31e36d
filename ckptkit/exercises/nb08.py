"""The exercise checks of notebook 08_playground.ipynb."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback
from ckptkit.live.quiet import import_tensorflow

from collections.abc import Mapping

tf = import_tensorflow()

__all__ = ["check_branches"]


def check_branches(history: object, wanted: int = 3) -> Feedback:
    """Notebook 08, exercise 1: the lab's loss history holds at least `wanted` runs with training in them."""
    runs = getattr(history, "runs", None)
    if not isinstance(runs, Mapping):
        return Feedback(False, f"this is a {type(history).__name__}: pass the lab's history, lab.history")
    trained = [r for r in runs.values() if r.steps]
    if len(trained) >= wanted:
        names = ", ".join(r.name for r in trained)
        return Feedback(True, f"right: {len(trained)} branches with training: {names}")
    return Feedback(
        False,
        f"{len(trained)} branch(es) with training so far, {len(runs) - len(trained)} without: "
        "a restore starts a branch, and only training puts steps in it",
    )
