"""ckptkit empties only folders it created: a learner's files survive every entry point."""

from __future__ import annotations

import ckptkit
from ckptkit.errors import WorkspaceError
from ckptkit.lab.lab import CheckpointLab
from ckptkit.live.workspace import REGISTRY, fresh_folder, workspace

import os
from pathlib import Path

import pytest
import tensorflow as tf


@pytest.fixture
def learner(tmp_path, monkeypatch) -> Path:
    """A learner's project folder, the working directory, holding a notes file and a data folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("my notes")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("x,y\n1,2\n")
    return tmp_path


def files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


MAKERS = {
    "linear": lambda path: CheckpointLab.linear(workdir=path),
    "keras": lambda path: CheckpointLab.keras(workdir=path),
    "from_keras": lambda path: CheckpointLab.from_keras(
        tf.keras.Sequential([tf.keras.layers.Dense(1)]),
        tf.keras.optimizers.SGD(0.1),
        (tf.ones([4, 2]), tf.ones([4, 1])),
        path,
    ),
}


@pytest.mark.parametrize("maker", sorted(MAKERS))
@pytest.mark.parametrize("path", [".", "..", "", "data", "notes.txt"])
def test_labs_refuse_folders_holding_a_learners_files(learner, maker, path):
    before = files(learner)
    with pytest.raises(WorkspaceError) as err:
        MAKERS[maker](path)
    assert "\n" not in str(err.value) and "folder" in str(err.value)
    assert files(learner) == before


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "../escape"])
def test_setup_and_workspace_refuse_names_that_are_not_plain(learner, name):
    before = files(learner)
    with pytest.raises(WorkspaceError, match="plain folder name"):
        ckptkit.setup(name)
    with pytest.raises(WorkspaceError):
        workspace(name, root=".")
    assert files(learner) == before


def test_a_folder_ckptkit_made_is_wiped_on_the_next_start(learner):
    lab = CheckpointLab.linear(workdir="runs/lab")
    lab.save()
    assert (learner / "runs" / REGISTRY).read_text().splitlines() == ["lab"]
    again = CheckpointLab.linear(workdir="runs/lab")  # a re-run cell starts clean
    assert again.checkpoints() == [] and os.listdir("runs/lab") == []
    assert (learner / "runs" / REGISTRY).read_text().splitlines() == ["lab"]  # named once


def test_an_empty_or_new_folder_is_taken(learner):
    (learner / "empty").mkdir()
    assert fresh_folder("empty").is_dir() and fresh_folder("new/deeper").is_dir()
    assert files(learner)["notes.txt"] == "my notes"


def test_a_learner_file_in_a_new_sibling_is_not_touched(learner):
    fresh_folder("runs/a")
    (learner / "runs" / "b").mkdir()
    (learner / "runs" / "b" / "keep.txt").write_text("keep")
    with pytest.raises(WorkspaceError, match=r"keep\.txt"):
        fresh_folder("runs/b")  # its parent's registry names only "a"
    assert (learner / "runs" / "b" / "keep.txt").read_text() == "keep"


def test_setup_wipes_its_own_notebook_folder(learner):
    first = ckptkit.setup("01_demo")
    (first / "ckpt-1.index").write_text("old")
    assert list(ckptkit.setup("01_demo").iterdir()) == []
