"""Keras 2 (tf-keras) checkpoints into Keras 3 models and optimizers, matched through the object graph.

Serves notebook 10. A Keras 2 checkpoint names a Dense kernel `model/dense1/kernel` where Keras 3
writes `model/dense1/_kernel`, numbers Adam's slots from 1 where Keras 3 starts at 2 (or, with the
legacy Adam, hangs them under each weight as `.OPTIMIZER_SLOT/optimizer/m`), so `restore`
restores part of it, puts some values in the wrong variables, then fails. `keras2_to_keras3` maps
each weight by its attribute path and each optimizer slot by the weight it belongs to (the slot's
full name in the object graph, `Adam/m/my_model/dense/kernel`), checks every shape, and only then
assigns.
"""

from __future__ import annotations

from ckptkit.errors import (
    CheckpointError,
    ExtraValueError,
    MissingValueError,
    OptimizerMismatchError,
    ShapeMismatchError,
    UnbuiltModelError,
)
from ckptkit.files.graph import first_paths
from ckptkit.files.reader import VALUE_SUFFIX, StoredCheckpoint, open_checkpoint, resolve_checkpoint
from ckptkit.files.text import first_few, text_table
from ckptkit.live.private import learning_rate_variable, optimizer_slot
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.restore import build_keras
from ckptkit.live.snapshot import live_variables
from ckptkit.runs.models import MyModel

import os
from dataclasses import dataclass, field

import numpy as np

tf = import_tensorflow()

__all__ = ["Mapped", "MigrationReport", "keras2_to_keras3", "migrate_kit_model"]


# Keras 2 slot name -> the Keras 3 optimizer attribute holding that slot for every variable.
SLOTS = {"m": "_momentums", "v": "_velocities", "vhat": "_velocity_hats"}
SLOT_WORDS = {"m": "momentum", "v": "velocity", "vhat": "velocity_hat"}
# Keras 2 optimizer values that Keras 3 keeps as plain Python numbers: checked, not assigned.
HYPERPARAMETERS = ("beta_1", "beta_2", "epsilon", "decay")
OPTIMIZER_CLASSES = {"Adadelta", "Adafactor", "Adagrad", "Adam", "Adamax", "AdamW", "Ftrl", "Lion", "Nadam"}
OPTIMIZER_CLASSES |= {"RMSprop", "SGD"}


@dataclass(frozen=True)
class Mapped:
    """One value moved: its Keras 2 key, the Keras 3 key it fills, its shape and what it is."""

    source: str
    target: str
    shape: tuple[int, ...]
    role: str


@dataclass
class MigrationReport:
    """What `keras2_to_keras3` assigned, what it checked, and which stored values it left alone."""

    path: str
    mapped: list[Mapped] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def text(self) -> str:
        """A table: Keras 2 key, Keras 3 key, shape, role; then the checked and left-alone values."""
        rows = [["Keras 2 key", "Keras 3 key", "shape", "role"]]
        rows += [[m.source, m.target, m.shape, m.role] for m in self.mapped]
        lines = [f"{len(self.mapped)} values migrated from {self.path}", *text_table(rows, widths={2: 8})]
        if self.checked:
            lines.append("checked against the optimizer's settings: " + ", ".join(self.checked))
        if self.left:
            lines.append("left in the checkpoint (not model or optimizer state): " + ", ".join(self.left))
        return "\n".join(lines)

    def __repr__(self) -> str:
        """The table of `text()`."""
        return self.text()


@dataclass
class _Stored:
    key: str  # checkpoint key without the value suffix
    full_name: str
    shape: tuple[int, ...]
    path: str  # object path from the root, e.g. "model/dense1/kernel"


def _graph(checkpoint: StoredCheckpoint) -> dict:
    """The checkpoint's object graph (ckptkit's own parse), or a one-line error for a TF1 checkpoint."""
    graph = checkpoint.object_graph()
    if graph is None:
        raise CheckpointError(
            f"{checkpoint.prefix!r} has no object graph, so it is not a TF2 object-based checkpoint (a TF1 "
            "Saver checkpoint?): load it by variable name as notebook 05 shows"
        )
    return graph


def _stored(graph: dict, checkpoint: StoredCheckpoint) -> dict[int, _Stored]:
    """Node id -> the value it holds, for every node with a saved variable value."""
    paths, values = first_paths(graph), {}
    # A legacy optimizer's slots hang off no object's children: file them under their optimizer.
    for owner, node in enumerate(graph["nodes"]):
        for ref in node["slot_variables"]:
            paths.setdefault(ref["slot_variable_node_id"], f"{paths.get(owner, '')}/slot:{ref['slot_name']}")
    for node_id, node in enumerate(graph["nodes"]):
        for attr in node["attributes"]:
            if attr["name"] == "VARIABLE_VALUE" and checkpoint.has(attr["checkpoint_key"]):
                key = attr["checkpoint_key"].removesuffix(VALUE_SUFFIX)
                path = paths.get(node_id, key)
                shape = checkpoint.shape(attr["checkpoint_key"])
                values[node_id] = _Stored(key, attr["full_name"], shape, path)
    return values


