"""`python -m ckptkit.bench`: overhead, checkpoint throughput, async saving, notebook time and memory."""

from __future__ import annotations

from ckptkit.env import import_tensorflow
from ckptkit.lab import CheckpointLab
from ckptkit.panel import CheckpointPanel
from ckptkit.restore import restore_checked

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

tf = import_tensorflow()

__all__ = [
    "BUDGETS",
    "app_costs",
    "async_blocking",
    "cost_per_step",
    "main",
    "notebook_costs",
    "overhead",
    "panel_clicks",
    "record_timings",
    "throughput",
]

BUDGETS = {
    "overhead_ratio": 1.10,
    "notebook_seconds": 30.0,
    "notebook_peak_rss_mb": 1024.0,
    "click_ms": 100.0,
    "app_first_paint_s": 10.0,
}
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm-up: first calls trace functions and open files
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _overhead_of(kind: str, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as lab_dir, tempfile.TemporaryDirectory() as bare_dir:
        lab = getattr(CheckpointLab, kind)(workdir=Path(lab_dir) / "lab")
        lab.train(5)
        bare = tf.train.CheckpointManager(lab.checkpoint, bare_dir, max_to_keep=None)
        path = lab.save()
        return {
            "lab_save_ms": _median_ms(lab.save, repeat),
            "manager_save_ms": _median_ms(bare.save, repeat),
            "checkpoint_save_ms": _median_ms(lambda: lab.checkpoint.save(f"{bare_dir}/c"), repeat),
            "lab_restore_ms": _median_ms(lambda: lab.restore(path), repeat),
            "restore_checked_ms": _median_ms(lambda: restore_checked(lab.checkpoint, path), repeat),
            "checkpoint_restore_ms": _median_ms(
                lambda: lab.checkpoint.restore(path).expect_partial(), repeat
            ),
        }


def overhead(repeat: int = 25) -> dict[str, float]:
    """Medians of ckptkit's save and restore against the bare TensorFlow calls, on both teaching models."""
    rows = {kind: _overhead_of(kind, repeat) for kind in ("linear", "keras")}
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


def _raw_write(path: str, data: bytes | np.ndarray) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def throughput(sizes_mb: list[int], repeat: int = 3) -> list[dict[str, float]]:
    """Save and restore speed of one float32 variable per size, as fractions of raw fsync'd write and read."""
    with tempfile.TemporaryDirectory() as folder:
        return [_throughput_of(mb, folder, repeat) for mb in sizes_mb]


def _throughput_of(mb: int, folder: str, repeat: int) -> dict[str, float]:
    values = np.random.default_rng(mb).random(mb * 2**18, dtype=np.float32)  # mb MiB of float32
    prefix, raw = f"{folder}/ckpt-{mb}", f"{folder}/raw-{mb}"
    write = _median_ms(functools.partial(_raw_write, raw, values), repeat)  # from the array: no copy
    read = _median_ms(lambda: Path(raw).read_bytes(), repeat)
    ckpt = tf.train.Checkpoint(v=tf.Variable(values))
    del values  # one copy at a time keeps a 64 MB run well inside a 1 GB kernel
    save = _median_ms(lambda: ckpt.write(prefix), repeat)
    restore = _median_ms(lambda: ckpt.read(prefix).assert_consumed(), repeat)
    return {
        "mb": mb,
        "save_mb_s": mb / save * 1000,
        "restore_mb_s": mb / restore * 1000,
        "raw_write_mb_s": mb / write * 1000,
        "raw_read_mb_s": mb / read * 1000,
        "save_fraction": write / save,
        "restore_fraction": read / restore,
    }


def async_blocking(mb: int = 64, saves: int = 8, training_s: float = 0.2) -> dict[str, float]:
    """How long a training loop is blocked per save: sync against `CheckpointOptions(enable_async=True)`."""
    var = tf.Variable(np.random.default_rng(0).random(mb * 2**18, dtype=np.float32))
    ckpt = tf.train.Checkpoint(v=var)
    blocked = {}
    with tempfile.TemporaryDirectory() as folder:
        for mode, options in (("sync", None), ("async", tf.train.CheckpointOptions(enable_async=True))):
            ckpt.save(f"{folder}/{mode}", options=options)  # warm-up
            times = []
            for _ in range(saves):
                # Training happens between saves; without it, a save would wait for the previous
                # background write, and that is not what a training loop sees.
                time.sleep(training_s)
                start = time.perf_counter()
                ckpt.save(f"{folder}/{mode}", options=options)
                times.append(time.perf_counter() - start)
                var.assign_add(tf.ones_like(var))  # the next training step, which must not corrupt the save
            ckpt.sync()  # wait for the background writes before the folder goes away
            blocked[mode] = 1000 * statistics.median(times)
    return {
        "sync_block_ms": blocked["sync"],
        "async_block_ms": blocked["async"],
        "async_block_ratio": blocked["async"] / blocked["sync"],
    }


def cost_per_step(intervals: list[int], steps: int = 60) -> list[dict[str, float]]:
    """Milliseconds per training step of the Keras lab when it saves every `interval` steps."""
    rows = []
    for interval in intervals:
        with tempfile.TemporaryDirectory() as folder:
            lab = CheckpointLab.keras(workdir=Path(folder) / "lab")
            lab.train(1)  # warm-up
            start = time.perf_counter()
            for done in range(1, steps + 1):
                lab.train(1)
                if done % interval == 0:
                    lab.save()
            rows.append({"interval": interval, "ms_per_step": 1000 * (time.perf_counter() - start) / steps})
    return rows


def panel_clicks(repeat: int = 20) -> dict[str, float]:
    """Median milliseconds per Save, Restore and Compare click on the Keras lab's panel."""
    with tempfile.TemporaryDirectory() as folder:
        panel = CheckpointPanel(CheckpointLab.keras(workdir=Path(folder) / "lab"))
        panel.train_button.click()
        panel.save_button.click()
        first = panel.lab.checkpoints()[-1]
        panel.restore_choice.value = first

        def compare() -> None:
            panel.compare_a.value, panel.compare_b.value = first, "live"
            panel.compare_button.click()

        return {
            "save_click_ms": _median_ms(panel.save_button.click, repeat),
            "restore_click_ms": _median_ms(panel.restore_button.click, repeat),
            "compare_click_ms": _median_ms(compare, repeat),
        }


def notebook_costs(folder: Path = NOTEBOOKS, skip: tuple[str, ...] = ()) -> list[dict[str, object]]:
    """Run each notebook in a fresh kernel: wall time and the kernel's peak resident memory."""
    import nbformat
    import psutil
    from nbclient import NotebookClient

    rows = []
    for path in sorted(folder.glob("*.ipynb")):
        if path.stem in skip:
            continue
        nb = nbformat.read(path, 4)
        client = NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        )
        peak, running = [0, 0], [True]  # the kernel's peak, and with its children

        def sample(client: NotebookClient = client, peak: list = peak, running: list = running) -> None:
            while running[0]:
                try:
                    process = psutil.Process(client.km.provisioner.process.pid)
                    rss = process.memory_info().rss
                    peak[0] = max(peak[0], rss)
                    # Kernel plus the TensorFlow processes a notebook starts (04, 06): what Binder must hold.
                    for child in process.children(recursive=True):
                        rss += child.memory_info().rss
                    peak[1] = max(peak[1], rss)
                except (AttributeError, psutil.Error):
                    pass  # the kernel (or a child) is starting or gone
                time.sleep(0.02)

        start = time.perf_counter()
        with client.setup_kernel():
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            running[0] = False
            # CPU time barely depends on what else the machine runs, unlike wall time.
            used = psutil.Process(client.km.provisioner.process.pid).cpu_times()
        rows.append(
            {
                "name": path.name,
                "seconds": time.perf_counter() - start,
                "cpu_seconds": used.user + used.system + used.children_user + used.children_system,
                "peak_rss_mb": peak[0] / 2**20,
                "peak_with_children_mb": peak[1] / 2**20,
            }
        )
    return rows


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
                "peak_rss_mb": round(r["peak_rss_mb"]),
                "peak_with_children_mb": round(r["peak_with_children_mb"]),
            }
            for r in rows
        ],
    }
    Path(path).write_text(json.dumps(record, indent=2) + "\n")
    return record


