"""Distributed checkpoints: across strategies, two workers killed and resumed, sharded files, preemption."""

from __future__ import annotations

import ckptkit
from ckptkit.__main__ import main
from ckptkit.runs import distributed, launcher, resume
from ckptkit.runs.models import DropoutModel, regression_data, seed_states

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """Run `python args...` with this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env)


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """Run `python -m ckptkit train ...`."""
    return run("-m", "ckptkit", "train", *args, timeout=timeout)


def final_hash(done: subprocess.CompletedProcess) -> str:
    """The hash `train` prints last; fails with the run's output if it did not finish."""
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines and lines[-1].startswith("final-weights-sha256:"), (
        done.stdout + done.stderr
    )
    return lines[-1].split()[-1]


# The test process's TensorFlow has started already (one logical CPU): mirroring runs in a child.
ACROSS = textwrap.dedent(
    """
    import sys

    import ckptkit
    from ckptkit.runs import distributed
    from ckptkit.runs.models import seed_states
    from ckptkit.runs.models import run_setup

    import tensorflow as tf

    mirrored = distributed.make_strategy("mirrored", 2)
    assert len(tf.config.list_logical_devices("CPU")) == 2, "two logical CPUs"
    none = tf.distribute.get_strategy()

    def fresh(strategy, seed):
        with strategy.scope():
            _, _, objects, optimizer, _ = run_setup("keras", seed)
            parts = dict(step=tf.Variable(0, dtype=tf.int64), **objects, optimizer=optimizer)
            return tf.train.Checkpoint(**parts, layer_seeds=seed_states(objects["model"]))

    for saved_by, restored_by in [(mirrored, none), (none, mirrored)]:
        folder = f"{sys.argv[1]}/{saved_by.num_replicas_in_sync}"
        distributed.train(saved_by, steps=4, save_every=4, workdir=folder, say=lambda line: None)
        path = tf.train.latest_checkpoint(folder)
        ckpt = fresh(restored_by, seed=7)  # other initial values: the restore must replace them all
        ckpt.restore(path).assert_consumed()
        d = ckptkit.compare(path, ckpt)
        assert d.names("changed") == [] and d.names("only in a") == [], repr(d)
        print(saved_by.num_replicas_in_sync, "->", restored_by.num_replicas_in_sync, "identical", d.identical)
    """
)


