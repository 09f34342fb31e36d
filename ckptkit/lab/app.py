"""`CheckpointApp`: the Checkpoint Lab alone, for Voila: a private, bounded folder per visitor, in view."""

from __future__ import annotations

from ckptkit.lab.files_view import FilesView
from ckptkit.lab.folder import size_text
from ckptkit.lab.lab import MAX_STEPS, CheckpointLab
from ckptkit.lab.panel import BUSY, CheckpointPanel
from ckptkit.lab.server import CLOSED_ENV, IDLE_ENV
from ckptkit.live.quiet import import_tensorflow
from ckptkit.runs.launcher import cut_lifeline, lifeline

import html
import math
import os
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path

import ipywidgets as widgets

tf = import_tensorflow()

__all__ = [
    "MAX_BYTES",
    "MAX_CHECKPOINTS",
    "MODELS",
    "THREADS_ENV",
    "CheckpointApp",
    "lifetime_text",
    "limit_threads",
]

MODELS = {"linear": "the linear model", "keras": "the Keras model"}
# What one visitor may keep, per model: a shared server's temporary folder is often memory (tmpfs).
MAX_CHECKPOINTS = 10
MAX_BYTES = 1_000_000
THREADS_ENV = "CKPTKIT_APP_THREADS"
_CLASS = "ckptkit-app"

# A tiny watcher process: it waits for end-of-file on its stdin, whose other end only this kernel
# holds, so the folder goes even when the kernel is killed (Voila and nbval may SIGKILL kernels).
_WATCHER = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"


