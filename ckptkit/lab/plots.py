"""Loss curves with save markers, branch points and branches named by their parent; bar charts of a diff."""

from __future__ import annotations

from ckptkit.files.diff import Diff
from ckptkit.runs.history import History, Run

import io
import math
import re
from collections.abc import Mapping

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

__all__ = ["PlotFigure", "branch_label", "plot_diff", "plot_history"]

# A loss this many times above the highest starting loss of any run is off the scale: drawing it
# would stretch a log axis over twenty decades and flatten every other curve.
DIVERGED_FACTOR = 10.0


class PlotFigure(Figure):
    """A matplotlib `Figure` that Jupyter displays as a PNG image, with or without pyplot.

    A bare `Figure` only has a text repr, so without pyplot's inline backend a notebook shows
    `<Figure size 700x360 with 1 Axes>`; this one also gives IPython the image. Its text repr
    stays matplotlib's, which does not change from run to run.
    """

    def __repr__(self) -> str:
        """Matplotlib's own text, `<Figure size 840x360 with 1 Axes>`."""
        return super().__repr__().replace(type(self).__name__, "Figure", 1)

    def _repr_png_(self) -> bytes:
        """The figure as PNG bytes, without the software metadata a version bump would change."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        return buffer.getvalue()


def branch_label(history: History, run: Run) -> str:
    """Name a run by where it grew from: "from ckpt-1 at step 15", or "its name, from ..." if named."""
    if run.start_checkpoint is not None:
        origin = "from " + run.start_checkpoint.replace("\\", "/").rsplit("/", 1)[-1]
        origin += f" at step {run.start_step}" if run.start_step is not None else ""
    elif run.parent is not None:
        origin = f"from {run.parent} at step {run.start_step}"
    else:
        origin = None
    if re.fullmatch(r"run \d+", run.name):  # an automatic name says nothing: the origin does
        return origin or ("first run" if run.name == next(iter(history.runs)) else run.name)
    return f"{run.name}\n{origin}" if origin else run.name


def _clip_level(history: History) -> float | None:
    """The loss above which a point counts as diverged, or None when every point is on the scale."""
    firsts = [r.losses[0] for r in history.runs.values() if r.losses and math.isfinite(r.losses[0])]
    if not firsts:
        return None
    level = DIVERGED_FACTOR * max(firsts)
    every = (x for r in history.runs.values() for x in r.losses)
    return level if any(not x <= level for x in every) else None


def plot_history(
    history: History,
    title: str = "Loss",
    log: bool = True,
    ax: Axes | None = None,
    boundaries: Mapping[str, int] | None = None,
) -> Figure:
    """Draw each run's loss in its own colour, saves as triangles, and each branch from the point it grew.

    A branch (after a restore, or started from a checkpoint) is dashed, joined to its parent's
    loss at the step it started from with a ring there, and named by that parent in the legend.
    Losses far above every run's starting loss (a diverged run) are drawn at the top edge as
    upward triangles instead of stretching the axis. `boundaries` maps a label to a step where a
    dotted vertical line marks, say, the start of a new stage.
    """
    if ax is None:
        # Not pyplot's figure: no global registry, quick enough for a click, and shown as a PNG.
        fig = PlotFigure(figsize=(8.4, 3.6))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    top = _clip_level(history)
    colours, diverged = _draw_runs(ax, history, top)
    _draw_marks(ax, history, colours, diverged, top)
    _finish(ax, fig, title, log, boundaries)
    return fig


def _shown(losses: list[float], top: float | None) -> list[float]:
    """Losses as drawn: a diverged one at the top edge (`top`), the others as they are."""
    return [min(x, top) if top is not None and math.isfinite(x) else x for x in losses]


def _draw_runs(ax: Axes, history: History, top: float | None) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Each run's curve (a branch dashed, ringed where it grew); each run's colour, its diverged steps."""
    colours, labels, diverged = {}, [], []
    for i, run in enumerate(history.runs.values()):
        colours[run.name] = f"C{i % 10}"
        if not run.steps:
            continue
        steps, losses = list(run.steps), list(run.losses)
        start = (
            history.loss_at(run.start_step, run.parent) if run.parent and run.start_step is not None else None
        )
        if start is not None:  # the short link from the point it grew from
            steps, losses = [run.start_step, *steps], [start, *losses]
            ax.plot(
                [run.start_step],
                _shown([start], top),
                "o",
                mfc="white",
                mec=colours[run.name],
                ms=12,
                mew=1.5,
                zorder=2.5,
            )
        label = branch_label(history, run)
        labels.append(label)
        if labels.count(label) > 1:  # the same checkpoint restored twice: tell the branches apart
            label += f" ({labels.count(label)})"
        style = "--" if run.parent is not None else "-"  # dashed: a branch may retrace its parent
        ax.plot(steps, _shown(losses, top), style, color=colours[run.name], label=label, lw=1.6)
        if top is not None:
            diverged += [
                (s, colours[run.name]) for s, x in zip(run.steps, run.losses, strict=True) if not x <= top
            ]
    return colours, diverged


def _draw_marks(
    ax: Axes, history: History, colours: dict[str, str], diverged: list[tuple[int, str]], top: float | None
) -> None:
    """Saves as triangles, the legend's ring for branch starts, diverged steps at the top edge."""
    saves = history.saves()
    if saves:
        ax.scatter(
            [e.step for e in saves],
            _shown([e.loss if e.loss is not None else math.nan for e in saves], top),
            marker="v",
            s=60,
            color=[colours[e.run] for e in saves],
            edgecolor="black",
            zorder=5,
            label="save",
        )
    if any(r.steps and r.parent and r.start_step is not None for r in history.runs.values()):
        ax.plot([], [], "o", mfc="white", mec="black", ms=9, mew=1.5, label="branch starts here")
    if diverged:
        ax.scatter(
            [s for s, _ in diverged],
            [top] * len(diverged),
            marker="^",
            s=30,
            color=[c for _, c in diverged],
            zorder=3,
            label=f"diverged (loss > {top:.3g})",
        )


def _finish(ax: Axes, fig: Figure, title: str, log: bool, boundaries: Mapping[str, int] | None) -> None:
    """Stage lines, the scale, the labels, and the legend outside the axes."""
    for label, step in (boundaries or {}).items():
        ax.axvline(step, color="grey", ls=":", lw=1)
        ax.text(step, 1.0, f" {label}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost a third of a redraw
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    handles, names = ax.get_legend_handles_labels()
    if handles:
        # Outside the axes, so no curve hides behind it; the axes give up what the labels need.
        widest = max(len(line) for name in names for line in name.splitlines())
        right = max(0.45, 0.97 - (0.06 * widest + 0.45) / fig.get_figwidth())
        fig.subplots_adjust(left=0.08, right=right, bottom=0.14, top=0.9)
        ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def plot_diff(d: Diff, title: str | None = None) -> Figure:
    """Horizontal bars of each variable's max absolute change; only-in-one-side rows are labelled."""
    fig = PlotFigure(figsize=(7, 0.35 * len(d.rows) + 1.2))
    ax = fig.add_subplot()
    names = [r.name for r in d.rows]
    values = [r.max_abs or 0.0 for r in d.rows]
    ax.barh(names, values, color=["C1" if r.status == "changed" else "C7" for r in d.rows])
    for y, r in enumerate(d.rows):
        if r.status not in ("changed", "unchanged"):
            ax.text(0, y, f" {r.status}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("max |change|")
    ax.set_title(title or d.summary())
    fig.tight_layout()
    return fig
