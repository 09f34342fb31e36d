"""Keras 2 (tf-keras) checkpoints of subclassed models into Keras 3, matched through the object graph.

Serves notebook 11. Keras 2 names a Dense kernel `model/dense1/kernel` (Keras >= 3.0.3: `_kernel`) and
numbers Adam's slots from 1 (Keras 3: from 2; the legacy Adam hangs them under each weight), so
`restore` fills part of the model, misplaces some values, then fails. `keras2_to_keras3` maps each
weight by its attribute path and each slot by the weight it belongs to (its full name in the object
graph, `Adam/m/my_model/dense/kernel`), checks every shape, and only then assigns. It refuses in one
line, saying what to do instead, a Sequential or Functional model (`model/layer_with_weights-N/...`),
a `LossScaleOptimizer` and the slots of two weights of one full name (layers given one name); a
learning-rate schedule moves if the Keras 3 optimizer has the same one.
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
from ckptkit.files.reader import VALUE_SUFFIX, open_checkpoint, resolve_checkpoint
from ckptkit.files.text import first_few, text_table
from ckptkit.live.keras2 import Keras2Checkpoint, Pair, Stored, refuse_unmapped
from ckptkit.live.private import learning_rate_variable, optimizer_slot
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.restore import build_keras
from ckptkit.live.snapshot import live_variables
from ckptkit.runs.models import MyModel

import os
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

tf = import_tensorflow()

__all__ = ["Mapped", "MigrationReport", "keras2_to_keras3", "migrate_kit_model"]


# Keras 2 slot name -> the Keras 3 optimizer attribute holding that slot for every variable.
SLOTS = {"m": "_momentums", "v": "_velocities", "vhat": "_velocity_hats"}
# Keras 3's SGD keeps its one slot in a public list; Keras 2 names it `m` (default) or `momentum` (legacy).
SLOTS_OF = {"SGD": {"m": "momentums", "momentum": "momentums"}}
SLOT_WORDS = {"m": "momentum", "v": "velocity", "vhat": "velocity_hat", "momentum": "momentum"}
# Keras 2 optimizer values that Keras 3 keeps as plain Python numbers: checked, not assigned.
HYPERPARAMETERS = ("beta_1", "beta_2", "epsilon", "decay", "momentum")
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
            lines.append("checked against the optimizer's settings, as float32: " + ", ".join(self.checked))
        if self.left:
            lines.append("left in the checkpoint (not model or optimizer state): " + ", ".join(self.left))
        return "\n".join(lines)

    __repr__ = text


def _canonical(path: str) -> str:
    """A weight's attribute path with Keras 3's leading underscore dropped (`_kernel` -> `kernel`)."""
    head, _, leaf = path.rpartition("/")
    return f"{head}/{leaf.lstrip('_')}" if head else leaf.lstrip("_")


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


def _model_pairs(
    model: object, values: dict[int, Stored], model_key: str
) -> tuple[list[Pair], dict[int, tuple[object, str]]]:
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


def _slots(
    source: Keras2Checkpoint, root_id: int, values: dict[int, Stored], weights: dict[int, str]
) -> dict:
    """Slot node id -> (weight node id, Keras 2 slot name), from the legacy list or the full names."""
    # Legacy optimizers list their slots in the graph: (weight node, slot name, slot node).
    slot_of = {
        r["slot_variable_node_id"]: (r["original_variable_node_id"], r["slot_name"])
        for r in source.graph["nodes"][root_id]["slot_variables"]
    }
    weight_by_name = {name: i for i, name in weights.items()}
    # A subclassed Keras 2 model may give two layers one name: their slots' names cannot tell them apart.
    count = Counter(weights.values())
    for node_id, s in values.items():
        # Default optimizers: "<optimizer name>/m/<weight's full name>" when the first apply_gradients
        # built the slots, "m/<weight's full name>" when `optimizer.build` was called by hand first.
        forms = [s.full_name.split("/", 2)[1:], s.full_name.split("/", 1)]
        found = [f for f in forms if len(f) == 2 and f[1] in weight_by_name and f[0] in SLOT_WORDS]
        if node_id in slot_of or not found:
            continue
        slot, weight = found[0]
        if count[weight] > 1:
            raise OptimizerMismatchError(
                f"{source.prefix!r}: Keras 2 named {count[weight]} weights "
                f"{weight!r} (layers of one name), so the optimizer state of each cannot be told apart: "
                "pass optimizer=None to migrate the weights, and train on with a fresh optimizer"
            )
        slot_of[node_id] = (weight_by_name[weight], slot)
    return slot_of


def _optimizer_pairs(
    source: Keras2Checkpoint,
    optimizer: object,
    optimizer_key: str,
    weight_of: dict[int, tuple[object, str]],
    report: MigrationReport,
) -> list[Pair]:
    """Pair Keras 3's update count, learning rate and every slot with the Keras 2 value it came from."""
    root_id = source.child(0, optimizer_key)
    if root_id is None:
        raise MissingValueError(
            f"the checkpoint holds no {optimizer_key!r} object, so no optimizer state: "
            "pass optimizer=None to migrate the weights only"
        )
    values = source.under(optimizer_key)
    # Keras 2 puts the optimizer's name at the front of its slots' full names (`Adam/m/...`): its class
    # name unless it was renamed, in which case no kind is inferred here and the slot checks remain.
    known = {s.full_name.split("/", 1)[0] for s in values.values()} & OPTIMIZER_CLASSES
    kind, live_kind = known.pop() if len(known) == 1 else None, type(optimizer).__name__
    if kind is not None and kind != live_kind:
        raise OptimizerMismatchError(
            f"the checkpoint holds {kind} state but the optimizer is {live_kind}: "
            f"migrate into a tf.keras.optimizers.{kind}"
        )
    weight_names = {i: source.stored[i].full_name for i in weight_of}
    pairs: list[Pair] = []
    for node_id, (weight_id, slot) in sorted(_slots(source, root_id, values, weight_names).items()):
        attribute = SLOTS_OF.get(live_kind, SLOTS).get(slot)
        if attribute is None or not hasattr(optimizer, attribute):
            raise OptimizerMismatchError(
                f"the checkpoint holds a {slot!r} slot that {live_kind} does not keep: "
                f"migrate into the kind of optimizer that wrote it ({kind or 'see its slot names'})"
            )
        variable, weight_key = weight_of[weight_id]
        if not getattr(optimizer, attribute):  # e.g. SGD made with momentum=0 keeps no momentums
            raise OptimizerMismatchError(
                f"the checkpoint holds {SLOT_WORDS.get(slot, slot)} slots but this {live_kind} keeps none: "
                "create it with momentum > 0, as the one that wrote it was"
            )
        target = optimizer_slot(optimizer, attribute, variable)
        pairs.append((target, source.stored[node_id], f"{SLOT_WORDS[slot]} of {weight_key}"))
    counters, scheduled = _counter_pairs(source, root_id, values, optimizer)
    used = {s.key for _, s, _ in pairs + counters} | scheduled
    used |= _check_hyperparameters(source, root_id, values, optimizer, report)
    _check_all_placed(values, used, pairs + counters, optimizer)
    return pairs + counters