def _canonical(path: str) -> str:
    """A weight's attribute path with Keras 3's leading underscore dropped (`_kernel` -> `kernel`)."""
    head, _, leaf = path.rpartition("/")
    return f"{head}/{leaf.lstrip('_')}" if head else leaf.lstrip("_")


def _child(graph: dict, node_id: int, name: str) -> int | None:
    """The id of node `node_id`'s child called `name`, if it has one."""
    return next((child for child, local in graph["nodes"][node_id]["children"] if local == name), None)


def _check_built(model: object, optimizer: object) -> None:
    if not getattr(model, "built", False) or not model.variables:
        raise UnbuiltModelError(
            f"{type(model).__name__} is not built, so it has no variables to fill: "
            "call it once on a batch (e.g. model(inputs[:1])) before migrating"
        )
    if optimizer is not None and not getattr(optimizer, "built", False):
        raise UnbuiltModelError(
            f"the {type(optimizer).__name__} optimizer is not built, so it has no slots to fill: "
            "call optimizer.build(model.trainable_variables) before migrating"
        )


def _under(stored: dict[int, _Stored], name: str) -> dict[int, _Stored]:
    """The stored values whose path starts at the root's child `name`."""
    return {i: s for i, s in stored.items() if s.path == name or s.path.startswith(name + "/")}


def _model_pairs(
    model: object, values: dict[int, _Stored], model_key: str
) -> tuple[list[tuple[object, _Stored, str]], dict[int, tuple[object, str]]]:
    """Pair each Keras 3 model variable with the stored value at the same attribute path."""
    by_path = {_canonical(s.path.removeprefix(model_key + "/")): i for i, s in values.items()}
    pairs, weight_of = [], {}
    for path, variable in live_variables(model):
        node_id = by_path.pop(_canonical(path), None)
        if node_id is None:
            raise MissingValueError(
                f"the Keras 3 variable {model_key}/{path} has no value in the checkpoint (its model values: "
                f"{', '.join(sorted(s.key for s in values.values()))}): is it the same model?"
            )
        pairs.append((variable, values[node_id], "weight"))
        weight_of[node_id] = (variable, f"{model_key}/{path}")
    if by_path:
        extra = sorted(values[i].key for i in by_path.values())
        raise ExtraValueError(
            f"the checkpoint holds model values no Keras 3 variable takes: {', '.join(extra)}: "
            "build the model with the same layers, or migrate into a model that has them"
        )
    return pairs, weight_of


def _optimizer_kind(values: dict[int, _Stored]) -> str | None:
    """The class name Keras 2 put at the front of the optimizer's full names (`Adam/m/...`), if known."""
    known = {s.full_name.split("/", 1)[0] for s in values.values()} & OPTIMIZER_CLASSES
    return known.pop() if len(known) == 1 else None


def _slots(graph: dict, root_id: int, values: dict[int, _Stored], weights: dict[int, object]) -> dict:
    """Slot node id -> (weight node id, Keras 2 slot name), from the legacy list or the full names."""
    # Legacy optimizers list their slots in the graph: (weight node, slot name, slot node).
    slot_of = {
        r["slot_variable_node_id"]: (r["original_variable_node_id"], r["slot_name"])
        for r in graph["nodes"][root_id]["slot_variables"]
    }
    weight_by_name = {name: i for i, name in weights.items()}
    for node_id, s in values.items():
        parts = s.full_name.split("/", 2)  # Keras 2's default optimizers: "Adam/m/<weight's full name>"
        if node_id not in slot_of and len(parts) == 3 and parts[2] in weight_by_name:
            slot_of[node_id] = (weight_by_name[parts[2]], parts[1])
    return slot_of


