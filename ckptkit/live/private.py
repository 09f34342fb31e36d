"""Every private TensorFlow or Keras API the kit needs, in one place, each tested in tests/test_private.py.

A TensorFlow or Keras upgrade may rename any of these; each function then raises `PrivateApiError`,
one line naming what moved, instead of failing somewhere deep in a lesson.
"""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.live.quiet import import_tensorflow

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["PrivateApiError", "learning_rate_variable", "optimizer_slot", "replaced_save_op"]


class PrivateApiError(CheckpointError, AttributeError):
    """A private TensorFlow or Keras name the kit relies on is gone: pin the versions in requirements.txt."""


def _missing(what: str) -> PrivateApiError:
    tf = import_tensorflow()
    return PrivateApiError(
        f"{what} is not in TensorFlow {tf.__version__} / Keras {tf.keras.__version__}: "
        "install the versions pinned in requirements.txt"
    )


def optimizer_slot(optimizer: object, attribute: str, variable: object) -> object:
    """A Keras 3 optimizer's slot for `variable`, e.g. Adam's momentum: `optimizer._momentums[index]`.

    Keras 3 has no public per-variable slot lookup; its slots live in lists such as `_momentums` and
    `_velocities`, in the order of the variables the optimizer was built over.
    """
    index_of = getattr(optimizer, "_get_variable_index", None)
    slots = getattr(optimizer, attribute, None)
    if index_of is None or slots is None:
        raise _missing(f"{type(optimizer).__name__}._get_variable_index / .{attribute}")
    return slots[index_of(variable)]


def learning_rate_variable(optimizer: object) -> object | None:
    """The variable holding a Keras 3 optimizer's learning rate (`_learning_rate`), or None for a schedule."""
    if not hasattr(optimizer, "_learning_rate"):
        raise _missing(f"{type(optimizer).__name__}._learning_rate")
    rate = optimizer._learning_rate
    return rate if hasattr(rate, "assign") else None


@contextmanager
def replaced_save_op(name: str, replacement: Callable[..., object]) -> Iterator[None]:
    """Replace one of TensorFlow's generated I/O ops (e.g. `merge_v2_checkpoints`) inside the block.

    `tf.train.Checkpoint.save` calls these through `tensorflow.python.ops.gen_io_ops`; replacing one
    lets a lesson stop a save at a chosen step of its commit protocol.
    """
    import_tensorflow()
    from tensorflow.python.ops import gen_io_ops  # private: the module the checkpoint writer calls

    original = getattr(gen_io_ops, name, None)
    if original is None:
        raise _missing(f"tensorflow.python.ops.gen_io_ops.{name}")
    setattr(gen_io_ops, name, replacement)
    try:
        yield
    finally:
        setattr(gen_io_ops, name, original)