def limit_threads(threads: int) -> int:
    """Give TensorFlow `threads` intra-op and inter-op threads if it has not started yet; return what it uses.

    Each kernel would otherwise size its thread pools to every core, and visitors' clicks fight for
    them. 0 means TensorFlow's default (all cores).
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow's pools exist already in this process: they stay as they are
        pass
    return tf.config.threading.get_intra_op_parallelism_threads()


def lifetime_text(env: dict[str, str] | os._Environ) -> str:
    """When a page's folder is deleted, from the timeouts the app's kernel manager gave this kernel."""
    closed, idle = env.get(CLOSED_ENV), env.get(IDLE_ENV)
    if not closed:  # not served by the app's kernel manager: a notebook, or another server
        return "The folder is deleted when this kernel shuts down."
    text = (
        f"The folder is deleted when this page's session ends: within {_minutes(closed)} after you close it"
    )
    if idle:
        text += (
            f", or after about {_minutes(idle)} without a click while it stays open (the page then stops "
            "answering)"
        )
    return text + ". Reloading the page starts a new session, with a new, empty folder."


def _minutes(seconds: str) -> str:
    count = math.ceil(int(seconds) / 60)
    return f"{count} minute" + ("s" if count != 1 else "")


class CheckpointApp:
    """A model choice over one `CheckpointPanel` per model, all saving under a fresh temporary folder.

    Voila starts one kernel per page, so each visitor gets a folder of their own; it is removed by
    `close()` or, at the latest, when the kernel exits. Serves `notebooks/app.ipynb`.
    """

    def __init__(self, seed: int = 0, root: str | Path | None = None, threads: int | None = None) -> None:
        """Make the private folder under `root` (default: the temporary folder) and show the linear lab.

        `threads` for TensorFlow, if it has not started yet: by default `CKPTKIT_APP_THREADS` from the
        server's environment, else 1 (0: TensorFlow's own choice, every core).
        """
        self.seed = seed
        self.threads = limit_threads(int(os.environ.get(THREADS_ENV, "1")) if threads is None else threads)
        self.folder = Path(tempfile.mkdtemp(prefix="ckptkit-lab-", dir=root))
        # Its own session: it outlives a kill of the kernel's process group.
        self._watcher = lifeline(_WATCHER, str(self.folder), own_session=True)
        # Runs at close() or at interpreter exit, whichever comes first, and only once.
        self._remove = weakref.finalize(self, _remove, self.folder, self._watcher)
        self.panels: dict[str, CheckpointPanel] = {}
        self.choice = widgets.ToggleButtons(
            options=[(label, kind) for kind, label in MODELS.items()], value=None, description="model"
        )
        self.files = FilesView(self.folder, note="(on this server; no other visitor sees it)")
        self.files.reset_button.on_click(lambda _: self.reset())
        self.body = widgets.VBox()
        self.widget = widgets.VBox(
            [
                # Voila's page styles a widget's <pre> in the body font: the table's columns need a fixed one.
                widgets.HTML(f"<style>.{_CLASS} pre {{font-family: monospace; line-height: 1.3}}</style>"),
                self.choice,
                widgets.HTML(html.escape(self.about())),
                self.body,
                self.files.widget,
            ]
        )
        self.widget.add_class(_CLASS)
        self.choice.observe(lambda change: self.show(change["new"]), names="value")
        self.choice.value = "linear"

    def about(self) -> str:
        """What a visitor may use and how long their folder lives, as the page says it."""
        threads = (
            f"thread pools of {self.threads} thread{'s' if self.threads != 1 else ''} each"
            if self.threads
            else "thread pools as large as the machine's cores"
        )
        return (
            "Your checkpoints are saved in a folder on this server that no other visitor sees. "
            f"Each model keeps its newest {MAX_CHECKPOINTS} checkpoints (saving more deletes the oldest), "
            f"at most {size_text(MAX_BYTES)}; Train runs at most {MAX_STEPS} steps per click, "
            f"and TensorFlow has {threads} here. Switching models keeps each model's work. "
            + lifetime_text(os.environ)
        )

    def _lab(self, kind: str) -> CheckpointLab:
        make = getattr(CheckpointLab, kind)
        return make(
            seed=self.seed,
            workdir=self.folder / kind,
            max_to_keep=MAX_CHECKPOINTS,
            max_bytes=MAX_BYTES,
            max_steps=MAX_STEPS,
        )

    def show(self, kind: str) -> CheckpointPanel:
        """Show `kind`'s panel, building its lab the first time it is chosen."""
        if kind not in MODELS:  # a crafted message can send any value
            return self.panel
        if kind not in self.panels:
            panel = CheckpointPanel(self._lab(kind), title=f"Checkpoint Lab: {MODELS[kind]}", background=True)
            panel.listeners.append(self._sync)
            self.panels[kind] = panel
        self.body.children = [self.panels[kind].widget]
        if self.choice.value != kind:
            self.choice.value = kind
        self._sync()
        return self.panels[kind]

    def reset(self) -> CheckpointPanel:
        """Start the model on screen over: its folder emptied, its variables and history new."""
        kind, old = self.choice.value, self.panel
        if old.busy:
            old.say(BUSY)
            return old
        del self.panels[kind]
        _close(old.widget)  # its widgets, plot included, leave the kernel with it
        panel = self.show(kind)  # a new lab empties the folder ckptkit made for it
        panel.say("started over: this model's checkpoints are deleted, and training starts again from step 0")
        return panel

    def _sync(self) -> None:
        """After every click: the folder as it is now; no model switch or reset while a run goes on."""
        busy = any(p.busy for p in self.panels.values())
        self.choice.disabled = self.files.reset_button.disabled = busy
        self.files.refresh()

    @property
    def panel(self) -> CheckpointPanel:
        """The panel on screen."""
        return self.panels[self.choice.value]

    def close(self) -> None:
        """Remove the private folder and everything saved in it."""
        self._remove()

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        """Display the widgets; the plain-text fallback stays the same from run to run."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = "CheckpointApp()"
        return bundle


def _close(widget: widgets.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close(child)
    widget.close()


def _remove(folder: Path, watcher: subprocess.Popen) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    cut_lifeline(watcher)  # the watcher finds nothing left to remove and exits
