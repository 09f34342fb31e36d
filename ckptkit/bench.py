"""`python -m ckptkit.bench`: ckptkit's budgets, checked and printed as tables, one section at a time."""

from __future__ import annotations

from ckptkit.browser import CHROMIUM_ARGS, HOW_TO_GET_ONE, find_chromium, free_port, wait_for_port
from ckptkit.env import import_tensorflow
from ckptkit.lab import CheckpointLab
from ckptkit.measure import (
    async_blocking,
    cost_per_step,
    filesystem_of,
    fixed_cost_ms,
    interleaved_ms,
    median_ms,
    throughput,
)
from ckptkit.panel import CheckpointPanel
from ckptkit.restore import restore_checked

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = [
    "BUDGETS",
    "NOTEBOOK_BUDGETS",
    "SECTIONS",
    "Section",
    "app_costs",
    "async_blocking",
    "cli_reading",
    "cost_per_step",
    "main",
    "notebook_costs",
    "overhead",
    "panel_clicks",
    "record_timings",
    "suite_time",
    "throughput",
]

# Notebook 09 starts two TensorFlow worker processes, twice (a crash, then the resume): its own,
# larger budget, still inside Binder's 2 GB with one kernel.
NOTEBOOK_BUDGETS = {"09_distributed.ipynb": (30.0, 1500.0)}
BUDGETS = {
    "overhead_ratio": 1.10,
    "notebook_seconds": 20.0,
    "notebook_memory_mb": 1200.0,  # the kernel plus every process it started
    "click_ms": 100.0,
    "app_first_paint_s": 10.0,
    "suite_seconds": 300.0,
    "cli_inspect_ratio": 0.2,
    "cli_inspect_rss_mb": 150.0,
    "cli_diff_ratio": 0.3,
    "cli_diff_rss_mb": 300.0,
}
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

Check = tuple[str, bool]


@dataclass(frozen=True)
class Section:
    """One part of the benchmark: what it measures, how it prints, which budgets it checks.

    `run(args, folder)` returns the section's results (JSON-ready) or None to skip it; `folder` is
    an empty scratch folder on the disk the bench runs from. `options` adds command-line flags.
    """

    key: str
    run: Callable[[argparse.Namespace, Path], object]
    table: Callable[[object], list[str]]
    budgets: Callable[[object], list[Check]] = field(default=lambda results: [])
    options: Callable[[argparse.ArgumentParser], None] = field(default=lambda parser: None)


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
            "checkpoint_restore_ms": lambda: lab.checkpoint.restore(path).expect_partial(),
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


def _pss(pid: int) -> int:
    """Proportional set size in bytes: shared pages split between the processes that share them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration, ValueError):
        return 0  # not Linux, or the process is gone: the RSS sum still stands


def _tree_usage(pid: int) -> tuple[int, int, int, int, float]:
    """Of process `pid`: its RSS, the RSS and the PSS summed over it and its descendants, their number,
    their CPU seconds."""
    import psutil

    kernel = psutil.Process(pid)
    own = kernel.memory_info().rss
    times = kernel.cpu_times()
    total, pss, children = own, _pss(pid), 0
    cpu = times.user + times.system + times.children_user + times.children_system
    for child in kernel.children(recursive=True):
        try:
            total += child.memory_info().rss
            pss += _pss(child.pid)
            child_times = child.cpu_times()
            cpu += child_times.user + child_times.system
            children += 1
        except psutil.Error:
            pass  # the child ended between the listing and the reading
    return own, total, pss, children, cpu


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


def suite_time(root: Path = ROOT) -> dict[str, object]:
    """Run the whole `pytest --nbval` suite once in `root`: wall time, exit code and pytest's last line."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    return {
        "seconds": time.perf_counter() - start,
        "returncode": done.returncode,
        "summary": lines[-1] if lines else "",
    }


def _run_overhead(args: argparse.Namespace, folder: Path) -> dict:
    return overhead(repeat=20 if args.quick else 30, folder=folder)


def _table_overhead(results: dict) -> list[str]:
    lines = ["overhead (median ms; ratio = ckptkit / bare TensorFlow doing the same job)"]
    for kind, row in results["overhead_detail"].items():
        lines.append(
            f"  {kind:6} save: lab {row['lab_save_ms']:.2f}, manager {row['manager_save_ms']:.2f}, "
            f"Checkpoint.save {row['checkpoint_save_ms']:.2f} | restore: lab {row['lab_restore_ms']:.2f}, "
            f"checked {row['restore_checked_ms']:.2f}, Checkpoint.restore {row['checkpoint_restore_ms']:.2f}"
        )
    keys = ("overhead_save_ratio", "overhead_save_vs_checkpoint_ratio")
    keys += ("overhead_restore_ratio", "restore_checked_ratio")
    return lines + [f"  {key:36} {results[key]:.3f}" for key in keys]


