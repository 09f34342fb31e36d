"""Loss series by run, with save and restore events, branches and lineage; no TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Event", "History", "Run"]


@dataclass
class Run:
    """One unbroken stretch of training: its steps and losses, and where it started from."""

    name: str
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    parent: str | None = None  # the run this one branched from
    start_step: int | None = None  # the step it branched at
    start_checkpoint: str | None = None  # the checkpoint it started from, if any


@dataclass(frozen=True)
class Event:
    """A save or a restore, at a step of a run."""

    kind: str  # "save" or "restore"
    run: str
    step: int
    path: str
    loss: float | None = None


class History:
    """Losses per step for each run, plus the save and restore events between them."""

    def __init__(self, run: str = "run 1") -> None:
        """Start with one empty run named `run`."""
        self.runs: dict[str, Run] = {run: Run(run)}
        self.events: list[Event] = []
        self.current = run

    @property
    def run(self) -> Run:
        """The run that `record` adds to."""
        return self.runs[self.current]

    def record(self, step: int, loss: float) -> None:
        """Add the loss reached at `step` to the current run."""
        self.run.steps.append(int(step))
        self.run.losses.append(float(loss))

    def loss_at(self, step: int, run: str | None = None) -> float | None:
        """Return the loss a run recorded at `step`, looking back through its parents."""
        name: str | None = run or self.current
        while name is not None:
            r = self.runs[name]
            if step in r.steps:
                return r.losses[r.steps.index(step)]
            name = r.parent
        return None

    def mark_save(self, path: str, step: int) -> Event:
        """Note that the checkpoint `path` was saved at `step` of the current run."""
        event = Event("save", self.current, int(step), str(path), self.loss_at(int(step)))
        self.events.append(event)
        return event

    def last_save(self, path: str) -> Event | None:
        """The newest save event of the checkpoint `path`, or None if it was never saved here."""
        saved = [e for e in self.events if e.kind == "save" and e.path == str(path)]
        return saved[-1] if saved else None

    def branch(
        self,
        name: str | None = None,
        *,
        at_step: int | None = None,
        checkpoint: str | None = None,
    ) -> Run:
        """Start a new run and switch to it; it starts from `checkpoint` or `at_step` of the current run.

        A run of the same name is replaced, events and all: re-running a notebook cell records its
        branch again instead of failing.
        """
        if name is None:  # a new number: an unnamed branch never replaces a run
            number = len(self.runs) + 1
            while f"run {number}" in self.runs:
                number += 1
            name = f"run {number}"
        parent = self.current if at_step is not None else None
        if name in self.runs:
            old = self.runs.pop(name)
            self.events = [e for e in self.events if e.run != name]
            if parent == name:
                parent = old.parent
        saved = self.last_save(checkpoint) if checkpoint is not None else None
        if saved is not None:  # the checkpoint's own run and step are the true origin
            parent, at_step = saved.run, saved.step
        run = Run(name, parent=parent, start_step=at_step, start_checkpoint=checkpoint)
        self.runs[name] = run
        self.current = name
        return run

    def mark_restore(self, path: str, step: int) -> Run:
        """Note a restore of `path` (saved at `step`): later training goes to a new branch."""
        saved = self.last_save(path)
        loss = self.loss_at(int(step), saved.run if saved else None)
        self.events.append(Event("restore", self.current, int(step), str(path), loss))
        return self.branch(at_step=int(step), checkpoint=str(path))

    def saves(self) -> list[Event]:
        """Every save event, oldest first."""
        return [e for e in self.events if e.kind == "save"]

    def lineage(self) -> list[dict[str, object]]:
        """One row per saved checkpoint: its run, step, loss and the checkpoint its run started from."""
        return [
            {
                "checkpoint": e.path,
                "run": e.run,
                "step": e.step,
                "loss": e.loss,
                "parent": self.runs[e.run].start_checkpoint,
            }
            for e in self.saves()
        ]
