"""`pip install ckptkit` alone gives the TensorFlow-free CLI: `inspect`, `diff`, `ls` need no TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import saved_keras

ROOT = Path(__file__).resolve().parents[1]
# Not installed by `pip install ckptkit` (they come with the `lab` extra, or not at all).
HEAVY = ("tensorflow", "keras", "tf_keras", "matplotlib", "ipywidgets", "psutil", "h5py")
GUARD = f"""
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in the light install)", name=name)
sys.meta_path.insert(0, Absent())
from ckptkit.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def _cli(*args: str, guarded: bool) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", GUARD, *args] if guarded else [sys.executable, "-m", "ckptkit", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


def test_the_light_install_needs_only_the_readers_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(project["dependencies"]) == ["cramjam", "crc32c", "ml_dtypes", "numpy"]
    assert {"tensorflow>=2.21", "matplotlib", "ipywidgets"} <= set(project["optional-dependencies"]["lab"])
    assert "-e .[lab]" in (ROOT / "requirements.txt").read_text().splitlines()


@pytest.mark.parametrize("command", ["inspect", "diff", "ls"])
def test_reading_commands_run_without_tensorflow_and_print_the_same(tmp_path, command):
    first, ckpt = saved_keras(tmp_path, steps=2)
    ckpt.step.assign_add(5)
    second = ckpt.save(str(tmp_path / "ckpt"))
    args = {"inspect": [second], "diff": [first, second], "ls": [str(tmp_path)]}[command]
    light, full = _cli(command, *args, guarded=True), _cli(command, *args, guarded=False)
    assert "not in the light install" not in light.stderr, light.stderr
    assert (light.returncode, light.stdout, light.stderr) == (full.returncode, full.stdout, full.stderr)
    assert light.returncode == (1 if command == "diff" else 0) and light.stdout.strip()


def test_train_without_tensorflow_says_so_in_one_line(tmp_path):
    done = _cli("train", "--workdir", str(tmp_path / "run"), guarded=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "needs TensorFlow" in done.stderr and "ckptkit[lab]" in done.stderr


@pytest.mark.parametrize("case", ["steps", "save-every", "folder"])
def test_train_refuses_bad_arguments_before_loading_tensorflow(tmp_path, case):
    """A bad number or a folder of someone else's files gets the same one line, TensorFlow never loaded."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "notes.txt").write_text("mine")
    args = {"steps": ["--steps", "-3"], "save-every": ["--save-every", "-1"], "folder": []}[case]
    if case != "folder":
        workdir = tmp_path / "new"
    light = _cli("train", "--workdir", str(workdir), *args, guarded=True)
    assert light.returncode == 2 and light.stderr.count("\n") == 1, light.stderr
    said = {"steps": "steps must be 0 or more", "save-every": "got -1", "folder": "notes.txt"}
    assert said[case] in light.stderr and "needs TensorFlow" not in light.stderr
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine" and not (tmp_path / "new").exists()