# Runs in the page: click a button, resolve with the milliseconds until the panel's table or status
# line shows the answer (the kernel's round trip included).
_CLICK_JS = """label => new Promise(resolve => {
    const html = [...document.querySelectorAll('.widget-html')].slice(-2);
    const button = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === label);
    let start;
    const seen = new MutationObserver(() => { seen.disconnect(); resolve(performance.now() - start); });
    html.forEach(node => seen.observe(node, {subtree: true, childList: true, characterData: true}));
    start = performance.now();
    button.click();
})"""


def app_costs(chromium: str | None = None, rounds: int = 3) -> dict[str, float]:
    """The Voila app in Chromium: first paint (TensorFlow import included), clicks, the kernel's memory.

    The browser is the `chromium` path, else `CKPTKIT_CHROMIUM`, `chromium`/`chromium-browser` on PATH,
    or Playwright's own. Train runs one step, so its time is nearly all click.
    """
    import shutil
    import socket
    import subprocess

    import psutil
    from playwright.sync_api import expect, sync_playwright

    root = NOTEBOOKS.parent
    chromium = chromium or os.environ.get("CKPTKIT_CHROMIUM") or shutil.which("chromium")
    chromium = chromium or shutil.which("chromium-browser")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:  # a TCP connect: a GET starts a kernel
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1100, "height": 1100})
            status = page.locator(".widget-html").last
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