def _counter_pairs(
    source: Keras2Checkpoint, root_id: int, values: dict[int, Stored], optimizer: object
) -> tuple[list[Pair], set[str]]:
    """The update count and learning rate; and the keys of a schedule's last rate (code, not state)."""
    rate, pairs = learning_rate_variable(optimizer), []  # rate None: Keras 3 follows a schedule
    counters = {"update count": ("_iterations", "iter"), "learning rate": ("_learning_rate", "learning_rate")}
    for role, names in counters.items():
        if (
            node_id := next((i for n in names if (i := source.child(root_id, n)) in values), None)
        ) is not None:
            pairs.append((optimizer.iterations if role == "update count" else rate, values[node_id], role))
    # Keras 2 on a schedule stores the last rate it computed, not the schedule: that is code.
    scheduled = {values[i].key for i in (source.child(root_id, "_current_learning_rate"),) if i in values}
    if (rate is None and any(t is None for t, _, _ in pairs)) or (scheduled and rate is not None):
        saved, live = ("a schedule", "a number") if scheduled else ("a number", "a schedule")
        raise OptimizerMismatchError(
            f"the checkpoint's learning rate is {saved} but this {type(optimizer).__name__}'s is {live}: "
            f"create it with the kind of learning_rate Keras 2 used ({saved})"
        )
    return pairs, scheduled


