"""Training under `tf.distribute` that resumes bit-identically: mirrored replicas, workers, sharded files.

`ckptkit.runs.launcher` starts the worker processes; this module is what each of them runs.
"""

from __future__ import annotations

from ckptkit.errors import ClusterError
from ckptkit.live.determinism import seed_everything
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.snapshot import snapshot
from ckptkit.runs import loop
from ckptkit.runs.launcher import cut_lifeline, lifeline
from ckptkit.runs.loop import WORKDIR, check_steps, say_flushed
from ckptkit.runs.models import run_setup, seed_states
from ckptkit.runs.resume import candidates, resume
from ckptkit.runs.step import apply_step
from ckptkit.runs.trainer import TrainResult

import contextlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = [
    "BATCH",
    "STRATEGIES",
    "Training",
    "logical_cpus",
    "make_strategy",
    "run_worker",
    "sharding_options",
    "train",
]

STRATEGIES = ("none", "mirrored", "multiworker")
BATCH = 8  # the global batch: replicas split it, so every replica count sees the same examples


def logical_cpus(n: int) -> list[str]:
    """Split the first CPU into `n` logical devices and return their names; must run before TF starts."""
    if n < 1:
        raise ValueError(f"--devices must be 1 or more, got {n}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    # Once TensorFlow has started this raises: fine only if it already has n devices, checked below.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    names = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(names) != n:
        raise ValueError(
            f"TensorFlow already started with {len(names)} logical CPU(s), {n} asked: "
            "configure logical devices before anything else runs TensorFlow (restart the kernel)"
        )
    return names


def make_strategy(name: str, devices: int = 2) -> tf.distribute.Strategy:
    """Return the default strategy ("none"), a MirroredStrategy over `devices` logical CPUs, or MWMS."""
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(logical_cpus(devices))
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker needs --workers N or --cluster FILE")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}: choose from {', '.join(STRATEGIES)}")


def sharding_options(max_shard_mb: float | None) -> tf.train.CheckpointOptions | None:
    """Checkpoint options that split data files at `max_shard_mb` megabytes (None: one file per device)."""
    if max_shard_mb is None:
        return None
    if max_shard_mb <= 0:
        raise ValueError(f"--max-shard-mb must be more than 0, got {max_shard_mb}")
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=int(max_shard_mb * 1_000_000))
    return tf.train.CheckpointOptions(experimental_sharding_callback=policy)


def _task() -> tuple[str | None, int]:
    """This process's task type and index from TF_CONFIG (None outside a cluster)."""
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    return task.get("type"), int(task.get("index", 0))


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the worker whose checkpoints count: the chief, else worker 0, else a single process."""
    kind, index = _task()
    if kind is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    has_chief = "chief" in json.loads(os.environ["TF_CONFIG"]).get("cluster", {})
    return kind == "chief" or (kind == "worker" and index == 0 and not has_chief)


class Training:
    """A model, its optimizer and a step counter built under one strategy, with a checkpoint over them.

    Each step's global batch and input noise are derived from the step number itself, so the
    checkpoint needs no iterator or RNG state, and every replica count sees the same examples: the
    replicas split the batch of `BATCH` rows and their gradients are summed.
    """

    def __init__(self, strategy: tf.distribute.Strategy | None = None, model: str = "keras", seed: int = 0):
        """Build the model and optimizer inside `strategy.scope()` (the default strategy if None)."""
        self.strategy = strategy or tf.distribute.get_strategy()
        replicas = self.strategy.num_replicas_in_sync
        if BATCH % replicas:
            raise ValueError(f"{replicas} replicas cannot split a batch of {BATCH}: use 1, 2, 4 or 8")
        seed_everything(seed)
        with self.strategy.scope():
            predict, variables, self.objects, self.optimizer, (inputs, targets) = run_setup(model, seed)
            self.step = tf.Variable(0, dtype=tf.int64)
            parts = {"step": self.step, **self.objects, "optimizer": self.optimizer}
            seeds = seed_states(predict)
            if seeds:
                parts["layer_seeds"] = seeds
            self.ckpt = tf.train.Checkpoint(**parts)
        self.model = predict
        n, per_replica = int(inputs.shape[0]), BATCH // replicas
        per_epoch = n // BATCH

        def batch(at: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            # Step `at`'s rows: epoch `at // per_epoch` shuffled by (seed, epoch), plus noise.
            order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=[seed, at // per_epoch])
            rows = order[(at % per_epoch) * BATCH : (at % per_epoch + 1) * BATCH]
            x, y = tf.gather(inputs, rows), tf.gather(targets, rows)
            return x + 0.05 * tf.random.stateless_normal(tf.shape(x), seed=[seed, at]), y

        def replica_loss(predictions: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
            # This replica's share of the global batch's mean: the replicas' losses and gradients sum.
            errors = tf.reduce_mean(tf.square(predictions - targets), axis=-1)
            return tf.nn.compute_average_loss(errors, global_batch_size=BATCH)

        def replica_step(at: tf.Tensor) -> tf.Tensor:
            x, y = batch(at)
            first = tf.distribute.get_replica_context().replica_id_in_sync_group * per_replica
            x, y = x[first : first + per_replica], y[first : first + per_replica]
            return apply_step(predict, variables, self.optimizer, x, y, loss=replica_loss, training=True)

        @tf.function
        def train_step(at: tf.Tensor) -> tf.Tensor:
            losses = self.strategy.run(replica_step, args=(at,))
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

        self._train_step = train_step

    @property
    def at(self) -> int:
        """The number of steps trained so far."""
        return int(self.step.numpy())

    def advance(self) -> float:
        """Train one step on every replica; return the global batch's loss."""
        loss = self._train_step(self.step.read_value())
        self.step.assign_add(1)
        return float(loss)

    def result(self, resumed_from: str | None = None) -> TrainResult:
        """The run so far as a `TrainResult` (final weights and their hash)."""
        return TrainResult(self.at, snapshot(tf.train.Checkpoint(**self.objects)), resumed_from)