def _budgets_overhead(results: dict) -> list[Check]:
    limit = BUDGETS["overhead_ratio"]
    keys = ("overhead_save_ratio", "overhead_restore_ratio", "restore_checked_ratio")
    return [(f"{key} {results[key]:.3f} <= {limit}", results[key] <= limit) for key in keys]


def _run_throughput(args: argparse.Namespace, folder: Path) -> dict:
    sizes = [1, 4, 16, 64] if args.quick else [1, 4, 16, 64, 256]
    return {
        "filesystem": filesystem_of(folder),
        "fixed_ms": fixed_cost_ms(folder),
        "rows": throughput(sizes, folder),
    }


def _table_throughput(results: dict) -> list[str]:
    cold, nan = "raw_read_cold_mb_s" in results["rows"][0], float("nan")
    lines = [
        f"throughput (MB/s, on {results['filesystem']}; "
        f"a one-scalar write takes {results['fixed_ms']:.1f} ms)",
        "  write: page cache (no fsync) | disk (fsync every file); read: "
        + (
            "cold (dropped from the page cache) | hot"
            if cold
            else "hot only (this OS cannot drop a file's cache)"
        ),
        f"  {'MB':>5} {'save':>7} {'raw':>7} {'save+fsync':>11} {'raw+fsync':>10}"
        f" {'restore cold':>13} {'raw cold':>9} {'restore hot':>12} {'raw hot':>8}",
    ]
    for r in results["rows"]:
        lines.append(
            f"  {r['mb']:>5} {r['save_mb_s']:>7.0f} {r['raw_write_mb_s']:>7.0f}"
            f" {r['save_fsync_mb_s']:>11.0f} {r['raw_write_fsync_mb_s']:>10.0f}"
            f" {r.get('restore_cold_mb_s', nan):>13.0f} {r.get('raw_read_cold_mb_s', nan):>9.0f}"
            f" {r['restore_hot_mb_s']:>12.0f} {r['raw_read_hot_mb_s']:>8.0f}"
        )
    return lines


def _run_async(args: argparse.Namespace, folder: Path) -> dict:
    return async_blocking(folder)


def _table_async(results: dict) -> list[str]:
    return [
        f"async saving, {results['mb']} MB, CPU-bound training: a save blocks the loop "
        f"{results['async_block_ms']:.1f} ms async vs {results['sync_block_ms']:.1f} ms sync "
        f"(async_block_ratio {results['async_block_ratio']:.3f}); the step after it takes "
        f"{results['async_next_step_ms']:.1f} vs {results['sync_next_step_ms']:.1f} ms; "
        f"the last async checkpoint holds the values at its save: {results['async_holds_save_time_values']}"
    ]


def _budgets_async(results: dict) -> list[Check]:
    held = results["async_holds_save_time_values"] and results["async_live_values_changed"]
    return [("the async checkpoint holds the values at its save", held)]


def _run_cost(args: argparse.Namespace, folder: Path) -> dict:
    return cost_per_step([1, 5, 20, 40], folder)


def _table_cost(results: dict) -> list[str]:
    lines = [
        f"cost per training step (a step alone {results['step_ms']:.2f} ms, "
        f"a save {results['save_ms']:.1f} ms)"
    ]
    lines += [
        f"  save every {r['interval']:>3} steps: {r['ms_per_step']:7.2f} ms per step"
        f" (step + save / interval = {r['predicted_ms_per_step']:.2f})"
        for r in results["rows"]
    ]
    return lines


def _run_clicks(args: argparse.Namespace, folder: Path) -> dict:
    return panel_clicks(folder=folder)


def _table_clicks(results: dict) -> list[str]:
    clicks = ", ".join(f"{k.removesuffix('_click_ms')} {v:.1f}" for k, v in results.items())
    return ["panel clicks, training excluded (median ms): " + clicks]


def _budgets_clicks(results: dict) -> list[Check]:
    limit = BUDGETS["click_ms"]
    return [(f"{name} {ms:.1f} <= {limit}", ms <= limit) for name, ms in results.items()]


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


def _run_cli(args: argparse.Namespace, folder: Path) -> dict:
    return cli_reading(folder=folder)


def _table_cli(r: dict) -> list[str]:
    lines = [f"reading a {r['mb']:.0f} MB checkpoint, whole process (median s; peak MB)"]
    return lines + [
        f"  {label:42} {r[key + '_s']:6.2f} s {r[key + '_peak_rss_mb']:7.0f} MB"
        + (f"   ratio {r[key + '_ratio']:.3f}" if key != "tf_read" else "")
        for key, label in (
            ("tf_read", "TensorFlow: load_checkpoint + every tensor"),
            ("inspect", "python -m ckptkit inspect"),
            ("diff", "python -m ckptkit diff (two checkpoints)"),
        )
    ]


