"""What the benchmark measures: overhead, panel clicks, the CLI reading files, notebooks, suite, app."""

from __future__ import annotations

from ckptkit.lab.lab import CheckpointLab
from ckptkit.lab.panel import CheckpointPanel
from ckptkit.lessons.performance import Actions, interleaved_times
from ckptkit.live.quiet import import_tensorflow
from ckptkit.live.restore import restore_checked

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.app import app_costs  # the app in a browser: its own module, re-exported here

tf = import_tensorflow()

__all__ = [
    "NOTEBOOKS",
    "ROOT",
    "SUITE_STEPS",
    "app_costs",
    "cli_reading",
    "fixed_cost_ms",
    "interleaved_ms",
    "median_ms",
    "notebook_costs",
    "overhead",
    "panel_clicks",
    "record_timings",
    "suite_time",
]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def interleaved_ms(actions: Actions, repeat: int, before: Actions | None = None) -> dict[str, float]:
    """Median ms of each action, run in turn round after round (see `interleaved_times`)."""
    return {name: statistics.median(t) for name, t in interleaved_times(actions, repeat, before).items()}


def median_ms(action: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of `action` over `repeat` runs, after one warm-up run."""
    return interleaved_ms({"action": action}, repeat)["action"]


def fixed_cost_ms(folder: str | os.PathLike[str], repeat: int = 5) -> float:
    """Median milliseconds of `Checkpoint.write` of one scalar: the cost of a save that is not bytes."""
    ckpt = tf.train.Checkpoint(v=tf.Variable(0.0))
    prefix = f"{os.fspath(folder)}/scalar"
    ms = median_ms(lambda: ckpt.write(prefix), repeat)
    for path in Path(folder).glob("scalar.*"):  # its .index and .data files
        path.unlink()
    return ms


def _overhead_of(kind: str, repeat: int, folder: Path) -> dict[str, float]:
    lab = getattr(CheckpointLab, kind)(workdir=folder / f"lab-{kind}")
    lab.train(5)
    bare_dir = folder / f"bare-{kind}"
    bare = tf.train.CheckpointManager(lab.checkpoint, bare_dir, max_to_keep=None)
    path = lab.save()
    saves = interleaved_ms(
        {
            "lab_save_ms": lab.save,
            "manager_save_ms": bare.save,
            "checkpoint_save_ms": lambda: lab.checkpoint.save(f"{bare_dir}/c"),
        },
        repeat,
    )
    restores = interleaved_ms(
        {
            "lab_restore_ms": lambda: lab.restore(path),
            "restore_checked_ms": lambda: restore_checked(lab.checkpoint, path),
            # The same job: the lab and restore_checked refuse a partial restore, as assert_consumed does.
            "checkpoint_restore_ms": lambda: lab.checkpoint.restore(path).assert_consumed(),
        },
        repeat,
    )
    return saves | restores


def overhead(repeat: int = 25, folder: Path | None = None) -> dict[str, float]:
    """Medians of ckptkit's save and restore against the bare TensorFlow calls, on both teaching models.

    The calls compared take turns, round after round, so a machine busy with other work slows each alike.
    """
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        rows = {kind: _overhead_of(kind, repeat, Path(scratch)) for kind in ("linear", "keras")}
    worst = {
        "overhead_save_ratio": max(r["lab_save_ms"] / r["manager_save_ms"] for r in rows.values()),
        "overhead_save_vs_checkpoint_ratio": max(
            r["lab_save_ms"] / r["checkpoint_save_ms"] for r in rows.values()
        ),
        "overhead_restore_ratio": max(
            r["lab_restore_ms"] / r["checkpoint_restore_ms"] for r in rows.values()
        ),
        "restore_checked_ratio": max(
            r["restore_checked_ms"] / r["checkpoint_restore_ms"] for r in rows.values()
        ),
    }
    return worst | {"overhead_detail": rows}


def panel_clicks(repeat: int = 20, folder: Path | None = None) -> dict[str, float]:
    """Median milliseconds per Save, Restore and Compare click on the Keras lab's panel."""
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        panel = CheckpointPanel(CheckpointLab.keras(workdir=Path(scratch) / "lab"))
        panel.train_button.click()
        panel.save_button.click()
        first = panel.lab.checkpoints()[-1]
        panel.restore_choice.value = first

        def compare() -> None:
            panel.compare_a.value, panel.compare_b.value = first, "live"
            panel.compare_button.click()

        return {
            "save_click_ms": median_ms(panel.save_button.click, repeat),
            "restore_click_ms": median_ms(panel.restore_button.click, repeat),
            "compare_click_ms": median_ms(compare, repeat),
        }


def _tree_usage(pid: int) -> tuple[int, int, int, int, float]:
    """Of process `pid`: its RSS, the RSS and the PSS summed over it and its descendants, their number,
    their CPU seconds (PSS where psutil can read it, Linux; else the RSS sum still stands)."""
    import psutil

    def pss(process: psutil.Process) -> int:
        try:
            return getattr(process.memory_full_info(), "pss", 0)
        except psutil.Error:
            return 0  # not ours to read, or gone

    kernel = psutil.Process(pid)
    own = kernel.memory_info().rss
    times = kernel.cpu_times()
    total, pss_sum, children = own, pss(kernel), 0
    cpu = times.user + times.system + times.children_user + times.children_system
    for child in kernel.children(recursive=True):
        try:
            total += child.memory_info().rss
            pss_sum += pss(child)
            child_times = child.cpu_times()
            cpu += child_times.user + child_times.system
            children += 1
        except psutil.Error:
            pass  # the child ended between the listing and the reading
    return own, total, pss_sum, children, cpu


def notebook_costs(
    folder: Path = NOTEBOOKS, skip: tuple[str, ...] = (), only: tuple[str, ...] = ()
) -> list[dict[str, object]]:
    """Run each notebook in a fresh kernel: wall time, and the peak memory of the kernel and its children.

    Memory is sampled every 20 ms over the kernel and every process it started, two ways: the sum
    of resident set sizes (RSS), which counts TensorFlow's shared libraries once per process (an
    upper bound), and the sum of proportional set sizes (PSS, Linux), which splits shared pages
    between the processes: what the machine must hold for them, and what the budget checks. CPU
    seconds (kernel and children, last sample) tell a slow notebook from a busy machine: wall time
    grows with other load, CPU time much less.
    """
    import nbformat
    import psutil
    from nbclient import NotebookClient

    rows = []
    for path in sorted(folder.glob("*.ipynb")):
        if path.stem in skip or (only and not any(name in path.name for name in only)):
            continue
        nb = nbformat.read(path, 4)
        client = NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        )
        peak = {"kernel": 0, "tree": 0, "pss": 0, "children": 0, "cpu": 0.0}
        running = threading.Event()
        running.set()

        def sample(
            client: NotebookClient = client, peak: dict = peak, running: threading.Event = running
        ) -> None:
            while running.is_set():
                try:
                    own, total, pss, children, cpu = _tree_usage(client.km.provisioner.process.pid)
                except (AttributeError, psutil.Error):
                    pass  # the kernel is starting or gone
                else:
                    peak["kernel"], peak["tree"] = max(peak["kernel"], own), max(peak["tree"], total)
                    peak["pss"] = max(peak["pss"], pss)
                    peak["children"] = max(peak["children"], children)
                    peak["cpu"] = max(peak["cpu"], cpu)
                time.sleep(0.02)

        start = time.perf_counter()
        with client.setup_kernel():
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            running.clear()
        rows.append(
            {
                "name": path.name,
                "seconds": time.perf_counter() - start,
                "peak_rss_mb": peak["tree"] / 2**20,
                "peak_pss_mb": peak["pss"] / 2**20,
                "kernel_peak_rss_mb": peak["kernel"] / 2**20,
                "most_children": peak["children"],
                "cpu_seconds": peak["cpu"],
            }
        )
    return rows


