"""A run killed at any moment resumes bit-identically; a killed save or a damaged file leaves the past."""

from __future__ import annotations

from ckptkit.files.inventory import list_folder
from ckptkit.runs.trainer import KILL_POINTS, train

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import helpers

STEPS, EVERY = 60, 5


def cli(workdir: Path, *extra: str, model: str = "keras") -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ckptkit", "train", "--model", model, "--steps", str(STEPS)]
    command += ["--save-every", str(EVERY), "--workdir", str(workdir), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def final_hash(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].removeprefix("final-weights-sha256: ")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    """Hashes of uninterrupted runs, one per model."""
    return {
        m: train(m, STEPS, EVERY, workdir=tmp_path_factory.mktemp(m), say=lambda _: None).sha256
        for m in ("linear", "keras")
    }


def test_sigkill_at_random_points_resumes_bit_identically(tmp_path, reference):
    rng = random.Random(2026)
    kill_steps = sorted(rng.sample(range(1, STEPS), 4))
    for at in kill_steps:  # a chain of crashes, each resumed by the next run
        assert cli(tmp_path, "--kill-at-step", str(at)).returncode == -9
    # one more kill from outside, at a random moment rather than a chosen step
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ckptkit",
            "train",
            "--steps",
            str(STEPS),
            "--save-every",
            str(EVERY),
            "--workdir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(rng.uniform(2.5, 4.0))
    process.kill()
    process.wait()
    done = cli(tmp_path)
    assert "resumed from" in done.stdout
    assert final_hash(done) == reference["keras"]


def test_linear_model_resumes_too(tmp_path, reference):
    assert cli(tmp_path, "--kill-at-step", "17", model="linear").returncode == -9
    resumed = cli(tmp_path, model="linear")
    assert "resumed from ckpt-15 at step 15" in resumed.stdout  # not a silent fresh start
    assert final_hash(resumed) == reference["linear"]


def test_kills_during_saves_leave_the_latest_listed_checkpoint_restorable(tmp_path, reference):
    for at in (10, 25, 40):
        killed = cli(tmp_path, "--kill-during-save", str(at))
        assert killed.returncode == -9
        assert (tmp_path / f"ckpt-{at}_temp").is_dir()  # the uncommitted save's leftovers
        latest = list_folder(tmp_path)[0]
        assert latest["listed"] and latest["step"] == at - EVERY
        inspect = subprocess.run(
            [sys.executable, "-m", "ckptkit", "inspect", str(tmp_path)], capture_output=True, text=True
        )
        assert inspect.returncode == 0, (
            inspect.stderr
        )  # every value of the latest reads back, checksums and all
    assert final_hash(cli(tmp_path)) == reference["keras"]


# What a SIGKILL at each step of the save of step 10 leaves, besides ckpt-5 and the state file naming it.
LEFT_BY_A_KILL = {
    "shard": ["ckpt-10_temp", "ckpt-10_temp/part-00000-of-00001.data-00000-of-00001.tempstate"],
    "merge": [
        "ckpt-10_temp",
        "ckpt-10_temp/part-00000-of-00001.data-00000-of-00001",
        "ckpt-10_temp/part-00000-of-00001.index",
    ],
    "index": [
        "ckpt-10.data-00000-of-00001",
        "ckpt-10.index",
        "ckpt-10_temp",
        "ckpt-10_temp/part-00000-of-00001.index",
    ],
    "state": ["checkpoint.tmp", "ckpt-10.data-00000-of-00001", "ckpt-10.index"],
}


def _left(folder: Path) -> list[str]:
    """The files in `folder` beyond ckpt-5 and the state file, random suffixes cut off."""
    names = (str(p.relative_to(folder)) for p in sorted(folder.rglob("*")))
    cut = (re.sub(r"(\.tempstate|checkpoint\.tmp)\w+$", r"\1", n) for n in names)
    return [n for n in cut if not n.startswith("ckpt-5.") and n != "checkpoint"]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_at_each_step_of_a_save_leaves_the_last_commit(tmp_path, reference, point):
    killed = cli(tmp_path, "--kill-during-save", "10", "--kill-point", point)
    assert killed.returncode == -9, killed.stderr
    assert _left(tmp_path) == LEFT_BY_A_KILL[point]
    if point == "index":  # cut short in the middle of its write, as the kill leaves it
        whole = (tmp_path / "ckpt-10_temp" / "part-00000-of-00001.index").stat().st_size
        assert (tmp_path / "ckpt-10.index").stat().st_size == whole // 2
    assert [row["checkpoint"] for row in list_folder(tmp_path) if row["listed"]] == ["ckpt-5"]
    said: list[str] = []
    resumed = train("keras", STEPS, EVERY, workdir=tmp_path, say=said.append)
    assert said[0] == "resumed from ckpt-5 at step 5" and resumed.sha256 == reference["keras"]


def test_bad_kill_point(tmp_path):
    with pytest.raises(ValueError, match="not one of shard, merge, index, state"):
        train("keras", 5, 5, workdir=tmp_path, kill_during_save=5, kill_point="rename")


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--kill-point", "state"], "--kill-point says where inside a save to die: add --kill-during-save"),
        (["--kill-point", "index", "--strategy", "mirrored"], "--kill-point cannot be used with --strategy"),
    ],
)
def test_kill_point_without_its_save_is_one_line(tmp_path, flags, said):
    done = cli(tmp_path, *flags)
    assert done.returncode == 2 and said in done.stderr and len(done.stderr.splitlines()) == 1
    assert not any(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_a_listed_checkpoint_without_a_whole_index_is_set_aside(tmp_path, reference, damage):
    """What a power cut can leave and a kill cannot: the state file lists a checkpoint whose index is gone."""
    train("keras", STEPS, EVERY, workdir=tmp_path, say=lambda _: None)
    index = tmp_path / f"ckpt-{STEPS}.index"
    if damage == "missing":
        index.unlink()
    else:
        index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    said: list[str] = []
    result = train("keras", STEPS, EVERY, workdir=tmp_path, say=said.append)
    assert said[0].startswith(f"skipped ckpt-{STEPS}: ")
    assert said[1] == f"resumed from ckpt-{STEPS - EVERY} at step {STEPS - EVERY}"
    kept = sorted(p.name for p in (tmp_path / "damaged").iterdir())
    assert kept == [f"ckpt-{STEPS}.data-00000-of-00001"] + ([] if damage == "missing" else [index.name])
    assert result.sha256 == reference["keras"]


def test_a_damaged_checkpoint_is_skipped_for_the_one_before(tmp_path, reference):
    train("keras", STEPS, EVERY, workdir=tmp_path, say=lambda _: None)
    helpers.damage(str(tmp_path / f"ckpt-{STEPS}"), "flip", bits=0x10)
    said: list[str] = []
    result = train("keras", STEPS, EVERY, workdir=tmp_path, say=said.append)
    assert said[0].startswith(f"skipped ckpt-{STEPS}: ") and "damaged" in said[0]
    assert said[1] == f"resumed from ckpt-{STEPS - EVERY} at step {STEPS - EVERY}"
    assert result.skipped[0][0].endswith(f"ckpt-{STEPS}")
    # kept for a post-mortem, moved out of the way of the save that replaces it
    assert sorted(p.name for p in (tmp_path / "damaged").iterdir()) == [
        f"ckpt-{STEPS}.data-00000-of-00001",
        f"ckpt-{STEPS}.index",
    ]
    assert "kept as damaged/" in said[0]
    assert result.sha256 == reference["keras"]


@pytest.mark.parametrize("damage", ["empty", "cut"])
def test_an_unreadable_state_file_resumes_from_the_checkpoints_on_disk(tmp_path, reference, damage):
    """A power cut in the state file's write: TensorFlow would start over at step 0 beside ckpt-15."""
    train("keras", STEPS, EVERY, workdir=tmp_path, stop_at_step=17, say=lambda _: None)
    state = tmp_path / "checkpoint"
    text = state.read_bytes()
    damaged = b"" if damage == "empty" else text[: text.index(b'"ckpt-') + 4]  # inside a quoted path
    state.write_bytes(damaged)
    said: list[str] = []
    resumed = train("keras", STEPS, EVERY, workdir=tmp_path, say=said.append)
    assert said[:2] == [
        "the state file could not be read (kept as damaged/checkpoint): resuming from the files on disk",
        "resumed from ckpt-15 at step 15",
    ]
    assert resumed.sha256 == reference["keras"]
    assert (tmp_path / "damaged" / "checkpoint").read_bytes() == damaged


@pytest.mark.parametrize("ingredient", ["iterator", "rng", "optimizer", "layer_seeds"])
def test_each_ingredient_is_needed(tmp_path, reference, ingredient):
    train("keras", STEPS, EVERY, workdir=tmp_path, drop=(ingredient,), stop_at_step=23, say=lambda _: None)
    resumed = train("keras", STEPS, EVERY, workdir=tmp_path, drop=(ingredient,), say=lambda _: None)
    assert resumed.resumed_from is not None and resumed.sha256 != reference["keras"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="cannot drop"):
        train("keras", 5, 5, workdir=tmp_path, drop=("weights",))
    done = cli(tmp_path, "--steps", "-3")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "steps must be 0 or more" in done.stderr


def _bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("model", ["linear", "keras"])
def test_a_folder_of_another_model_is_left_byte_for_byte(tmp_path, model):
    other = "keras" if model == "linear" else "linear"
    train(other, 10, 5, workdir=tmp_path, say=lambda _: None)
    before = _bytes(tmp_path)
    done = cli(tmp_path, model=model)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "holds checkpoints of a different model" in done.stderr
    assert _bytes(tmp_path) == before


def test_other_settings_are_refused_too(tmp_path):
    train("keras", 10, 5, workdir=tmp_path, drop=("iterator",), say=lambda _: None)
    before = _bytes(tmp_path)
    done = cli(tmp_path)  # the same model, now saving its iterator as well
    assert done.returncode == 2 and "different model or settings" in done.stderr
    assert _bytes(tmp_path) == before


def test_a_folder_with_a_learners_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    done = cli(tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "notes.txt" in done.stderr
    assert _bytes(tmp_path) == {"notes.txt": b"mine"}


def test_prints_survive_sigkill_without_pythonunbuffered(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    command = [sys.executable, "-m", "ckptkit", "train", "--model", "linear", "--steps", "20"]
    command += ["--save-every", "5", "--workdir", str(tmp_path), "--kill-at-step", "12"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == -9
    saved = [line.split(", loss")[0] for line in done.stdout.splitlines()]
    assert saved == [
        "saved ckpt-5 at step 5",
        "saved ckpt-10 at step 10",
        "SIGKILL after step 12 (--kill-at-step 12)",
    ]


def test_traced_file_calls_reads_a_save_from_a_trace(tmp_path):
    from ckptkit.lessons.syscalls import traced, traced_file_calls

    folder = tmp_path / "run"
    trace = tmp_path / "trace"
    trace.write_text(
        f'101 mkdir("{folder}/ckpt-5_temp", 0755) = 0\n'  # before the start: left out
        f'101 mkdir("{folder}/ckpt-10_temp", 0755) = 0\n'
        f'101 openat(AT_FDCWD, "{folder}/ckpt-10_temp/part.data.tempstate123", O_WRONLY|O_CREAT, 0666) = 3\n'
        f'102 rename("{folder}/ckpt-10_temp/part.data.tempstate123", "{folder}/ckpt-10_temp/part.data") = 0\n'
        f'101 openat(AT_FDCWD, "{folder}/missing", O_RDONLY) = -1 ENOENT (No such file or directory)\n'
        f'101 openat(AT_FDCWD, "/elsewhere/file", O_RDONLY) = 4\n'
        "102 fdatasync(7) = 0\n"
        f'101 openat(AT_FDCWD, "{folder}/checkpoint.tmp9f3a", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3\n'
        "101 +++ killed by SIGKILL +++\n"
    )
    calls, syncs = traced_file_calls(trace, folder, start="ckpt-10")
    assert calls == [
        "mkdir ckpt-10_temp",
        "create ckpt-10_temp/part.data.tempstate…",
        "rename ckpt-10_temp/part.data.tempstate… -> ckpt-10_temp/part.data",
        "create checkpoint.tmp…",
    ]
    assert syncs == 1
    command, used = traced(["true"], tmp_path / "t")
    assert (command == ["true"]) == (not used) and (not used or command[-1] == "true")
