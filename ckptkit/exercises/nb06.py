"""The exercise checks of notebook 06_resume_after_a_crash.ipynb."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback
from ckptkit.exercises.feedback import tracked as tracked_paths
from ckptkit.live.quiet import import_tensorflow
from ckptkit.runs.models import seed_states

tf = import_tensorflow()

__all__ = ["check_resumable", "check_seed_states"]


def check_seed_states(chosen: object, model: tf.keras.Model) -> Feedback:
    """06 exercise 1: `chosen` is exactly the list of the model's Dropout seed-generator states."""
    wanted = seed_states(model)
    got = list(chosen) if isinstance(chosen, list | tuple) else []
    if {id(v) for v in got} == {id(v) for v in wanted} and len(got) == len(wanted):
        return Feedback(True, f"right: {len(wanted)} seed state(s), which Checkpoint(model=...) leaves out")
    trainable = {id(v) for v in model.trainable_variables}
    if any(id(v) in trainable for v in got):
        return Feedback(False, "the trainable weights are saved with the model already: pick the seed states")
    return Feedback(False, "look in model.variables for the paths containing 'seed_generator_state'")


def check_resumable(
    ckpt: object, model: object, optimizer: object, iterator: object, generator: object
) -> Feedback:
    """06 exercise 2: `ckpt` tracks a step, the model, its Dropout seed states, optimizer, iterator, RNG."""
    if not isinstance(ckpt, tf.train.Checkpoint):
        return Feedback(False, f"this is a {type(ckpt).__name__}, not a tf.train.Checkpoint")
    tracked = tracked_paths(ckpt)
    view = tf.train.TrackableView(ckpt)
    counters = [
        child
        for name, child in view.children(ckpt).items()
        if name != "save_counter"  # the checkpoint's own count of saves, not the training step
        and isinstance(child, tf.Variable)
        and child.shape == ()
        and child.dtype.is_integer
    ]
    if not counters:
        return Feedback(False, "no step counter: add step=tf.Variable(0), or the run restarts its count")
    if not all(id(v) in tracked for v in getattr(model, "trainable_variables", [model])):
        return Feedback(False, "the model's weights are not all tracked: add model=model")
    for name, obj, why in (
        ("optimizer", optimizer, "its moments and update count"),
        ("iterator", iterator, "the position in the data, shuffle buffer included"),
        ("generator", generator, "the random stream's state"),
    ):
        if id(obj) not in tracked:
            return Feedback(False, f"the {name} is not tracked: add {name}={name} to save {why}")
    if not all(id(v) in tracked for v in seed_states(model)):
        return Feedback(
            False,
            "the Dropout seed states are not saved: Checkpoint(model=...) leaves them out, so the masks "
            "after a restore differ (the layer_seeds row above); add the variables exercise 1 found",
        )
    return Feedback(
        True, "right: step, model, Dropout seed states, optimizer, data iterator and random generator"
    )
