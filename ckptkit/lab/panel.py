"""`CheckpointPanel`: ipywidgets controls over a `CheckpointLab`; every action answers in the status line."""

from __future__ import annotations

from ckptkit.errors import CheckpointError
from ckptkit.lab.lab import LIVE, CheckpointLab
from ckptkit.lab.plots import plot_history

import html
import io
import os
import traceback
from collections.abc import Callable

import ipywidgets as widgets

__all__ = ["CheckpointPanel"]


class CheckpointPanel:
    """Train, Save, Restore and Compare buttons, a loss plot, a variables table and a status line."""

    def __init__(self, lab: CheckpointLab, title: str = "Checkpoint lab") -> None:
        """Build the widgets over `lab` and draw its current state."""
        self.lab = lab
        self.title = title
        self.steps = widgets.IntSlider(value=10, min=1, max=200, description="steps")
        self.train_button = widgets.Button(description="Train", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", layout={"width": "120px"})
        self.save_button = widgets.Button(description="Save", icon="save")
        self.restore_choice = widgets.Dropdown(description="checkpoint", options=[])
        self.restore_button = widgets.Button(description="Restore", icon="undo")
        self.compare_a = widgets.Dropdown(description="A", options=[LIVE])
        self.compare_b = widgets.Dropdown(description="B", options=[LIVE])
        self.compare_button = widgets.Button(description="Compare", icon="exchange")
        self.plot = widgets.Image(format="png", layout={"width": "620px"})
        self.branches = widgets.HTML()
        # Named, so a page (a browser test, the bench) can find them whatever else the panel shows.
        self.table = widgets.HTML().add_class("ckptkit-table")
        self.status = widgets.HTML().add_class("ckptkit-status")
        self.call = widgets.HTML()  # the line of code the last click ran
        self.train_button.on_click(lambda _: self._act(self._train))
        self.save_button.on_click(lambda _: self._act(self._save))
        self.restore_button.on_click(lambda _: self._act(self._restore))
        self.compare_button.on_click(lambda _: self._act(self._compare))
        self.widget = widgets.VBox(
            [
                widgets.HTML(f"<b>{html.escape(title)}</b>"),
                widgets.HBox([self.steps, self.train_button, self.progress, self.save_button]),
                widgets.HBox([self.restore_choice, self.restore_button]),
                widgets.HBox([self.compare_a, self.compare_b, self.compare_button]),
                self.plot,
                self.branches,
                self.table,
                self.status,
                self.call,
            ]
        )
        self.table_text = ""
        self.last_error: Exception | None = None  # the last unexpected error, traceback attached
        self._showing_diff = False
        self._refresh(plot=True)
        self._say("ready: train, then save")

    # Every action runs through here, so a wrong click becomes a status line, never a traceback.
    def _act(self, action: Callable[[], str]) -> None:
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
        # Drawing the plot is most of a click's cost: redraw only when the history changed.
        self._refresh(plot=self._drawn_state() != before)
        self._say(message)

    def _drawn_state(self) -> tuple:
        h = self.lab.history
        return len(h.events), tuple((name, len(run.steps)) for name, run in h.runs.items())

    def _train(self) -> str:
        self.lab.last_call = ""
        total = self.steps.value
        self.progress.max, self.progress.value = total, 0

        def tick(step: int, loss: float) -> None:
            self.progress.value += 1

        loss = self.lab.train(total, on_step=tick)
        return f"trained {total} steps: step {int(self.lab.step)}, loss {loss:.4g}"

    def _save(self) -> str:
        self.lab.last_call = ""
        path = self.lab.save()
        return f"saved {os.path.basename(path)} at step {int(self.lab.step)}"

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
        return f"{os.path.basename(path)} · step {step}" + (f" · loss {loss:.4g}" if loss is not None else "")

    def _refresh(self, plot: bool) -> None:
        saved = self.lab.checkpoints()
        labelled = [(self._label(p), p) for p in saved]
        _choose(self.restore_choice, labelled)
        _choose(self.compare_a, [(LIVE, LIVE), *labelled])
        _choose(self.compare_b, [(LIVE, LIVE), *labelled], avoid=self.compare_a.value)
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

    def _say(self, message: str) -> None:
        self.status.value = html.escape(message)
        call = self.lab.last_call
        self.call.value = f"<code>last call: {html.escape(call)}</code>" if call else ""

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
        """The line of code the last click ran, as plain text ("" when it ran none)."""
        return self.lab.last_call

    def demo(self, steps: int = 10) -> None:
        """Click through a lesson from code and print each answer and call (notebooks 01-03).

        Train, Save, Train, Save, Restore the older checkpoint, Train, Compare the newer one with
        the live values, Save: the restore starts a branch, and the last save gets a new number.
        """
        self.steps.value = steps

        def click(label: str, button: widgets.Button) -> None:
            button.click()
            print(f"{label:<8} {self.status_text}")
            if self.call_text:
                print(f"{'':<8} {self.call_text}")

        click("Train", self.train_button)
        click("Save", self.save_button)
        click("Train", self.train_button)
        click("Save", self.save_button)
        newer, older = self.lab.checkpoints()[:2]
        self.restore_choice.value = older
        click("Restore", self.restore_button)
        click("Train", self.train_button)
        self.compare_a.value, self.compare_b.value = newer, LIVE
        click("Compare", self.compare_button)
        print(f"{'':<8} changed: {', '.join(self.lab.compare(newer, LIVE).names('changed')) or 'nothing'}")
        click("Save", self.save_button)

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        """Display the widgets; the plain-text fallback stays the same from run to run."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"CheckpointPanel({self.title!r})"
        return bundle


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
