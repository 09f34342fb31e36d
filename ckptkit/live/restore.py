"""Checked restore: refuse what would silently load nothing, report what matched, roll back on failure."""

from __future__ import annotations

from ckptkit.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointPermissionError,
    CorruptCheckpointError,
    ModelMismatchError,
    ShapeMismatchError,
    UnbuiltModelError,
)
from ckptkit.files.reader import VALUE_SUFFIX, StoredCheckpoint, explain_tf_error, open_checkpoint
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import is_variable, value_of, walk

import os
from collections.abc import Sequence
from dataclasses import dataclass

tf = import_tensorflow()

# What TensorFlow's own reads raise on a bad file: op errors (DataLoss, NotFound, ...) or IndexError.
TF_READ_ERRORS = (tf.errors.OpError, IndexError)

__all__ = [
    "TF_READ_ERRORS",
    "RestoreReport",
    "build_keras",
    "check_fit",
    "restore_checked",
    "restore_newest_good",
]


@dataclass(frozen=True)
class RestoreReport:
    """What a restore filled, what the checkpoint held that nothing took, and what it lacked."""

    path: str
    matched: tuple[str, ...]
    only_in_checkpoint: tuple[str, ...]
    only_in_objects: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """True when every stored value found a variable and every variable got a value."""
        return not self.only_in_checkpoint and not self.only_in_objects

    def __repr__(self) -> str:
        """A short readable report, one section per list."""
        lines = [f"restored {os.path.basename(self.path)}: {len(self.matched)} values matched"]
        for title, names in (
            ("in the checkpoint, not in the objects", self.only_in_checkpoint),
            ("in the objects, not in the checkpoint", self.only_in_objects),
        ):
            lines.append(f"{len(names)} {title}" + (":" if names else ""))
            lines.extend(f"  {n}" for n in names)
        return "\n".join(lines)


def build_keras(model: object, optimizer: object, sample: object) -> None:
    """Create a Keras model's and its optimizer's variables now, so a restore can fill them (Keras 3 is late).

    The model is called once on the first row of `sample`; the optimizer (if any) is built over the
    model's trainable variables, whose order decides where its slots are stored.
    """
    if not model.built:
        model(sample[:1])
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)


def _is_unbuilt(obj: object, optimizers: bool = True) -> bool:
    """A Keras layer (or optimizer, unless told not) not built yet (a layer's sublayers are built with it)."""
    import keras

    kinds = keras.Layer | keras.optimizers.Optimizer if optimizers else keras.Layer
    return isinstance(obj, kinds) and not obj.built


def _unbuilt_message(path: str, obj: object) -> str:
    import keras

    kind = type(obj).__name__
    if isinstance(obj, keras.optimizers.Optimizer):
        return (
            f"{path!r} ({kind}) is not built, so restore cannot fill its slots now: Keras 3 creates "
            "them at the first apply_gradients, and the stored values then land by position on whatever "
            f"trainable variables exist: call {path}.build(model.trainable_variables) before restoring"
        )
    return (
        f"{path!r} ({kind}) is not built, so restore may fill only part of it, with no error: Keras 3 "
        "creates its variables at the first call, and some stored values may never reach them (a layer "
        f"may keep its random start beside a stray duplicate variable): call {path} once on a batch "
        f"(e.g. {path}(inputs[:1])) before restoring"
    )


def _match(checkpoint: object, stored: StoredCheckpoint) -> tuple[dict[str, object], bool, set[str]]:
    """Stored key -> live variable, matched through the object graph as restore() matches them.

    The flag says whether the match holds nothing but variables (no iterator or other state that
    only TensorFlow's restore knows how to load, no old-style optimizer slot variables). The set
    names the objects stored at the top of the checkpoint. The graph's nodes come from ckptkit's own
    parse (`ckptkit.files`), TensorFlow's `CheckpointView.match` pairs them with live objects.
    """
    nodes = (stored.object_graph() or {"nodes": []})["nodes"]
    try:
        view = tf.train.CheckpointView(stored.prefix)
    except TF_READ_ERRORS as err:
        raise explain_tf_error(stored.prefix, err) from None
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # match() logs mismatched slots at length; the checks below explain them
    try:
        found = view.match(checkpoint)
    finally:
        logger.setLevel(level)
    matched, variables_only = {}, not any(node["slot_variables"] for node in nodes)
    for node_id, obj in found.items():
        for attribute in nodes[node_id]["attributes"]:
            if attribute["checkpoint_key"].endswith(VALUE_SUFFIX) and is_variable(obj):
                matched[attribute["checkpoint_key"].removesuffix(VALUE_SUFFIX)] = obj
            else:
                variables_only = False
    return matched, variables_only, {name for _, name in nodes[0]["children"]} if nodes else set()


def _check_shapes(matched: dict[str, object], stored: StoredCheckpoint) -> None:
    for key, var in matched.items():
        want, have = stored.shape(key + VALUE_SUFFIX), tuple(var.shape)
        if want != have:
            fix = (
                "optimizer slots are stored by position, so build the optimizer over the same trainable "
                "variables, in the same order, as when it was saved, or start a fresh optimizer"
                if "/_variables/" in key
                else "build the model with the same layer sizes as the one that was saved"
            )
            raise ShapeMismatchError(
                f"{key!r} is stored with shape {want} but the live variable has shape {have}: {fix}"
            )
        if stored.dtype(key + VALUE_SUFFIX) != tf.as_dtype(var.dtype).name:
            raise ShapeMismatchError(
                f"{key!r} is stored as {stored.dtype(key + VALUE_SUFFIX)} but the live variable is "
                f"{tf.as_dtype(var.dtype).name}: create it with the dtype it was saved with"
            )


