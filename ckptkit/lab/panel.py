"""`CheckpointPanel`: ipywidgets controls over a `CheckpointLab`; every action answers in the status line."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.lab.lab import LIVE, MAX_LEARNING_RATE, CheckpointLab
from ckptkit.lab.plots import plot_history

import html
import io
import math
import os
import threading
import traceback
from collections.abc import Callable

import ipywidgets as widgets

__all__ = ["CheckpointPanel"]


BUSY = "⚠ a training run is going on: wait for it to end, or click Stop"


class _Stopped(Exception):
    """Raised between two training steps when Stop was clicked."""


class CheckpointPanel:
    """Train, Stop, Save, Restore, Delete, Compare, a learning rate, a loss plot, a table and a status line.

    With `background=True` (the app) a training run goes on in a thread, so the page stays live:
    every other control is disabled until it ends, and Stop ends it after the current step.
    """

    def __init__(self, lab: CheckpointLab, title: str = "Checkpoint lab", background: bool = False) -> None:
        """Build the widgets over `lab` and draw its current state."""
        self.lab = lab
        self.title = title
        self.background = background
        # The slider's bounds are a convenience for the page; the lab refuses what is past its own.
        self.steps = widgets.IntSlider(
            value=min(10, lab.max_steps), min=1, max=lab.max_steps, description="steps"
        )
        self.train_button = widgets.Button(description="Train", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop", disabled=True)
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", layout={"width": "120px"})
        self.save_button = widgets.Button(description="Save", icon="save")
        self.rate = _rate_slider(lab)
        self.restore_choice = widgets.Dropdown(description="checkpoint", options=[])
        self.restore_button = widgets.Button(description="Restore", icon="undo")
        self.delete_button = widgets.Button(description="Delete", icon="trash")
        self.compare_a = widgets.Dropdown(description="A", options=[LIVE])
        self.compare_b = widgets.Dropdown(description="B", options=[LIVE])
        self.compare_button = widgets.Button(description="Compare", icon="exchange")
        self.plot = widgets.Image(format="png", layout={"width": "620px"})
        self.branches = widgets.HTML()
        # Named, so a page (a browser test, the bench) can find them whatever else the panel shows.
        self.table = widgets.HTML().add_class("ckptkit-table")
        self.status = widgets.HTML().add_class("ckptkit-status")
        self.call = widgets.HTML().add_class("ckptkit-call")  # the lines of code the last click ran
        self._call_text = ""
        self.widget = self._connect(title)
        self.table_text = ""
        self.last_error: Exception | None = None  # the last unexpected error, traceback attached
        self.listeners: list[Callable[[], None]] = []  # called after every action and busy change
        self._showing_diff = False
        self._syncing = False  # True while the panel itself moves the rate slider
        self._prefer: str | None = None  # a new checkpoint, preselected as B for Compare
        self._run: threading.Thread | None = None
        self._stop = threading.Event()
        self._refresh(plot=True)
        self._say("ready: train, then save")

    def _connect(self, title: str) -> widgets.VBox:
        """Wire each control to its action and lay the panel out."""
        self.train_button.on_click(lambda _: self._start_training())
        self.stop_button.on_click(lambda _: self._stop_training())
        self.save_button.on_click(lambda _: self._act(self._save))
        self.restore_button.on_click(lambda _: self._act(self._restore))
        self.delete_button.on_click(lambda _: self._act(self._delete))
        self.compare_button.on_click(lambda _: self._act(self._compare))
        self.rate.observe(self._rate_moved, names="value")
        return widgets.VBox(
            [
                widgets.HTML(f"<b>{html.escape(title)}</b>"),
                widgets.HBox(
                    [self.steps, self.train_button, self.stop_button, self.progress, self.save_button]
                ),
                self.rate,
                widgets.HBox([self.restore_choice, self.restore_button, self.delete_button]),
                widgets.HBox([self.compare_a, self.compare_b, self.compare_button]),
                self.plot,
                self.branches,
                self.table,
                self.status,
                self.call,
            ]
        )

    @property
    def busy(self) -> bool:
        """True while a training run goes on in the background."""
        return self._run is not None

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background training run to end (tests and scripts; a page just watches)."""
        run = self._run
        if run is not None:
            run.join(timeout)

    def _start_training(self) -> None:
        if self.busy:  # a disabled button still delivers a crafted click: the kernel refuses it
            self.say(BUSY)
        elif not self.background:
            self._act(self._train)
        else:
            self._stop.clear()
            self._run = threading.Thread(target=self._train_in_background, daemon=True)
            self._set_controls(busy=True)
            self.say(f"training {self.steps.value} steps: Stop ends the run early")
            self._run.start()

    def _train_in_background(self) -> None:
        try:
            self._do(self._train)
        finally:
            self._run = None
            self._set_controls(busy=False)

    def _stop_training(self) -> None:
        if not self.busy:
            self.say("⚠ nothing is running: Stop ends a training run")
        else:
            self._stop.set()

    def _set_controls(self, busy: bool) -> None:
        for control in (
            self.steps,
            self.train_button,
            self.save_button,
            self.restore_choice,
            self.restore_button,
            self.delete_button,
            self.compare_a,
            self.compare_b,
            self.compare_button,
        ):
            control.disabled = busy
        self.rate.disabled = busy or _rate_of(self.lab) is None
        self.stop_button.disabled = not busy
        self._tell()

    def _tell(self) -> None:
        for listener in self.listeners:
            listener()

    def _act(self, action: Callable[[], str]) -> None:
        if self.busy:  # one action at a time, whatever the page sends
            self.say(BUSY)
        else:
            self._do(action)

    # Every action runs through here, so a wrong click becomes a status line, never a traceback.
    def _do(self, action: Callable[[], str]) -> None:
        self._showing_diff = False
        before = self._drawn_state()
        try:
            message = action()
        except CheckpointError as err:  # expected: its one line says what to do
            message = f"⚠ {err}"
        except Exception as err:  # a bug, often in the learner's own model: keep it for debugging
            self.last_error = err
            message = (
                f"⚠ unexpected {type(err).__name__}: {err} "
                "(the full traceback: print(panel.last_traceback), or raise panel.last_error)"
            )
        self._refresh(plot=False)
        self._say(message)
        # Drawing the plot is most of a click's cost: after the answer, and only when the history changed.
        if self._drawn_state() != before:
            self._draw()
        self._tell()

    def _drawn_state(self) -> tuple:
        h = self.lab.history
        return len(h.events), tuple((name, len(run.steps)) for name, run in h.runs.items())

    def _train(self) -> str:
        self.lab.last_call = ""
        total = self.steps.value
        self.progress.max, self.progress.value = max(total, 1), 0

        def tick(step: int, loss: float) -> None:
            self.progress.value += 1
            if self._stop.is_set():
                raise _Stopped

        try:
            loss = self.lab.train(total, on_step=tick)
        except _Stopped:
            done, loss = self.progress.value, self.lab.history.run.losses[-1]
            return f"stopped after {done} of {total} steps: step {int(self.lab.step)}, loss {loss:.4g}"
        return f"trained {total} steps: step {int(self.lab.step)}, loss {loss:.4g}"

    def _save(self) -> str:
        self.lab.last_call = ""
        path = self.lab.save()
        self._prefer = path
        message = f"saved {os.path.basename(path)} at step {int(self.lab.step)}"
        if self.lab.dropped:
            kept = self.lab.max_to_keep
            message += f"; deleted the oldest, {os.path.basename(self.lab.dropped)}: this lab keeps {kept}"
        return message

    def _restore(self) -> str:
        self.lab.last_call = ""
        path = self.restore_choice.value
        if not path:
            return "⚠ nothing to restore yet: click Save first"
        report = self.lab.restore(path)
        branch = self.lab.history.current
        return (
            f"restored {os.path.basename(path)}: step {int(self.lab.step)}, "
            f"{len(report.matched)} values; training continues on {branch!r}"
        )

    def _delete(self) -> str:
        self.lab.last_call = ""
        path = self.restore_choice.value
        if not path:
            return "⚠ nothing to delete: no checkpoint is saved"
        self.lab.delete(path)
        return f"deleted {os.path.basename(path)}: its .index and .data files, and its line in the state file"

    def _rate_moved(self, change: dict) -> None:
        if self._syncing:
            return

        def set_rate() -> str:
            self.lab.last_call = ""
            rate = self.lab.set_learning_rate(change["new"])
            return f"learning rate {rate:.4g}: the next Train uses it"

        self._act(set_rate)

    def _compare(self) -> str:
        self.lab.last_call = ""
        a, b = self.compare_a.value, self.compare_b.value
        if a == b:
            return f"⚠ A and B are both {self._label(a)}: pick two different ones"
        d = self.lab.compare(a, b)
        self._set_table(repr(d))
        self._showing_diff = True
        return d.summary()

    def _label(self, path: str) -> str:
        if path == LIVE:
            return LIVE
        loss, step = self.lab.loss_of(path), self.lab.step_of(path)
        return f"{os.path.basename(path)} · step {step}" + (
            f" · recorded loss {loss:.4g}" if loss is not None else ""
        )

    def _refresh(self, plot: bool) -> None:
        saved = self.lab.checkpoints()
        labelled = [(self._label(p), p) for p in saved]
        _choose(self.restore_choice, labelled)
        _choose(self.compare_a, [(LIVE, LIVE), *labelled])
        _choose(self.compare_b, [(LIVE, LIVE), *labelled], avoid=self.compare_a.value)
        if self._prefer in saved:  # after a save: live vs the new checkpoint, the usual question
            self.compare_a.value, self.compare_b.value, self._prefer = LIVE, self._prefer, None
        rate = _rate_of(self.lab)
        if rate is not None and not math.isclose(rate, self.rate.value, rel_tol=1e-6):
            self._syncing = True  # a restore brings the stored rate back: show it, do not set it again
            try:
                self.rate.value = rate
            finally:
                self._syncing = False
        runs = [r for r in self.lab.history.runs.values() if r.steps]
        self.branches.value = "branches: " + ", ".join(html.escape(r.name) for r in runs)
        if not self._showing_diff:
            self._show_variables()
        if plot:
            self._draw()

    def _show_variables(self) -> None:
        rows = self.lab.variable_rows()
        width = max([len(r.name) for r in rows] + [len("variable")])
        lines = [f"{'variable':<{width}}  {'shape':<9}  {'value':<24}  change since save"]
        lines += [f"{r.name:<{width}}  {r.shape!s:<9}  {r.value:<24}  {r.change}" for r in rows]
        self._set_table("\n".join(lines))

    def _set_table(self, text: str) -> None:
        self.table_text = text
        self.table.value = f"<pre>{html.escape(text)}</pre>"

    def _draw(self) -> None:
        fig = plot_history(self.lab.history, title=self.title)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=72)
        self.plot.value = buffer.getvalue()

    def say(self, message: str) -> None:
        """Show `message` in the status line, for a click that ran no call: the call line empties."""
        self._say(message, ran=False)

    def _say(self, message: str, ran: bool = True) -> None:
        self.status.value = html.escape(message)
        # A click may run two lines (ckptkit's own check, then TensorFlow's call): one below the other.
        self._call_text = self.lab.last_call if ran else ""
        lines = self._call_text.splitlines()
        indent = "\n" + " " * len("last call: ")
        self.call.value = f"<pre>last call: {html.escape(indent.join(lines))}</pre>" if lines else ""

    @property
    def last_traceback(self) -> str:
        """The last unexpected error's full traceback as text, or "" when there was none."""
        if self.last_error is None:
            return ""
        return "".join(traceback.format_exception(self.last_error))

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        return html.unescape(self.status.value)

    @property
    def call_text(self) -> str:
        """The lines of code the last click ran, as plain text ("" when it ran none)."""
        return self._call_text

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        """Display the widgets; the plain-text fallback stays the same from run to run."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"CheckpointPanel({self.title!r})"
        return bundle


def _rate_slider(lab: CheckpointLab) -> widgets.FloatLogSlider:
    """The learning rate on a log scale up to the lab's limit (off when the rate is a schedule)."""
    rate = _rate_of(lab)
    return widgets.FloatLogSlider(
        value=rate or 0.01,
        base=10,
        min=-4,
        max=math.log10(MAX_LEARNING_RATE),
        step=0.25,
        description="learning rate",
        readout_format=".3g",
        continuous_update=False,
        style={"description_width": "initial"},  # the whole name, not "learning r..."
        disabled=rate is None,
    )


def _rate_of(lab: CheckpointLab) -> float | None:
    """The optimizer's learning rate, or None when it is a schedule rather than one value."""
    try:
        return float(lab.optimizer.learning_rate)
    except (TypeError, ValueError):
        return None


def _choose(dropdown: widgets.Dropdown, options: list[tuple[str, str]], avoid: str | None = None) -> None:
    """Set a dropdown's options, keeping its choice if it is still there, else the first (not `avoid`)."""
    keep = dropdown.value
    if dropdown.options != tuple(options):
        dropdown.options = options
    values = [value for _, value in options]
    if keep in values and keep != avoid:
        dropdown.value = keep
    elif values:
        dropdown.value = next((v for v in values if v != avoid), values[0])