def _budgets_cli(r: dict) -> list[Check]:
    checks = []
    for key in ("inspect", "diff"):
        ratio, rss = BUDGETS[f"cli_{key}_ratio"], BUDGETS[f"cli_{key}_rss_mb"]
        checks.append(
            (f"cli {key} {r[key + '_ratio']:.3f} x TensorFlow <= {ratio}", r[key + "_ratio"] <= ratio)
        )
        checks.append(
            (f"cli {key} {r[key + '_peak_rss_mb']:.0f} MB <= {rss:.0f}", r[key + "_peak_rss_mb"] <= rss)
        )
    return checks


def _options_notebooks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-notebooks", action="store_true", help="skip running the notebooks")
    parser.add_argument(
        "--notebook",
        action="append",
        default=[],
        metavar="NAME",
        help="run only notebooks whose name holds NAME",
    )


def _run_notebooks(args: argparse.Namespace, folder: Path) -> list | None:
    return None if args.no_notebooks else notebook_costs(only=tuple(args.notebook))


def _table_notebooks(rows: list) -> list[str]:
    lines = ["notebooks (fresh kernel; memory: peak PSS, and RSS, summed over the kernel and its children)"]
    return lines + [
        f"  {n['name']:40} {n['seconds']:6.1f} s ({n['cpu_seconds']:5.1f} s CPU)"
        f" {n['peak_pss_mb']:6.0f} MB PSS {n['peak_rss_mb']:6.0f} MB RSS"
        f" (kernel alone {n['kernel_peak_rss_mb']:.0f} MB RSS,"
        f" up to {n['most_children']} children)"
        for n in rows
    ]


def _budgets_notebooks(rows: list) -> list[Check]:
    checks = []
    for n in rows:
        seconds, memory = NOTEBOOK_BUDGETS.get(
            n["name"], (BUDGETS["notebook_seconds"], BUDGETS["notebook_memory_mb"])
        )
        checks.append((f"{n['name']} {n['seconds']:.1f} s <= {seconds}", n["seconds"] <= seconds))
        # PSS where the system reports it (Linux); the RSS sum, an upper bound, elsewhere.
        used = n["peak_pss_mb"] or n["peak_rss_mb"]
        checks.append((f"{n['name']} {used:.0f} MB <= {memory:.0f}", used <= memory))
    return checks


def _options_suite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", action="store_true", help="also time the whole `pytest --nbval` suite")


def _run_suite(args: argparse.Namespace, folder: Path) -> dict | None:
    return suite_time() if args.suite else None


def _table_suite(results: dict) -> list[str]:
    return [
        f"pytest --nbval: {results['seconds']:.0f} s, "
        f"exit code {results['returncode']} ({results['summary']})"
    ]


def _budgets_suite(results: dict) -> list[Check]:
    limit = BUDGETS["suite_seconds"]
    return [
        (f"pytest --nbval {results['seconds']:.0f} s <= {limit:.0f}", results["seconds"] <= limit),
        ("pytest --nbval passes", results["returncode"] == 0),
    ]


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


# Runs in the page: click a button, resolve with the milliseconds until the panel's table or status
# line shows the answer (the kernel's round trip included).
_CLICK_JS = """label => new Promise(resolve => {
    const html = [...document.querySelectorAll('.ckptkit-table, .ckptkit-status')];
    const button = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === label);
    let start;
    const seen = new MutationObserver(() => { seen.disconnect(); resolve(performance.now() - start); });
    html.forEach(node => seen.observe(node, {subtree: true, childList: true, characterData: true}));
    start = performance.now();
    button.click();
})"""


def app_costs(chromium: str | None = None, rounds: int = 3) -> dict[str, float]:
    """The Voila app in Chromium: first paint (TensorFlow import included), clicks, the kernel's memory.

    The browser is the `chromium` path, else what the browser tests use: `CKPTKIT_CHROMIUM`,
    `chromium`/`chromium-browser` on PATH, or Playwright's own. Train runs one step, so its time is
    nearly all click.
    """
    import subprocess

    import psutil
    from playwright.sync_api import expect, sync_playwright

    if chromium is None:
        chromium, why = find_chromium()
        if chromium is None:
            raise RuntimeError(f"{why}: {HOW_TO_GET_ONE}")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            "notebooks/app.ipynb",
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--port={port}",
        ],
        cwd=NOTEBOOKS.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, lambda: server.poll() is None)  # a TCP connect: a GET starts a kernel
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 1100})
            status = page.locator(".ckptkit-status")
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
            expect(status).to_have_text("ready: train, then save", timeout=120_000)
            first_paint = time.perf_counter() - start
            page.locator(".widget-slider").first.focus()  # steps slider to its minimum, 1
            page.locator(".ui-slider-handle, .noUi-handle").first.press("Home")
            expect(page.locator(".widget-readout").first).to_have_text("1")
            clicks: dict[str, list[float]] = {name: [] for name in ("Train", "Save", "Restore", "Compare")}
            for _ in range(rounds):
                for name in clicks:
                    clicks[name].append(page.evaluate(_CLICK_JS, name))
                    page.wait_for_timeout(300)  # let the rest of the answer (dropdowns, plot) arrive
            expect(status).not_to_contain_text("⚠")
            kernels = [
                c
                for c in psutil.Process(server.pid).children(recursive=True)
                if "ipykernel" in " ".join(c.cmdline())
            ]
            rss = sum(k.memory_info().rss for k in kernels)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "app_first_paint_s": first_paint,
        **{f"app_{name.lower()}_click_ms": statistics.median(ms) for name, ms in clicks.items()},
        "app_kernel_rss_mb": rss / 2**20,
        "app_kernels": len(kernels),
        "load_average_1min": os.getloadavg()[0],  # first paint grows with whatever else runs
    }


