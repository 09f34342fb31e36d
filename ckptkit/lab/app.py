"""`CheckpointApp`: the Checkpoint Lab alone, for Voila, in a private folder living as long as its kernel."""

from __future__ import annotations

from ckptkit.lab.lab import CheckpointLab
from ckptkit.lab.panel import CheckpointPanel

import shutil
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path

import ipywidgets as widgets

__all__ = ["MODELS", "CheckpointApp"]

MODELS = {"linear": "the linear model", "keras": "the Keras model"}
_CLASS = "ckptkit-app"

# A tiny watcher process: it waits for end-of-file on its stdin, whose other end only this kernel
# holds, so the folder goes even when the kernel is killed (Voila and nbval may SIGKILL kernels).
_WATCHER = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"


class CheckpointApp:
    """A model choice over one `CheckpointPanel` per model, all saving under a fresh temporary folder.

    Voila starts one kernel per page, so each visitor gets a folder of their own; it is removed by
    `close()` or, at the latest, when the kernel exits (closing the page ends the kernel).
    Serves `notebooks/app.ipynb`.
    """

    def __init__(self, seed: int = 0, root: str | Path | None = None) -> None:
        """Make the private folder under `root` (default: the temporary folder) and show the linear lab."""
        self.seed = seed
        self.folder = Path(tempfile.mkdtemp(prefix="ckptkit-lab-", dir=root))
        self._watcher = subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(self.folder)],
            stdin=subprocess.PIPE,
            start_new_session=True,  # outlives a kill of the kernel's process group
        )
        # Runs at close() or at interpreter exit, whichever comes first, and only once.
        self._remove = weakref.finalize(self, _remove, self.folder, self._watcher)
        self.panels: dict[str, CheckpointPanel] = {}
        self.choice = widgets.ToggleButtons(
            options=[(label, kind) for kind, label in MODELS.items()], value=None, description="model"
        )
        self.body = widgets.VBox()
        self.widget = widgets.VBox(
            [
                # Voila's page styles a widget's <pre> in the body font: the table's columns need a fixed one.
                widgets.HTML(f"<style>.{_CLASS} pre {{font-family: monospace; line-height: 1.3}}</style>"),
                self.choice,
                widgets.HTML(
                    "Your checkpoints live in a private temporary folder, "
                    "deleted when you close this page. Switching models keeps each model's work."
                ),
                self.body,
            ]
        )
        self.widget.add_class(_CLASS)
        self.choice.observe(lambda change: self.show(change["new"]), names="value")
        self.choice.value = "linear"

    def show(self, kind: str) -> CheckpointPanel:
        """Show `kind`'s panel, building its lab the first time it is chosen."""
        if kind not in self.panels:
            lab = getattr(CheckpointLab, kind)(seed=self.seed, workdir=self.folder / kind)
            self.panels[kind] = CheckpointPanel(lab, title=f"Checkpoint Lab: {MODELS[kind]}")
        self.body.children = [self.panels[kind].widget]
        if self.choice.value != kind:
            self.choice.value = kind
        return self.panels[kind]

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


def _remove(folder: Path, watcher: subprocess.Popen) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    watcher.stdin.close()  # the watcher finds nothing left to remove and exits
    watcher.wait()