def _optimizer_pairs(
    graph: dict,
    checkpoint: StoredCheckpoint,
    stored: dict[int, _Stored],
    optimizer: object,
    optimizer_key: str,
    weight_of: dict[int, tuple[object, str]],
    report: MigrationReport,
) -> list[tuple[object, _Stored, str]]:
    """Pair Keras 3's update count, learning rate and every slot with the Keras 2 value it came from."""
    root_id = _child(graph, 0, optimizer_key)
    if root_id is None:
        raise MissingValueError(
            f"the checkpoint holds no {optimizer_key!r} object, so no optimizer state: "
            "pass optimizer=None to migrate the weights only"
        )
    values = _under(stored, optimizer_key)
    kind, live_kind = _optimizer_kind(values), type(optimizer).__name__
    if kind is not None and kind != live_kind:
        raise OptimizerMismatchError(
            f"the checkpoint holds {kind} state but the optimizer is {live_kind}: "
            f"migrate into a tf.keras.optimizers.{kind}"
        )
    weight_names = {i: stored[i].full_name for i in weight_of}
    pairs: list[tuple[object, _Stored, str]] = []
    for node_id, (weight_id, slot) in sorted(_slots(graph, root_id, values, weight_names).items()):
        attribute = SLOTS.get(slot)
        if attribute is None or not hasattr(optimizer, attribute):
            raise OptimizerMismatchError(
                f"the checkpoint holds a {slot!r} slot that {live_kind} does not keep: "
                f"migrate into the kind of optimizer that wrote it ({kind or 'see its slot names'})"
            )
        variable, weight_key = weight_of[weight_id]
        target = optimizer_slot(optimizer, attribute, variable)
        pairs.append((target, stored[node_id], f"{SLOT_WORDS[slot]} of {weight_key}"))
    counters = {"update count": ("_iterations", "iter"), "learning rate": ("_learning_rate", "learning_rate")}
    for role, names in counters.items():
        node_id = next((i for n in names if (i := _child(graph, root_id, n)) in values), None)
        target = optimizer.iterations if role == "update count" else learning_rate_variable(optimizer)
        if node_id is not None and target is not None:  # a schedule's learning rate is no variable
            pairs.append((target, stored[node_id], role))
    used = {s.key for _, s, _ in pairs} | _check_hyperparameters(
        graph, checkpoint, root_id, values, optimizer, report
    )
    _check_all_placed(values, used, pairs, optimizer)
    return pairs


def _check_hyperparameters(
    graph: dict,
    checkpoint: StoredCheckpoint,
    root_id: int,
    values: dict[int, _Stored],
    optimizer: object,
    report: MigrationReport,
) -> set[str]:
    """Compare the stored hyperparameters Keras 3 keeps as Python numbers; return the keys checked."""
    checked = set()
    for name in HYPERPARAMETERS:  # kept as Python numbers by Keras 3: compare, do not assign
        node_id = _child(graph, root_id, name)
        if node_id not in values:
            continue
        saved = float(checkpoint.get(values[node_id].key + VALUE_SUFFIX))
        live = getattr(optimizer, name, 0.0)
        if np.float32(saved) != np.float32(live or 0.0):
            hint = " (Keras 3 has no decay: use a LearningRateSchedule)" if name == "decay" else ""
            raise OptimizerMismatchError(
                f"the checkpoint's {name} is {saved:.4g} but the optimizer's is {live or 0.0:.4g}: "
                f"create the optimizer with {name}={saved:.4g}{hint}"
            )
        report.checked.append(f"{values[node_id].key} = {saved:.4g}")
        checked.add(values[node_id].key)
    return checked


def _check_all_placed(
    values: dict[int, _Stored], used: set[str], pairs: list[tuple[object, _Stored, str]], optimizer: object
) -> None:
    """Refuse stored optimizer values with no place, and optimizer variables with no stored value."""
    live_kind = type(optimizer).__name__
    extra = sorted(s.key for s in values.values() if s.key not in used)
    if extra:
        raise ExtraValueError(
            f"the checkpoint holds optimizer values {live_kind} has no place for ({', '.join(extra)}): "
            "create the optimizer with the settings (e.g. amsgrad) of the one that wrote it"
        )
    filled = {id(t) for t, _, _ in pairs}
    missing = sorted(v.path for v in optimizer.variables if id(v) not in filled)
    if missing:
        shown = first_few(missing, 2)
        raise MissingValueError(
            f"{len(missing)} of the optimizer's variables have no value in the checkpoint ({shown}): "
            "create the optimizer with the settings (e.g. amsgrad) of the one that wrote it"
        )


def _read(
    checkpoint: StoredCheckpoint,
    pairs: list[tuple[object, _Stored, str]],
    keys3: dict[int, str],
) -> list[np.ndarray]:
    """Every value, read and converted to its target's dtype, before anything is assigned."""
    values = []
    for target, source, _ in pairs:
        if tuple(target.shape) != source.shape:
            raise ShapeMismatchError(
                f"{source.key} has shape {source.shape} but Keras 3's {keys3.get(id(target))} has shape "
                f"{tuple(target.shape)}: build the model with the layer sizes of the one that wrote it"
            )
        try:
            value = checkpoint.get(source.key + VALUE_SUFFIX)
        except CheckpointError as err:
            raise type(err)(f"{err}: value {source.key!r} cannot be read") from None
        values.append(np.asarray(value, dtype=np.dtype(target.dtype)))
    return values


