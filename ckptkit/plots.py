"""Loss curves with save markers, restore arrows and branches; bar charts of a diff."""

from __future__ import annotations

from ckptkit.diff import Diff
from ckptkit.history import History

from collections.abc import Mapping

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

__all__ = ["plot_diff", "plot_history"]


def plot_history(
    history: History,
    title: str = "Loss",
    log: bool = True,
    ax: Axes | None = None,
    boundaries: Mapping[str, int] | None = None,
) -> Figure:
    """Draw each run's loss in its own colour, saves as triangles, restores as arrows back in time.

    A run started from a checkpoint gets an arrow from that save; `boundaries` maps a label to a
    step where a dotted vertical line marks, say, the start of a new stage.
    """
    if ax is None:
        # A bare Figure, not pyplot's: no global figure registry, and quick enough for a click.
        fig = Figure(figsize=(7, 3.6))
        ax = fig.add_subplot()
        fig.subplots_adjust(left=0.1, right=0.97, bottom=0.14, top=0.9)
    else:
        fig = ax.figure
    colours = {}
    for i, run in enumerate(history.runs.values()):
        colours[run.name] = f"C{i}"
        steps, losses = list(run.steps), list(run.losses)
        if run.parent is not None and run.start_step is not None and steps:
            start = history.loss_at(run.start_step, run.parent)
            if start is not None:  # join the branch to the point it grew from
                steps, losses = [run.start_step, *steps], [start, *losses]
        if steps:
            style = "--" if run.parent is not None else "-"  # dashed: a branch may retrace its parent
            ax.plot(steps, losses, style, color=colours[run.name], label=run.name, lw=1.6)
    saves = history.saves()
    if saves:
        ax.scatter(
            [e.step for e in saves],
            [e.loss for e in saves],
            marker="v",
            s=70,
            color=[colours[e.run] for e in saves],
            edgecolor="black",
            zorder=3,
            label="save",
        )
    for event in (e for e in history.events if e.kind == "restore"):
        source = history.runs[event.run]
        if not source.steps or event.loss is None:
            continue
        ax.annotate(
            "restore",
            xy=(event.step, event.loss),
            xytext=(source.steps[-1], source.losses[-1]),
            arrowprops={"arrowstyle": "->", "color": "black", "connectionstyle": "arc3,rad=0.3"},
            fontsize=8,
        )
    restored = {e.path for e in history.events if e.kind == "restore"}
    for run in history.runs.values():
        if run.start_checkpoint in restored or not run.steps or run.start_step is None:
            continue  # restores already have their arrow
        start = history.loss_at(run.start_step, run.parent) if run.parent else None
        if start is None:
            continue
        name = run.start_checkpoint.rsplit("/", 1)[-1] if run.start_checkpoint else "branch"
        ax.annotate(
            f"from {name}",
            xy=(run.steps[0], run.losses[0]),
            xytext=(run.start_step, start),
            arrowprops={"arrowstyle": "->", "color": colours[run.name], "connectionstyle": "arc3,rad=0"},
            fontsize=8,
            color=colours[run.name],
        )
    for label, step in (boundaries or {}).items():
        ax.axvline(step, color="grey", ls=":", lw=1)
        ax.text(step, 1.0, f" {label}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost a third of a redraw
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    return fig


def plot_diff(d: Diff, title: str | None = None) -> Figure:
    """Horizontal bars of each variable's max absolute change; only-in-one-side rows are labelled."""
    fig = Figure(figsize=(7, 0.35 * len(d.rows) + 1.2))
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
