"""Start N workers of `python -m ckptkit train --strategy multiworker` on 127.0.0.1 and report how they end.

No TensorFlow here (the CLI reaches this without importing it), so the process that waits for the
workers holds none: only the workers do.
"""

from __future__ import annotations

from ckptkit.runs.loop import say_flushed

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LaunchResult",
    "check",
    "cluster_configs",
    "cut_lifeline",
    "free_ports",
    "launch",
    "launch_and_report",
    "lifeline",
]

# TensorFlow's own log lines (C++ `I0000 ...`, absl's banner, gRPC's `E1126 ...`) in a child's output.
_TF_LINE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl|\s*$)")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports on `host` that nothing listens on right now (all held open while chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def lifeline(script: str, *args: str, own_session: bool = False) -> subprocess.Popen:
    """Start a small Python child that acts when its stdin reaches end-of-file: when `cut_lifeline` is
    called, or when this process dies in any way (even SIGKILL), since only this process holds the pipe.

    `own_session` lets the child outlive a kill of this process's whole process group.
    """
    command = [sys.executable, "-c", script, *args]
    return subprocess.Popen(command, stdin=subprocess.PIPE, start_new_session=own_session)


def cut_lifeline(child: subprocess.Popen) -> None:
    """Close the child's stdin (once) and wait for it to act and exit."""
    if not child.stdin.closed:
        child.stdin.close()
        child.wait()


def cluster_configs(workers: int, host: str = "127.0.0.1") -> list[dict]:
    """TF_CONFIG dictionaries for `workers` workers on `host`, each on a free port."""
    if workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {workers}")
    addresses = [f"{host}:{port}" for port in free_ports(workers, host)]
    return [
        {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}} for i in range(workers)
    ]


@dataclass
class LaunchResult:
    """How each launched worker ended: exit codes, its own output lines, and the final hash they agree on."""

    codes: list[int]
    lines: list[list[str]]
    sha256: str | None

    @property
    def ok(self) -> bool:
        """True when every worker finished, all with the same weights."""
        return self.sha256 is not None


def _ended(index: int, code: int) -> str:
    """One line saying how a worker process ended."""
    if code < 0:
        return f"worker {index} was killed by {signal.Signals(-code).name}"
    return f"worker {index} exited with code {code}"


def launch(
    workers: int,
    workdir: str | os.PathLike[str],
    train_args: Iterable[str] = (),
    kill_worker: int | None = None,
    kill_at_step: int | None = None,
    timeout: float = 30.0,
    say: Callable[[str], None] = say_flushed,
) -> LaunchResult:
    """Start `workers` processes of `python -m ckptkit train --strategy multiworker` on 127.0.0.1.

    Each gets TF_CONFIG in its environment (before it imports TensorFlow) and a `--cluster` file.
    Worker 0's lines are passed on as they come, the others' after they end (in worker order);
    TensorFlow's log lines are dropped. `kill_worker` is SIGKILLed after step `kill_at_step`.
    """
    check(workers, kill_worker, kill_at_step)
    configs = cluster_configs(workers)
    Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        processes = [
            _start(
                i, config, Path(tmp), workdir, train_args, timeout, kill_at_step if i == kill_worker else None
            )
            for i, config in enumerate(configs)
        ]
        outputs = _collect(processes, say)
    for i in range(1, workers):
        for line in outputs[i]:
            if not line.startswith("final-weights-sha256:"):
                say(f"[worker {i}] {line}")
    codes = [p.returncode for p in processes]
    for i, code in enumerate(codes):
        if code:
            say(_ended(i, code))
    hashes = {line.split()[-1] for out in outputs for line in out if line.startswith("final-weights-sha256:")}
    chief = [line.split()[-1] for line in outputs[0] if line.startswith("final-weights-sha256:")]
    if len(hashes) > 1:
        say("the workers ended with different weights")
    finished = chief and len(hashes) == 1 and all(code == 0 for code in codes)
    return LaunchResult(codes, outputs, chief[0] if finished else None)


def _start(
    index: int,
    config: dict,
    tmp: Path,
    workdir: str | os.PathLike[str],
    train_args: Iterable[str],
    timeout: float,
    kill_at_step: int | None,
) -> subprocess.Popen:
    """Start worker `index` with its TF_CONFIG, in its environment and in a `--cluster` file."""
    file = tmp / f"worker-{index}.json"
    file.write_text(json.dumps(config))
    command = [sys.executable, "-u", "-m", "ckptkit", "train", "--strategy", "multiworker"]
    command += ["--cluster", str(file), "--workdir", os.fspath(workdir), "--timeout", f"{timeout:g}"]
    command += list(train_args)
    if kill_at_step is not None:
        command += ["--kill-at-step", str(kill_at_step)]
    env = {**os.environ, "TF_CONFIG": json.dumps(config)}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _collect(processes: list[subprocess.Popen], say: Callable[[str], None]) -> list[list[str]]:
    """Every worker's own output lines (TensorFlow's dropped), worker 0's passed on as they come."""
    outputs: list[list[str]] = [[] for _ in processes]

    def read(i: int) -> None:
        for line in processes[i].stdout:
            if _TF_LINE.match(line):
                continue
            outputs[i].append(line.rstrip("\n"))
            if i == 0 and not line.startswith("final-weights-sha256:"):
                say(f"[worker 0] {line.rstrip()}")

    readers = [threading.Thread(target=read, args=(i,)) for i in range(len(processes))]
    for reader in readers:
        reader.start()
    # No time limit here: a run may be long. Workers stop themselves when a peer does not
    # join within their timeout or disappears mid-run.
    for process in processes:
        process.wait()
    for reader in readers:
        reader.join()
    return outputs


def check(workers: int, kill_worker: int | None = None, kill_at_step: int | None = None) -> None:
    """Raise ValueError, in one line, for a worker count or a crash rehearsal that cannot run."""
    if workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {workers}")
    if (kill_worker is None) != (kill_at_step is None):
        raise ValueError("--kill-worker I and --kill-at-step S go together")
    if kill_worker is not None and not 0 <= kill_worker < workers:
        raise ValueError(f"--kill-worker must be between 0 and {workers - 1}, got {kill_worker}")


def launch_and_report(**spec: object) -> int:
    """Launch as `launch(**spec)`; print the chief's hash last, or what to do after a failure; exit code."""
    launched = launch(**spec)
    if not launched.ok:
        print("run the same command again (without --kill-worker) to resume from the last checkpoint")
        return 1
    print(f"final-weights-sha256: {launched.sha256}", flush=True)
    return 0