def _app_budgets(app: dict | None) -> list[tuple[str, bool]]:
    if not app:
        return []
    limit = BUDGETS["app_first_paint_s"]
    checks = [
        (f"app first paint {app['app_first_paint_s']:.1f} s <= {limit}", app["app_first_paint_s"] <= limit)
    ]
    for name in ("save", "restore", "compare"):  # Train is mostly training
        ms = app[f"app_{name}_click_ms"]
        checks.append((f"app {name} click {ms:.1f} ms <= {BUDGETS['click_ms']}", ms <= BUDGETS["click_ms"]))
    return checks


def _table(results: dict) -> str:
    lines = ["ckptkit benchmark", ""]
    lines.append("overhead (median ms; ratio = ckptkit / bare TensorFlow doing the same job)")
    for kind, row in results["overhead_detail"].items():
        lines.append(
            f"  {kind:6} save: lab {row['lab_save_ms']:.2f}, manager {row['manager_save_ms']:.2f}, "
            f"Checkpoint.save {row['checkpoint_save_ms']:.2f} | restore: lab {row['lab_restore_ms']:.2f}, "
            f"checked {row['restore_checked_ms']:.2f}, Checkpoint.restore {row['checkpoint_restore_ms']:.2f}"
        )
    for key in (
        "overhead_save_ratio",
        "overhead_save_vs_checkpoint_ratio",
        "overhead_restore_ratio",
        "restore_checked_ratio",
    ):
        lines.append(f"  {key:36} {results[key]:.3f}")
    lines += ["", "throughput (MB/s; fraction of a raw fsync'd write / a raw read of the same bytes)"]
    lines.append(
        f"  {'MB':>5} {'save':>9} {'raw write':>10} {'fraction':>9}"
        f" {'restore':>9} {'raw read':>9} {'fraction':>9}"
    )
    for r in results["throughput"]:
        lines.append(
            f"  {r['mb']:>5} {r['save_mb_s']:>9.0f} {r['raw_write_mb_s']:>10.0f} {r['save_fraction']:>9.2f}"
            f" {r['restore_mb_s']:>9.0f} {r['raw_read_mb_s']:>9.0f} {r['restore_fraction']:>9.2f}"
        )
    a = results["async"]
    lines += [
        "",
        f"async saving: blocks {a['async_block_ms']:.1f} ms vs sync {a['sync_block_ms']:.1f} ms "
        f"(async_block_ratio {results['async_block_ratio']:.3f})",
    ]
    c = results["panel_clicks"]
    lines += [
        "",
        "panel clicks (median ms): "
        + ", ".join(f"{k.removesuffix('_click_ms')} {v:.1f}" for k, v in c.items()),
    ]
    if results.get("notebooks"):
        lines += ["", "notebooks (fresh kernel):"]
        lines += [
            f"  {n['name']:40} {n['seconds']:6.1f} s {n['peak_rss_mb']:7.0f} MB" for n in results["notebooks"]
        ]
    if results.get("app"):
        a = results["app"]
        lines += [
            "",
            f"app (Voila, Chromium): first paint {a['app_first_paint_s']:.1f} s; clicks (median ms) "
            + ", ".join(f"{n} {a[f'app_{n}_click_ms']:.1f}" for n in ("train", "save", "restore", "compare"))
            + f"; kernel {a['app_kernel_rss_mb']:.0f} MB (load average {a['load_average_1min']:.1f})",
        ]
    lines += ["", "budgets:"] + [f"  {'ok  ' if ok else 'OVER'} {what}" for what, ok in results["budgets"]]
    return "\n".join(lines)


