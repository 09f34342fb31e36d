"""The exercise checks of notebook 09_distributed.ipynb."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import live_variables, snapshot

import os

import numpy as np

tf = import_tensorflow()

__all__ = ["check_sharded"]


def check_sharded(folder: str | os.PathLike[str], model: object, limit: int = 500_000) -> Feedback:
    """Check `folder`'s latest checkpoint holds `model`'s values in data files of at most `limit` bytes."""
    if not os.path.isdir(folder) or not (path := tf.train.latest_checkpoint(os.fspath(folder))):
        return Feedback(False, "no checkpoint in that folder yet: save one there with ckpt.save(...)")
    sizes = [os.path.getsize(f) for f in tf.io.gfile.glob(path + ".data-*")]
    if len(sizes) == 1:
        return Feedback(
            False, f"one data file of {sizes[0]:,} bytes: pass options= with a sharding callback to save"
        )
    if max(sizes) > limit:
        return Feedback(False, f"the largest data file has {max(sizes):,} bytes: lower max_shard_size")
    stored = list(snapshot(path).values())
    for name, var in live_variables(model):
        value = np.asarray(var.numpy())
        if not any(v.shape == value.shape and np.array_equal(v, value) for v in stored):
            return Feedback(False, f"the checkpoint does not hold the model's current {name}: save the model")
    return Feedback(True, f"right: {len(sizes)} data files of at most {max(sizes):,} bytes, values exact")
