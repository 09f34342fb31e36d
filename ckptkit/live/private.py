"""Every private TensorFlow or Keras API the kit needs, in one place, each tested in tests/test_private.py.

A TensorFlow or Keras upgrade may rename any of these; each function then raises `PrivateApiError`,
one line naming what moved, instead of failing somewhere deep in a lesson.
"""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.live.quiet import import_tensorflow

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = [
    "PrivateApiError",
    "learning_rate_variable",
    "optimizer_slot",
    "replaced_rename",
    "replaced_save_op",
    "replaced_shard_writer",
    "unrestored_warner",
]


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


def unrestored_warner(status: object) -> Callable[[], None]:
    """A function that logs now what `status`'s restore would log once collected, if it is still held.

    TensorFlow warns of unrestored values from the deleter of the status's coordinator (its
    `_checkpoint._deleter`) when that is collected: the function runs that deleter's own check and words
    now, then marks it said, so it stays quiet when collected. Other statuses never warn.
    """
    if type(status).__name__ != "CheckpointLoadStatus":  # name-based or initialization-only: no deleter
        return lambda: None
    coordinator = getattr(status, "_checkpoint", None)
    deleter = getattr(coordinator, "_deleter", None)
    if not hasattr(deleter, "set_expect_partial") or not hasattr(type(deleter), "__del__"):
        raise _missing("CheckpointLoadStatus._checkpoint._deleter")
    held = weakref.ref(coordinator)  # not the deleter: holding it would keep its warnings from ever coming

    def warn() -> None:
        alive = held()
        if alive is not None:
            alive._deleter.__del__()  # logs nothing once expect_partial() was called
            alive._deleter.set_expect_partial(True)

    return warn


@contextmanager
def _replaced(
    module: object, name: str, where: str, replacement: Callable[..., object]
) -> Iterator[Callable]:
    """Replace `module.name` inside the block by a call of `replacement(original, *args, **kwargs)`."""
    original = getattr(module, name, None)
    if original is None:
        raise _missing(f"{where}.{name}")

    def call(*args: object, **kwargs: object) -> object:
        return replacement(original, *args, **kwargs)

    setattr(module, name, call)
    try:
        yield original
    finally:
        setattr(module, name, original)


@contextmanager
def replaced_save_op(name: str, replacement: Callable[..., object]) -> Iterator[Callable]:
    """Replace one of TensorFlow's generated I/O ops (e.g. `merge_v2_checkpoints`) inside the block.

    `tf.train.Checkpoint.save` calls the merge through `tensorflow.python.ops.gen_io_ops`; the
    replacement is called as `replacement(original_op, *args, **kwargs)`, so a lesson can stop a save
    at a chosen step of its commit protocol, before or after the real op ran.
    """
    import_tensorflow()
    from tensorflow.python.ops import gen_io_ops  # private: the module the checkpoint writer calls

    with _replaced(gen_io_ops, name, "tensorflow.python.ops.gen_io_ops", replacement) as original:
        yield original


@contextmanager
def replaced_shard_writer(replacement: Callable[..., object]) -> Iterator[Callable]:
    """Replace `io_ops.save_v2`, the op writing one shard of a save into `<prefix>_temp/`, inside the block.

    TensorFlow's `functional_saver` calls it once per shard as `io_ops.save_v2(shard_prefix, names,
    slices, tensors)`; the replacement is called as `replacement(original_op, *args, **kwargs)`.
    """
    import_tensorflow()
    from tensorflow.python.ops import io_ops  # private: the module functional_saver calls per shard

    with _replaced(io_ops, "save_v2", "tensorflow.python.ops.io_ops", replacement) as original:
        yield original


@contextmanager
def replaced_rename(replacement: Callable[..., object]) -> Iterator[Callable]:
    """Replace `file_io.rename` inside the block: the call that commits the `checkpoint` state file.

    `CheckpointManager` writes the state file with `file_io.atomic_write_string_to_file`, which writes
    `checkpoint.tmp<hex>` and then calls `rename(tmp, "checkpoint", overwrite)`; the replacement is
    called as `replacement(original_rename, oldname, newname, overwrite)`.
    """
    import_tensorflow()
    from tensorflow.python.lib.io import file_io  # private: where atomic_write_string_to_file looks it up

    with _replaced(file_io, "rename", "tensorflow.python.lib.io.file_io", replacement) as original:
        yield original
