"""A Keras 2 (tf-keras) checkpoint opened for migration, and the layouts `keras2_to_keras3` refuses.

Serves notebook 11 through `ckptkit.live.migrate`. Reads the object graph with ckptkit's own parser
(no TensorFlow): every stored value by graph node, with its key, full name, shape and object path.
"""

from __future__ import annotations

from ckptkit.errors import CheckpointError, ModelMismatchError, OptimizerMismatchError
from ckptkit.files.graph import first_paths
from ckptkit.files.reader import VALUE_SUFFIX, StoredCheckpoint

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Keras2Checkpoint", "Pair", "Stored", "refuse_unmapped"]


@dataclass
class Stored:
    """One stored value: its key, the full name the object graph records, its shape and object path."""

    key: str  # checkpoint key without the value suffix
    full_name: str
    shape: tuple[int, ...]
    path: str  # object path from the root, e.g. "model/dense1/kernel"


Pair = tuple[object, Stored, str]  # a Keras 3 variable, the Keras 2 value it takes, and its role


class Keras2Checkpoint:
    """A Keras 2 checkpoint open for migration: its reader, object graph, and stored values by node."""

    def __init__(self, checkpoint: StoredCheckpoint) -> None:
        """Parse the object graph (ckptkit's own), or raise one line for a TF1 checkpoint."""
        self.checkpoint, self.prefix, graph = checkpoint, checkpoint.prefix, checkpoint.object_graph()
        if graph is None:
            raise CheckpointError(
                f"{checkpoint.prefix!r} has no object graph, so it is not a TF2 object-based checkpoint (a "
                "TF1 Saver checkpoint?): load it by variable name as notebook 05 shows"
            )
        self.graph, paths, self.stored = graph, first_paths(graph), {}
        # A legacy optimizer's slots hang off no object's children: file them under their optimizer.
        for owner, node in enumerate(graph["nodes"]):
            for ref in node["slot_variables"]:
                paths.setdefault(
                    ref["slot_variable_node_id"], f"{paths.get(owner, '')}/slot:{ref['slot_name']}"
                )
        for node_id, node in enumerate(graph["nodes"]):
            for attr in node["attributes"]:
                if attr["name"] == "VARIABLE_VALUE" and checkpoint.has(attr["checkpoint_key"]):
                    key = attr["checkpoint_key"].removesuffix(VALUE_SUFFIX)
                    shape = checkpoint.shape(attr["checkpoint_key"])
                    self.stored[node_id] = Stored(key, attr["full_name"], shape, paths.get(node_id, key))

    def child(self, node_id: int | None, name: str) -> int | None:
        """The id of node `node_id`'s child called `name`, if it has one."""
        children = self.graph["nodes"][node_id]["children"] if node_id is not None else []
        return next((child for child, local in children if local == name), None)

    def under(self, name: str) -> dict[int, Stored]:
        """The stored values whose path starts at the root's child `name`."""
        return {i: s for i, s in self.stored.items() if s.path == name or s.path.startswith(name + "/")}

    def value(self, stored: Stored) -> np.ndarray:
        """One stored value, or the reader's one-line error naming it."""
        try:
            return self.checkpoint.get(stored.key + VALUE_SUFFIX)
        except CheckpointError as err:
            raise type(err)(f"{err}: value {stored.key!r} cannot be read") from None


def refuse_unmapped(
    source: Keras2Checkpoint, model_key: str, optimizer_key: str, with_optimizer: bool
) -> None:
    """Refuse a Keras 3 checkpoint, a Sequential or Functional model, a loss-scale optimizer's state."""
    prefix, optimizer_id = source.prefix, source.child(0, optimizer_key)
    count = source.stored.get(source.child(optimizer_id, "_iterations"))
    # Keras >= 3.0.3 writes `_kernel`; Keras 3.15 names its update count `<optimizer>/iteration`, Keras 2
    # `iteration`. A model-only checkpoint of Keras 3.0.0-3.0.2 looks like Keras 2's and migrates alike.
    if any(s.key.endswith(("/_kernel", "/_embeddings")) for s in source.stored.values()) or (
        count is not None and "/" in count.full_name
    ):
        raise CheckpointError(
            f"{prefix!r} was written by Keras 3 (its keys say _kernel, or its optimizer's names are "
            "Keras 3's): restore it with tf.train.Checkpoint"
        )
    if any(re.search(r"/layer(_with_weights)?-\d+(/|$)", s.path) for s in source.under(model_key).values()):
        raise ModelMismatchError(
            f"{prefix!r} holds a Keras 2 Sequential or Functional model ({model_key}/layer_with_weights-N/"
            "...), and only a subclassed model's attributes are mapped: copy tf-keras's get_weights() into "
            "Keras 3's set_weights() (weights only: the optimizer starts afresh), or map the keys by hand"
        )
    if with_optimizer and source.child(optimizer_id, "loss_scale") is not None:
        raise OptimizerMismatchError(
            f"{prefix!r} holds a Keras 2 LossScaleOptimizer, which is not migrated: "
            "pass optimizer=None to migrate the weights, and train on with a fresh optimizer"
        )