def _budgets(results: dict) -> list[tuple[str, bool]]:
    limit = BUDGETS["overhead_ratio"]
    checks = [
        (f"{key} {results[key]:.3f} <= {limit}", results[key] <= limit)
        for key in ("overhead_save_ratio", "overhead_restore_ratio", "restore_checked_ratio")
    ]
    for name, ms in results["panel_clicks"].items():
        checks.append((f"{name} {ms:.1f} <= {BUDGETS['click_ms']}", ms <= BUDGETS["click_ms"]))
    for n in results.get("notebooks", []):
        checks.append(
            (
                f"{n['name']} {n['seconds']:.1f} s <= {BUDGETS['notebook_seconds']}",
                n["seconds"] <= BUDGETS["notebook_seconds"],
            )
        )
        checks.append(
            (
                f"{n['name']} {n['peak_rss_mb']:.0f} MB <= {BUDGETS['notebook_peak_rss_mb']:.0f}",
                n["peak_rss_mb"] <= BUDGETS["notebook_peak_rss_mb"],
            )
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table (and JSON if asked); exit 1 when a budget is exceeded."""
    parser = argparse.ArgumentParser(prog="python -m ckptkit.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="sizes up to 64 MB instead of 256 MB")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--no-notebooks", action="store_true", help="skip running the notebooks")
    parser.add_argument("--app", action="store_true", help="also measure the Voila app in Chromium")
    parser.add_argument(
        "--timings", metavar="FILE", help="only run every notebook and write its time and memory to FILE"
    )
    args = parser.parse_args(argv)
    if args.timings:
        record = record_timings(Path(args.timings))
        for n in record["notebooks"]:
            print(
                f"{n['name']:40} {n['seconds']:6.1f} s {n['cpu_seconds']:6.1f} CPU s "
                f"{n['peak_rss_mb']:5d} MB ({n['peak_with_children_mb']} MB with children)"
            )
        return 0
    sizes = [1, 4, 16, 64] if args.quick else [1, 4, 16, 64, 256]
    results: dict = overhead(repeat=20 if args.quick else 30)
    results["throughput"] = throughput(sizes)
    results["async"] = async_blocking(64)
    results["async_block_ratio"] = results["async"]["async_block_ratio"]
    results["panel_clicks"] = panel_clicks()
    results["notebooks"] = [] if args.no_notebooks else notebook_costs()
    results["app"] = app_costs() if args.app else None
    results["budgets"] = _budgets(results) + _app_budgets(results["app"])
    print(_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(ok for _, ok in results["budgets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