def _options_app(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app", action="store_true", help="also measure the Voila app in Chromium")


def _run_app(args: argparse.Namespace, folder: Path) -> dict | None:
    return app_costs() if args.app else None


def _table_app(a: dict) -> list[str]:
    return [
        f"app (Voila, Chromium): first paint {a['app_first_paint_s']:.1f} s; clicks (median ms) "
        + ", ".join(f"{n} {a[f'app_{n}_click_ms']:.1f}" for n in ("train", "save", "restore", "compare"))
        + f"; kernel {a['app_kernel_rss_mb']:.0f} MB (load average {a['load_average_1min']:.1f})"
    ]


def _budgets_app(app: dict) -> list[Check]:
    limit = BUDGETS["app_first_paint_s"]
    checks = [
        (f"app first paint {app['app_first_paint_s']:.1f} s <= {limit}", app["app_first_paint_s"] <= limit)
    ]
    for name in ("save", "restore", "compare"):  # Train is mostly training
        ms = app[f"app_{name}_click_ms"]
        checks.append((f"app {name} click {ms:.1f} ms <= {BUDGETS['click_ms']}", ms <= BUDGETS["click_ms"]))
    return checks


# In order of the printed report. Add a benchmark by appending a Section: main() runs, prints and
# budgets every section the same way.
SECTIONS: list[Section] = [
    Section("overhead", _run_overhead, _table_overhead, _budgets_overhead),
    Section("throughput", _run_throughput, _table_throughput),
    Section("async", _run_async, _table_async, _budgets_async),
    Section("cost_per_step", _run_cost, _table_cost),
    Section("panel_clicks", _run_clicks, _table_clicks, _budgets_clicks),
    Section("cli_reading", _run_cli, _table_cli, _budgets_cli),
    Section("notebooks", _run_notebooks, _table_notebooks, _budgets_notebooks, _options_notebooks),
    Section("suite", _run_suite, _table_suite, _budgets_suite, _options_suite),
    Section("app", _run_app, _table_app, _budgets_app, _options_app),
]


def main(argv: list[str] | None = None) -> int:
    """Run every section, print its table (and JSON if asked); exit 1 when a budget is exceeded."""
    parser = argparse.ArgumentParser(prog="python -m ckptkit.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="checkpoints up to 64 MB instead of 256 MB")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        default=".",
        help="where the scratch folder goes (default: here; measure the disk you care about, not a tmpfs)",
    )
    parser.add_argument(
        "--timings", metavar="FILE", help="only run every notebook and write its time and memory to FILE"
    )
    for section in SECTIONS:
        section.options(parser)
    args = parser.parse_args(argv)
    if args.timings:  # the start page's table: nothing else runs
        record = record_timings(Path(args.timings))
        for n in record["notebooks"]:
            print(
                f"{n['name']:40} {n['seconds']:6.1f} s {n['cpu_seconds']:6.1f} CPU s "
                f"{n['peak_rss_mb']:5d} MB ({n['peak_with_children_mb']} MB with children)"
            )
        return 0
    results: dict = {}
    checks: list[Check] = []
    print("ckptkit benchmark", flush=True)
    with tempfile.TemporaryDirectory(prefix="ckptkit-bench-", dir=args.workdir) as scratch:
        for section in SECTIONS:
            folder = Path(scratch) / section.key
            folder.mkdir()
            outcome = section.run(args, folder)
            if outcome is None:
                continue
            results[section.key] = outcome
            print("", *section.table(outcome), sep="\n", flush=True)  # each section as soon as it is done
            checks += section.budgets(outcome)
    results["budgets"] = checks
    print("", "budgets:", *[f"  {'ok  ' if ok else 'OVER'} {what}" for what, ok in checks], sep="\n")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