# The suite as CI runs it: the README's command, then the re-run and browser tests, a step of their own.
SUITE_STEPS = {
    "pytest --nbval": ["--nbval"],
    "re-runs and browsers": ["-m", "rerun or browser", "--dist", "load"],
}


def suite_time(root: Path = ROOT) -> dict[str, dict[str, object]]:
    """Run each of `SUITE_STEPS` once in `root`: for each, wall time, exit code and pytest's last line."""
    results = {}
    for name, options in SUITE_STEPS.items():
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *options, "-q"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        results[name] = {
            "seconds": time.perf_counter() - start,
            "returncode": done.returncode,
            "summary": lines[-1] if lines else "",
        }
    return results


# Run by a small launcher process: a child forked from the benchmark itself (TensorFlow loaded) would
# start with the benchmark's memory counted in its peak until it execs.
_LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, code)
"""


def _process_cost(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB (ru_maxrss is in KiB on Linux) and exit code of one whole process."""
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], env=env, capture_output=True, text=True)
    wall, rss, code = out.stdout.split()
    return float(wall), float(rss), int(code)


def cli_reading(mb: int = 100, repeat: int = 3, folder: Path | None = None) -> dict[str, float]:
    """`python -m ckptkit inspect` and `diff` on an `mb` MB checkpoint beside TensorFlow reading every tensor.

    Whole processes, interpreter start-up and imports included: that is what a user waits for.
    """
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rng = np.random.default_rng(0)
    count = 25
    values = {
        f"layer{i:02d}": rng.standard_normal(mb * 2**20 // 4 // count, dtype=np.float32) for i in range(count)
    }
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        a = tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in values.items()}).write(f"{scratch}/a")
        values["layer00"][:10] += 1  # B differs from A in one value, so diff reads everything and exits 1
        b = tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in values.items()}).write(f"{scratch}/b")
        tf_read = (
            "import tensorflow as tf\n"
            f"r = tf.train.load_checkpoint({a!r})\n"
            "[r.get_tensor(k) for k in r.get_variable_to_shape_map()]"
        )
        commands = {
            "tf_read": [sys.executable, "-c", tf_read],
            "inspect": [sys.executable, "-m", "ckptkit", "inspect", a],
            "diff": [sys.executable, "-m", "ckptkit", "diff", a, b],
        }
        result: dict[str, float] = {"mb": os.path.getsize(a + ".data-00000-of-00001") / 2**20}
        for name, command in commands.items():
            runs = [_process_cost(command, env) for _ in range(repeat)]
            if any(code not in (0, 1) for _, _, code in runs):
                raise RuntimeError(f"{' '.join(command[:4])} failed with exit code {runs[0][2]}")
            result[f"{name}_s"] = statistics.median(wall for wall, _, _ in runs)
            result[f"{name}_peak_rss_mb"] = max(rss for _, rss, _ in runs)
    result["inspect_ratio"] = result["inspect_s"] / result["tf_read_s"]
    result["diff_ratio"] = result["diff_s"] / result["tf_read_s"]
    return result


def record_timings(path: Path, folder: Path = NOTEBOOKS) -> dict[str, object]:
    """Run each notebook in `folder` once; write its time and peak memory to `path` for the start page."""
    import platform

    rows = notebook_costs(folder)
    record = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            # Wall times grow with whatever else runs: the load says how busy the machine was.
            "load_average_1min": round(os.getloadavg()[0], 1),
        },
        "notebooks": [
            {
                "name": r["name"],
                "seconds": round(r["seconds"], 1),
                "cpu_seconds": round(r["cpu_seconds"], 1),
                "peak_rss_mb": round(r["kernel_peak_rss_mb"]),
                "peak_with_children_mb": round(r["peak_pss_mb"] or r["peak_rss_mb"]),
            }
            for r in rows
        ],
    }
    Path(path).write_text(json.dumps(record, indent=2) + "\n")
    return record
