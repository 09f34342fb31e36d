"""The lab's restore in two shown steps: ckptkit's check (changes nothing), then TensorFlow's own restore.

`check_restore` refuses, before any variable changes, what TensorFlow's restore would do only in
part or silently (an unbuilt Keras object, another model's keys, other shapes or dtypes);
`restore_or_roll_back` then runs `checkpoint.restore(path)` and the status method the lab shows,
and puts every live value back if either raises (a damaged data file is found only while reading).
"""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.files.reader import explain_tf_error, open_checkpoint
from ckptkit.live.quiet import import_tensorflow

# The checks are restore_checked's own (one implementation); only the assignment is left to TensorFlow.
from ckptkit.live.restore import TF_READ_ERRORS, RestoreReport, check_fit
from ckptkit.live.snapshot import is_variable, walk

import os

tf = import_tensorflow()

__all__ = ["STATUS_CHECK", "check_restore", "checked_variables", "restore_or_roll_back"]

# The status method the lab calls after `restore()`. The lab restores only checkpoints of its own
# objects, all built, so every stored value has its variable and every variable its value.
STATUS_CHECK = "assert_consumed"


def check_restore(checkpoint: tf.train.Checkpoint, path: str | os.PathLike[str]) -> RestoreReport:
    """Say what restoring `path` into `checkpoint` would fill, or raise why it would not fit; change nothing.

    Refused: a file that cannot be read, an unbuilt Keras model or optimizer (Keras 3 would fill it
    later, in part), a stored value nothing takes or a variable with no stored value, another shape
    or dtype. Serves the lab's Restore click (notebooks 01, 02, 08 and the app).
    """
    return checked_variables(checkpoint, path)[0]


def checked_variables(
    checkpoint: tf.train.Checkpoint, path: str | os.PathLike[str]
) -> tuple[RestoreReport, list[object]]:
    """`check_restore`'s report, and the variables it matched: all of them, since none may be left out."""
    with open_checkpoint(path) as stored_checkpoint:  # resolves the path and reads the index, or says why not
        report, matched, _ = check_fit(
            checkpoint, stored_checkpoint, True, hint=": restore a checkpoint this lab saved"
        )
    return report, list(matched.values())


def restore_or_roll_back(checkpoint: tf.train.Checkpoint, path: str, variables: list | None = None) -> None:
    """Run `checkpoint.restore(path)` and its status check; if either raises, put every live value back.

    `variables` are the checkpoint's variables when the caller has them (`checked_variables`).
    """
    if variables is None:
        variables = [var for _, var in walk(checkpoint, is_variable)]
    # Tensors, not NumPy copies: a read shares the variable's buffer until an assign writes a new one
    # (TensorFlow copies on write), so this costs no copy unless a value changes.
    before = [(var, tf.convert_to_tensor(var)) for var in variables]
    try:
        status = checkpoint.restore(path)
        getattr(status, STATUS_CHECK)()
    except (*TF_READ_ERRORS, AssertionError, ValueError) as err:
        for var, value in before:
            var.assign(value)
        if isinstance(err, TF_READ_ERRORS):
            found = explain_tf_error(path, err)
        else:  # the status check's own message runs to many lines: its first one names the value
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            found = CheckpointError(f"{os.path.basename(path)}: {STATUS_CHECK}() failed: {first}")
        raise type(found)(f"{found} (live variables left unchanged)") from None