def test_restore_across_strategies_is_exact(tmp_path):
    done = run("-c", ACROSS, str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split("\n")[:2] == ["2 -> 1 identical True", "1 -> 2 identical True"]


def test_two_workers_killed_and_restarted_end_as_an_uninterrupted_run(tmp_path):
    common = ["--strategy", "multiworker", "--workers", "2", "--steps", "12", "--save-every", "4"]
    reference = final_hash(cli(*common, "--workdir", str(tmp_path / "whole")))
    crashed = cli(*common, "--workdir", str(tmp_path / "crash"), "--kill-worker", "1", "--kill-at-step", "6")
    assert crashed.returncode == 1, crashed.stdout + crashed.stderr
    assert "[worker 1] SIGKILL after step 6 (--kill-at-step 6)" in crashed.stdout
    assert "worker 1 was killed by SIGKILL" in crashed.stdout
    # Not "after step 6": worker 0 may not have finished step 6 when worker 1 died; its checkpoint is sure.
    assert "worker 0 lost the other workers during training: restart every worker to resume from ckpt-4" in (
        crashed.stdout
    )
    assert not any(line.startswith(("I0000", "WARNING: All log")) for line in crashed.stdout.splitlines())
    assert sorted(p.name for p in (tmp_path / "crash").iterdir()) == [
        "checkpoint",
        "ckpt-4.data-00000-of-00001",
        "ckpt-4.index",
    ], "only the chief's files; worker 1's workertemp_1 is gone"
    resumed = cli(*common, "--workdir", str(tmp_path / "crash"))
    assert "[worker 1] resumed from ckpt-4 at step 4" in resumed.stdout
    assert final_hash(resumed) == reference


def test_mirrored_run_killed_and_restarted_ends_as_an_uninterrupted_run(tmp_path):
    common = ["--strategy", "mirrored", "--devices", "2", "--steps", "12", "--save-every", "4"]
    reference = final_hash(cli(*common, "--workdir", str(tmp_path / "whole")))
    crashed = cli(*common, "--workdir", str(tmp_path / "crash"), "--kill-at-step", "6")
    assert crashed.returncode == -9 and "saved ckpt-4 at step 4" in crashed.stdout
    assert crashed.stdout.endswith("SIGKILL after step 6 (--kill-at-step 6)\n"), crashed.stdout
    resumed = cli(*common, "--workdir", str(tmp_path / "crash"))
    assert "resumed from ckpt-4 at step 4" in resumed.stdout
    assert final_hash(resumed) == reference


@pytest.mark.parametrize("damage", ["empty", "cut"])
def test_an_unreadable_state_file_resumes_every_worker_from_the_files_on_disk(tmp_path, damage):
    """A power cut in the state file's write: TensorFlow would raise (empty) or start over (cut)."""
    quiet = lambda _: None  # noqa: E731
    whole = distributed.train(None, steps=12, save_every=4, workdir=tmp_path / "whole", say=quiet)
    crash = tmp_path / "crash"
    distributed.train(None, steps=8, save_every=4, workdir=crash, say=quiet)
    state = crash / "checkpoint"
    text = state.read_bytes()
    state.write_bytes(b"" if damage == "empty" else text[: text.index(b'"ckpt-') + 4])  # inside a path
    # A worker other than the chief only reads: the same list, and the file stays for the chief.
    said: list[str] = []
    on_disk = [str(crash / "ckpt-4"), str(crash / "ckpt-8")]
    assert resume.candidates(crash, said.append, owner=False) == on_disk and state.exists() and not said
    resumed = distributed.train(None, steps=12, save_every=4, workdir=crash, say=said.append)
    assert said[:2] == [
        "the state file could not be read (kept as damaged/checkpoint): resuming from the files on disk",
        "resumed from ckpt-8 at step 8",
    ]
    assert resumed.sha256 == whole.sha256 and (crash / "damaged" / "checkpoint").exists()
    # The chief moved the file: a worker reading now finds none and lists the same files on disk.
    (crash / "checkpoint").unlink()
    assert resume.candidates(crash, said.append, owner=False)[-1] == str(crash / "ckpt-12")


def test_a_worker_alone_gives_up_with_one_line(tmp_path):
    config = launcher.cluster_configs(2)[0]  # worker 1 never starts
    (tmp_path / "c.json").write_text(json.dumps(config))
    done = cli(
        "--strategy", "multiworker", "--cluster", str(tmp_path / "c.json"), "--timeout", "3",
        "--workdir", str(tmp_path / "w"),
    )  # fmt: skip
    assert done.returncode == -9  # SIGKILLed by its watchdog
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ckptkit")]
    assert lines == [
        "ckptkit train: worker 0: the other workers did not answer within 3 s: "
        "start every worker of the cluster"
    ]


def test_bad_distributed_arguments(tmp_path, capsys):
    w = ["--workdir", str(tmp_path)]
    for args, says in [
        (["--strategy", "none", "--devices", "2"], "--devices cannot be used with --strategy none"),
        (["--strategy", "mirrored", "--workers", "2"], "--workers cannot be used with --strategy mirrored"),
        (["--strategy", "multiworker"], "needs either --workers N (this machine) or --cluster FILE"),
        (["--strategy", "none", "--no-save-rng"], "--no-save-rng cannot be used with --strategy none"),
        (["--max-shard-mb", "0"], "--max-shard-mb must be more than 0"),
        (["--strategy", "multiworker", "--workers", "2", "--kill-at-step", "3"], "needs --kill-worker I"),
        (
            ["--strategy", "multiworker", "--cluster", str(tmp_path / "nothing.json")],
            "cannot read the cluster",
        ),
    ]:
        assert main(["train", *args, *w]) == 2
        err = capsys.readouterr().err
        assert says in err and len(err.strip().splitlines()) == 1, (args, err)


def test_sharded_checkpoint_restores_exactly_and_inspects(tmp_path):
    kernel = tf.Variable(tf.random.stateless_normal([1000, 1000], seed=[0, 1]))
    ckpt = tf.train.Checkpoint(kernel=kernel)
    path = ckpt.save(str(tmp_path / "ckpt"), options=distributed.sharding_options(1.0))
    data = sorted(p.name for p in tmp_path.glob("ckpt-1.data-*"))
    assert len(data) == 5, data  # 4 MB of float32 in files of at most 1 MB
    assert tf.train.list_variables(path)[1] == ("kernel/.ATTRIBUTES/VARIABLE_VALUE", [1000, 1000])
    fresh = tf.Variable(tf.zeros([1000, 1000]))
    tf.train.Checkpoint(kernel=fresh).restore(path).assert_consumed()
    assert np.array_equal(fresh.numpy(), kernel.numpy())
    done = run("-m", "ckptkit", "inspect", path)
    assert done.returncode == 0 and "1000" in done.stdout, done.stderr


def test_sharded_training_resumes_exactly(tmp_path):
    quiet = {"max_shard_mb": 0.001, "say": lambda line: None}
    whole = distributed.train(steps=6, save_every=3, workdir=tmp_path / "a", **quiet)
    assert len(list((tmp_path / "a").glob("ckpt-6.data-*"))) > 1
    distributed.train(steps=4, save_every=3, workdir=tmp_path / "b", **quiet)
    resumed = distributed.train(steps=6, save_every=3, workdir=tmp_path / "b", **quiet)
    assert resumed.resumed_from.endswith("ckpt-4") and resumed.sha256 == whole.sha256


class Preempted(Exception):
    """Raised by the handler's exit function instead of ending the process."""


def _preemptible(folder: Path, steps: int, notice_after: int | None) -> tuple[int, dict[str, np.ndarray]]:
    """Train with a PreemptionCheckpointHandler; a notice arrives after `notice_after` steps."""
    ckptkit.seed_everything(0)
    inputs, targets = regression_data(n=64)
    model, optimizer = DropoutModel(seed=0), tf.keras.optimizers.Adam(0.01)
    model(inputs[:1])
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step, layer_seeds=seed_states(model))
    notice, seen = threading.Event(), threading.Event()

    def watcher() -> bool:
        if notice.is_set():
            seen.set()
        return notice.is_set()

    def stop() -> None:
        raise Preempted

    config = tf.distribute.experimental.TerminationConfig(termination_watcher_fn=watcher, exit_fn=stop)
    handler = tf.distribute.experimental.PreemptionCheckpointHandler(None, ckpt, str(folder), config)
    try:
        while int(step) < steps:
            at = int(step)
            x, y = inputs[at % 8 * 8 : at % 8 * 8 + 8], targets[at % 8 * 8 : at % 8 * 8 + 8]
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            step.assign_add(1)
            handler.save_checkpoint_if_preempted()
            if int(step) == notice_after:
                notice.set()
                assert seen.wait(10)  # the handler polls once a second
                threading.Event().wait(0.3)
    except Preempted:
        pass
    return int(step), ckptkit.snapshot(model)


def test_preemption_handler_saves_and_the_resume_is_exact(tmp_path):
    whole_steps, whole = _preemptible(tmp_path / "whole", 12, None)
    stopped_at, _ = _preemptible(tmp_path / "p", 12, notice_after=4)
    assert 4 < stopped_at < 12
    assert int(
        tf.train.load_checkpoint(str(tmp_path / "p")).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")
    ) == (stopped_at)
    resumed_steps, resumed = _preemptible(tmp_path / "p", 12, None)  # the handler restores at creation
    assert resumed_steps == whole_steps and ckptkit.diff(whole, resumed).identical


@pytest.mark.parametrize("mb", [-1.0, 0.0])
def test_sharding_options_refuse_sizes_below_one_byte(mb):
    with pytest.raises(ValueError, match="more than 0"):
        distributed.sharding_options(mb)
