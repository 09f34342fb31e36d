"""Folders ckptkit owns: a clean workspace per notebook, and a registry so it never empties anyone else's."""

from __future__ import annotations

from ckptkit.errors import WorkspaceError
from ckptkit.files.text import first_few

import os
import shutil
from pathlib import Path

__all__ = [
    "REGISTRY",
    "WORKSPACE",
    "fresh_folder",
    "workspace",
]

WORKSPACE = Path("workspace")
# The folders ckptkit created, one name per line, kept in their parent folder rather than inside
# them, so a notebook listing its own folder shows only checkpoint files.
REGISTRY = ".ckptkit-folders"
# The kit's own workspace root (notebooks/workspace in a clone): every folder below it is the kit's.
_KIT_WORKSPACE = Path(__file__).resolve().parents[2] / "notebooks" / "workspace"


def _created_here(folder: Path) -> bool:
    """True when ckptkit made `folder`: its parent's registry names it, or it is in the kit's workspace."""
    registry = folder.parent / REGISTRY
    if registry.is_file() and folder.name in registry.read_text().splitlines():
        return True
    return _KIT_WORKSPACE in folder.resolve().parents


def fresh_folder(path: str | os.PathLike[str]) -> Path:
    """Return `path` as an empty folder: created if new, wiped only if ckptkit created it before.

    A folder that holds files ckptkit did not create is refused, never emptied.
    """
    text = os.fspath(path)
    folder = Path(text)
    if not text.strip() or folder.name in ("", ".", ".."):
        raise WorkspaceError(
            f"{text!r} is not a folder ckptkit can empty: pass a new folder name, such as 'workspace/my-run'"
        )
    if folder.exists() and not folder.is_dir():
        raise WorkspaceError(f"{text!r} is a file, not a folder: pass a new folder name")
    if folder.is_dir() and _created_here(folder):
        shutil.rmtree(folder)
    elif folder.is_dir() and any(folder.iterdir()):
        names = sorted(p.name for p in folder.iterdir())
        shown = first_few(names, 5)
        raise WorkspaceError(
            f"folder {text!r} holds files ckptkit did not create ({shown}): "
            "pass an empty or new folder; ckptkit never deletes what it did not create"
        )
    folder.mkdir(parents=True, exist_ok=True)
    registry = folder.parent / REGISTRY
    known = registry.read_text().splitlines() if registry.is_file() else []
    if folder.name not in known:
        with registry.open("a") as f:
            f.write(folder.name + "\n")
    return folder


def workspace(name: str, root: Path | str = WORKSPACE) -> Path:
    """Return an empty folder `root/name` for one notebook's files, wiping what a past run of it left."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise WorkspaceError(f"workspace name {name!r} must be a plain folder name, such as '01_linear'")
    return fresh_folder(Path(root) / name)
