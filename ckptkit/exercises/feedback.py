"""What every exercise check answers with: `Feedback`, one sentence; and the helpers the checks share."""

from __future__ import annotations

from ckptkit.live.snapshot import live_variables

from dataclasses import dataclass

__all__ = ["Feedback", "fails", "tracked"]


@dataclass(frozen=True)
class Feedback:
    """The verdict of a check: passed or not, and one sentence saying why."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        """True when the answer is right."""
        return self.passed

    def __repr__(self) -> str:
        """A tick or a cross, then the sentence."""
        return ("✅ " if self.passed else "❌ ") + self.message


def tracked(ckpt: object) -> dict[int, str]:
    """Map `id(object)` to its path for every object and variable the checkpoint would save."""
    paths = {id(v): p for p, v in live_variables(ckpt)}
    import tensorflow as tf

    view = tf.train.TrackableView(ckpt)
    for name, child in view.children(ckpt).items():
        paths.setdefault(id(child), name)
    return paths


def fails(what: str, err: BaseException) -> Feedback:
    """A learner's code raised: say so in one line instead of a traceback."""
    return Feedback(
        False, f"{what} raised {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    )