def train(
    strategy: tf.distribute.Strategy | None = None,
    model: str = "keras",
    steps: int = 60,
    save_every: int = 10,
    seed: int = 0,
    workdir: str | os.PathLike[str] = WORKDIR,
    kill_at_step: int | None = None,
    max_shard_mb: float | None = None,
    say: Callable[[str], None] = print,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train under `strategy` to `steps`, saving every `save_every`; resume from `workdir`'s checkpoint.

    Every worker calls save (collective ops may run inside it); only the chief's files land in
    `workdir`, each other worker writes to `workdir/workertemp_<index>` and deletes it.
    """
    steps, save_every = check_steps(steps), max(1, check_steps(save_every))
    options = sharding_options(max_shard_mb)
    run = Training(strategy, model, seed)
    chief = _is_chief(run.strategy)
    folder = Path(workdir) if chief else Path(workdir) / f"workertemp_{_task()[1]}"
    # Every worker resumes from the chief's folder, by one rule, so all choose the same checkpoint.
    found = candidates(Path(workdir), say, owner=chief)  # before the chief's manager reads the state file
    manager = tf.train.CheckpointManager(run.ckpt, os.fspath(folder), max_to_keep=3)
    latest, _ = resume(run.ckpt, found, workdir, say, owner=chief)

    def save(at: int, loss: float) -> None:
        path = manager.save(checkpoint_number=at, options=options)
        if chief:
            say(f"saved {Path(path).name} at step {at}, loss {loss:.4g}")
        else:
            files = len(list(folder.iterdir()))
            shutil.rmtree(folder, ignore_errors=True)  # its own temporary copy, only
            say(f"saved {folder.name}/{Path(path).name} ({files} files) at step {at}, then deleted it")

    loop.run(
        run.advance,
        lambda: run.at,
        steps,
        save_every,
        save,
        on_step=on_step,
        kill_at_step=kill_at_step,
        say=say,
    )
    result = run.result(latest)
    if chief:
        np.savez(Path(workdir) / "final-weights.npz", **result.weights)
    return result


def run_worker(
    config: dict,
    timeout: float = 30.0,
    say: Callable[[str], None] = say_flushed,  # a worker may be SIGKILLed: flush each line
    workdir: str | os.PathLike[str] = WORKDIR,
    **train_args: object,
) -> TrainResult:
    """Join the cluster in `config` (TF_CONFIG-style) and train; raise `ClusterError` if it is lost.

    Joining gives up after `timeout` seconds: without a limit a worker waits forever for a peer
    that never starts.
    """
    try:
        kind, index = config["task"]["type"], int(config["task"]["index"])
        config["cluster"][kind][index]
    except (KeyError, IndexError, TypeError, ValueError):
        raise ValueError(
            'a cluster file needs {"cluster": {"worker": ["host:port", ...]}, '
            '"task": {"type": "worker", "index": I}} with I < the number of workers'
        ) from None
    os.environ["TF_CONFIG"] = json.dumps(config)
    line = (
        f"ckptkit train: {kind} {index}: the other workers did not answer within {timeout:g} s: "
        "start every worker of the cluster"
    )
    # A worker waiting for absent peers blocks inside TensorFlow's C++ runtime, where no Python
    # thread or signal handler runs: a separate small process ends it.
    dog = lifeline(_WATCHDOG, str(os.getpid()), f"{timeout}", line)
    done: list[int | None] = [None]

    def on_step(at: int) -> None:
        done[0] = at
        cut_lifeline(dog)  # a step needs every worker: the cluster is complete

    try:
        strategy = make_strategy("multiworker")
        return train(strategy, say=say, on_step=on_step, workdir=workdir, **train_args)
    except (
        tf.errors.UnavailableError,
        tf.errors.DeadlineExceededError,
        tf.errors.CancelledError,
        tf.errors.AbortedError,
    ):
        # Neither the error's text nor the step: both vary with the moment the peer vanished (a step's
        # all-reduce may or may not have fetched the peer's part first). The last checkpoint does not.
        when = "before its first step" if done[0] is None else "during training"
        listed = candidates(Path(workdir), lambda _: None, owner=False)  # what a restart would read
        then = f"resume from {Path(listed[-1]).name}" if listed else "start again (no checkpoint yet)"
        raise ClusterError(
            f"{kind} {index} lost the other workers {when}: restart every worker to {then}"
        ) from None
    finally:
        cut_lifeline(dog)


_WATCHDOG = """
import os, select, signal, sys
pid, timeout, line = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
if not select.select([sys.stdin], [], [], timeout)[0]:  # stdin closes when the worker has joined
    print(line, file=sys.stderr, flush=True)
    os.kill(pid, signal.SIGKILL)
"""