def keras2_to_keras3(
    path: str | os.PathLike[str],
    model: object,
    optimizer: object | None = None,
    *,
    model_key: str = "model",
    optimizer_key: str = "optimizer",
) -> MigrationReport:
    """Fill a built Keras 3 model (and optimizer) from a Keras 2 checkpoint, or raise and change nothing.

    `path` is a checkpoint written by `tf.train.Checkpoint(model=..., optimizer=...)` under Keras 2
    (`tf-keras`, default or legacy optimizer); `model_key` and `optimizer_key` are the names it used.
    Weights are matched by attribute path, slots by the weight they belong to. With
    `optimizer=None` only the weights move. Every Keras 3 variable must get a value of its shape and
    every stored model or optimizer value must find a variable; otherwise a `CheckpointError`
    subclass is raised before any variable is assigned.
    """
    with open_checkpoint(path) as checkpoint:
        return _migrate(checkpoint, model, optimizer, model_key, optimizer_key)


def _migrate(
    checkpoint: StoredCheckpoint, model: object, optimizer: object | None, model_key: str, optimizer_key: str
) -> MigrationReport:
    """`keras2_to_keras3` on an open checkpoint."""
    prefix = checkpoint.prefix
    graph = _graph(checkpoint)
    _check_built(model, optimizer)
    stored = _stored(graph, checkpoint)
    if _child(graph, 0, model_key) is None:
        names = ", ".join(name for _, name in graph["nodes"][0]["children"])
        raise MissingValueError(
            f"the checkpoint holds no {model_key!r} object (its top-level objects: {names}): "
            "pass model_key= the name it was saved under"
        )
    if any(s.key.endswith(("/_kernel", "/_embeddings")) for s in stored.values()):
        raise CheckpointError(
            f"{prefix!r} was written by Keras 3 (its keys say _kernel): restore it with tf.train.Checkpoint"
        )
    report = MigrationReport(os.fspath(prefix))
    pairs, weight_of = _model_pairs(model, _under(stored, model_key), model_key)
    if optimizer is not None:
        pairs += _optimizer_pairs(graph, checkpoint, stored, optimizer, optimizer_key, weight_of, report)
    objects = {model_key: model} | ({optimizer_key: optimizer} if optimizer is not None else {})
    keys3 = {id(v): k for k, v in live_variables(tf.train.Checkpoint(**objects))}
    values = _read(checkpoint, pairs, keys3)
    for (target, _, _), value in zip(pairs, values, strict=True):
        target.assign(value)
    for target, source, role in pairs:
        report.mapped.append(Mapped(source.key, keys3.get(id(target), target.path), source.shape, role))
    moved = {s.key for _, s, _ in pairs} | {c.split(" = ")[0] for c in report.checked}
    report.left = sorted(s.key for s in stored.values() if s.key not in moved)
    return report


def migrate_kit_model(
    name: str, source: str | os.PathLike[str], out: str | os.PathLike[str]
) -> MigrationReport:
    """Migrate a Keras 2 checkpoint of the kit's model `name` and write it for Keras 3 at prefix `out`."""
    if name != "keras":
        raise CheckpointError(f"no Keras 2 migration for the {name!r} model: use --model keras (MyModel)")
    if tf.io.gfile.glob(os.fspath(out) + ".*"):
        raise CheckpointError(f"{os.fspath(out)!r} already holds a checkpoint: pick a new prefix")
    prefix = resolve_checkpoint(source)
    with open_checkpoint(prefix) as checkpoint:
        keys = checkpoint.stored_keys()
        kernel_key, step_key = "model/dense1/kernel" + VALUE_SUFFIX, "step" + VALUE_SUFFIX
        kernel = checkpoint.shape(kernel_key) if checkpoint.has(kernel_key) else None
        step = checkpoint.get(step_key) if checkpoint.has(step_key) else None
    if kernel is None or len(kernel) != 2:
        raise MissingValueError(f"{prefix!r} holds no model/dense1/kernel, so it is not a MyModel checkpoint")
    model, optimizer = MyModel(hidden=kernel[1]), tf.keras.optimizers.Adam()
    build_keras(model, optimizer, tf.zeros([1, kernel[0]]))
    has_optimizer = any(k.startswith("optimizer/") or "/.OPTIMIZER_SLOT/" in k for k in keys)
    report = keras2_to_keras3(prefix, model, optimizer if has_optimizer else None)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)
    if step is not None:  # the kit's checkpoints count steps beside the model: keep the count
        ckpt.step = tf.Variable(step)
        report.left.remove("step")
        report.mapped.append(Mapped("step", "step", (), "step counter"))
    ckpt.write(os.fspath(out))
    return report