def restore_checked(
    checkpoint: tf.train.Checkpoint, path: str | os.PathLike[str], complete: bool = False
) -> RestoreReport:
    """Restore `path` (a prefix or a folder) into `checkpoint`, or raise before changing anything.

    With `complete=True`, a checkpoint that lacks a value the objects have, or holds one they do
    not take, is refused with `ModelMismatchError` before any variable changes.
    """
    with open_checkpoint(path) as stored_checkpoint:  # resolves the path and reads the index, or says why not
        return _restore_checked(checkpoint, stored_checkpoint, complete)


def check_fit(
    checkpoint: tf.train.Checkpoint, stored_checkpoint: StoredCheckpoint, complete: bool, hint: str = ""
) -> tuple[RestoreReport, dict[str, object], bool]:
    """What restoring `stored_checkpoint` into `checkpoint` would fill, or raise why it would not fit.

    Changes nothing. Refused: an unbuilt Keras object that stored values would reach, another shape
    or dtype, and (with `complete`) stored values nothing takes or variables with no value; `hint`
    ends that last message. Also returns the matched variables and whether they are all there is.
    """
    prefix = stored_checkpoint.prefix
    keys = stored_checkpoint.stored_keys()
    stored = {k.removesuffix(VALUE_SUFFIX) for k in keys if k.endswith(VALUE_SUFFIX)}

    # The variables, not looked for below an unbuilt layer (it has none); an unbuilt optimizer already
    # holds its step and learning rate, so only stored slots need it built: plain SGD has none.
    found = walk(checkpoint, lambda o: is_variable(o) or _is_unbuilt(o, optimizers=False))
    live = {name: obj for name, obj in found if is_variable(obj)}
    unbuilt = [
        (n, o) for n, o in walk(checkpoint, lambda o: is_variable(o) or _is_unbuilt(o)) if _is_unbuilt(o)
    ]
    for name, obj in unbuilt:
        if any(key.startswith(name + "/") for key in stored - set(live)):
            raise UnbuiltModelError(_unbuilt_message(name, obj))

    matched, variables_only, stored_top = _match(checkpoint, stored_checkpoint)
    _check_shapes(matched, stored_checkpoint)
    matched_ids = {id(v) for v in matched.values()}
    lacking = {p for p, v in live.items() if id(v) not in matched_ids}
    # Objects with no variables of their own (a tf.data iterator) show up only as absent names.
    for name in tf.train.TrackableView(checkpoint).children(checkpoint):
        if name not in stored_top and not any(p == name or p.startswith(name + "/") for p in live):
            lacking.add(name)
    report = RestoreReport(
        path=prefix,
        matched=tuple(sorted(matched)),
        only_in_checkpoint=tuple(sorted(k for k in stored if k not in matched)),
        only_in_objects=tuple(sorted(lacking)),
    )
    if complete and not report.complete:
        extra, lacking = report.only_in_checkpoint, report.only_in_objects
        raise ModelMismatchError(
            f"{os.path.basename(prefix)} does not fit these objects ("
            + "; ".join(
                f"{len(names)} {what}, e.g. {names[0]!r}"
                for names, what in ((extra, "stored values nothing takes"), (lacking, "variables it lacks"))
                if names
            )
            + ")"
            + hint
        )
    return report, matched, variables_only


def _restore_checked(
    checkpoint: tf.train.Checkpoint, stored_checkpoint: StoredCheckpoint, complete: bool
) -> RestoreReport:
    report, matched, variables_only = check_fit(checkpoint, stored_checkpoint, complete)
    prefix = stored_checkpoint.prefix
    if variables_only:
        # Read (and so checksum) every value before assigning any: a damaged file changes nothing.
        try:
            values = {key: stored_checkpoint.get(key + VALUE_SUFFIX) for key in matched}
        except CheckpointError as err:
            raise type(err)(f"{err} (live variables left unchanged)") from None
        for key, var in matched.items():
            var.assign(values[key])
    else:
        _restore_with_rollback(checkpoint, prefix, matched)

    return report


def _restore_with_rollback(checkpoint: tf.train.Checkpoint, prefix: str, matched: dict[str, object]) -> None:
    """TensorFlow's own restore, for state only it can load; variables are put back if it fails."""
    targets = {id(v): v for v in matched.values()}
    before = {key: value_of(v) for key, v in targets.items()}
    try:
        checkpoint.restore(prefix).expect_partial()  # unmatched values are in the report instead
    except TF_READ_ERRORS as err:
        for key, value in before.items():
            targets[key].assign(value)
        found = explain_tf_error(prefix, err)
        raise type(found)(f"{found} (live variables left unchanged)") from None


def restore_newest_good(
    checkpoint: tf.train.Checkpoint, candidates: tf.train.CheckpointManager | Sequence[str]
) -> tuple[RestoreReport | None, list[tuple[str, str]]]:
    """Restore the newest checkpoint that can be read; say which were skipped and why.

    `candidates` is a `CheckpointManager` (the checkpoints its state file lists) or prefixes, oldest
    first. Only damaged or missing checkpoints are skipped. One that belongs to another model (shapes,
    dtypes, missing or extra values) raises: its folder is another run's, not a fallback.
    """
    paths = candidates.checkpoints if isinstance(candidates, tf.train.CheckpointManager) else candidates
    skipped = []
    for path in reversed(list(paths)):
        try:
            return restore_checked(checkpoint, path, complete=True), skipped
        except (CorruptCheckpointError, CheckpointNotFoundError, CheckpointPermissionError) as err:
            skipped.append((path, str(err)))
    return None, skipped
