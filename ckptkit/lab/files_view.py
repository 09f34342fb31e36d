"""`FilesView`: a visitor's folder as the app shows it: the state files' contents, each file's size."""

from __future__ import annotations

from ckptkit.lab.folder import STATE_FILE, folder_files, size_text

import html
import os
from pathlib import Path

import ipywidgets as widgets

__all__ = ["FilesView", "folder_text"]


def folder_text(folder: str | os.PathLike[str]) -> str:
    """Every file under `folder` with its size, each state file's lines under it, and the total."""
    root = Path(folder)
    files = folder_files(root)
    if not files:
        return "(empty: nothing saved yet)"
    width = max(len(f.name) for f in files)
    lines = []
    for f in files:
        lines.append(f"{f.name:<{width}}  {size_text(f.size):>8}")
        if Path(f.name).name == STATE_FILE:  # the manager's state file: "latest" and the list it keeps
            lines += [f"    {line}" for line in (root / f.name).read_text().splitlines()]
    lines.append(f"{'total':<{width}}  {size_text(sum(f.size for f in files)):>8}")
    return "\n".join(lines)


class FilesView:
    """The visitor's folder, redrawn by `refresh()` after each click; `reset_button` starts the model over."""

    def __init__(self, folder: str | os.PathLike[str], note: str = "") -> None:
        """Show `folder` (every file in it, the state files' contents) under a heading and `note`."""
        self.folder = Path(folder)
        self.reset_button = widgets.Button(description="Start over", icon="refresh")
        # Named, so a page (a browser test) finds the listing whatever else the app shows.
        self.listing = widgets.HTML().add_class("ckptkit-files")
        self.widget = widgets.VBox(
            [
                widgets.HTML(f"<b>Your folder</b> {html.escape(note)}"),
                self.listing,
                widgets.HBox(
                    [
                        self.reset_button,
                        widgets.HTML("deletes this model's checkpoints and starts it again from step 0"),
                    ]
                ),
            ]
        )
        self.text = ""
        self.refresh()

    def refresh(self) -> None:
        """Read the folder again and show what is in it now."""
        text = folder_text(self.folder)
        if text != self.text:
            self.text = text
            self.listing.value = f"<pre>{html.escape(text)}</pre>"