def _check_hyperparameters(
    source: Keras2Checkpoint,
    root_id: int,
    values: dict[int, Stored],
    optimizer: object,
    report: MigrationReport,
) -> set[str]:
    """Compare the stored hyperparameters Keras 3 keeps as Python numbers; return the keys checked."""
    checked = set()
    for name in HYPERPARAMETERS:  # kept as Python numbers by Keras 3: compare, do not assign
        node_id = source.child(root_id, name)
        if node_id not in values:
            continue
        saved, live = float(source.value(values[node_id])), getattr(optimizer, name, 0.0)
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
    values: dict[int, Stored], used: set[str], pairs: list[Pair], optimizer: object
) -> None:
    """Refuse stored optimizer values with no place, and optimizer variables with no stored value."""
    extra = sorted(s.key for s in values.values() if s.key not in used)
    missing = sorted(v.path for v in optimizer.variables if id(v) not in {id(t) for t, _, _ in pairs})
    if extra or missing:
        kind = type(optimizer).__name__
        what = f"values {kind} has no place for ({', '.join(extra)})" if extra else "no value for "
        what += "" if extra else f"{len(missing)} of the {kind}'s variables ({first_few(missing, 2)})"
        raise (ExtraValueError if extra else MissingValueError)(
            f"the checkpoint holds {what}: create the optimizer with the settings (e.g. amsgrad) of the one "
            "that wrote it"
        )


def _read(source: Keras2Checkpoint, pairs: list[Pair], keys3: dict[int, str]) -> list[np.ndarray]:
    """Every value, read and converted to its target's dtype, before anything is assigned."""
    values = []
    for target, stored, _ in pairs:
        if tuple(target.shape) != stored.shape:
            raise ShapeMismatchError(
                f"{stored.key} has shape {stored.shape} but Keras 3's {keys3.get(id(target))} has shape "
                f"{tuple(target.shape)}: build the model with the layer sizes of the one that wrote it"
            )
        values.append(np.asarray(source.value(stored), dtype=np.dtype(target.dtype)))
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
    (`tf-keras`, default or legacy optimizer) for a subclassed model; `model_key` and
    `optimizer_key` are the names it used. Weights are matched by attribute path, slots by the
    weight they belong to. With `optimizer=None` only the weights move. Every Keras 3 variable must
    get a value of its shape and every stored model or optimizer value must find a variable;
    otherwise a `CheckpointError` subclass is raised before any variable is assigned.
    """
    with open_checkpoint(path) as checkpoint:
        return _migrate(Keras2Checkpoint(checkpoint), model, optimizer, model_key, optimizer_key)


def _migrate(
    source: Keras2Checkpoint, model: object, optimizer: object | None, model_key: str, optimizer_key: str
) -> MigrationReport:
    """`keras2_to_keras3` on an open checkpoint."""
    _check_built(model, optimizer)
    if source.child(0, model_key) is None:
        names = ", ".join(name for _, name in source.graph["nodes"][0]["children"])
        raise MissingValueError(
            f"the checkpoint holds no {model_key!r} object (its top-level objects: {names}): "
            "pass model_key= the name it was saved under"
        )
    refuse_unmapped(source, model_key, optimizer_key, with_optimizer=optimizer is not None)
    report = MigrationReport(os.fspath(source.prefix))
    pairs, weight_of = _model_pairs(model, source.under(model_key), model_key)
    if optimizer is not None:
        pairs += _optimizer_pairs(source, optimizer, optimizer_key, weight_of, report)
    objects = {model_key: model} | ({optimizer_key: optimizer} if optimizer is not None else {})
    keys3 = {id(v): k for k, v in live_variables(tf.train.Checkpoint(**objects))}
    values = _read(source, pairs, keys3)
    for (target, _, _), value in zip(pairs, values, strict=True):
        target.assign(value)
    for target, stored, role in pairs:
        report.mapped.append(Mapped(stored.key, keys3.get(id(target), target.path), stored.shape, role))
    moved = {s.key for _, s, _ in pairs} | {c.split(" = ")[0] for c in report.checked}
    report.left = sorted(s.key for s in source.stored.values() if s.key not in moved)
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
