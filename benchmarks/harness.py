"""`python -m benchmarks`: ckptkit's budgets, checked and printed as tables, one section at a time."""

from __future__ import annotations

from ckptkit.lessons.performance import (
    async_blocking,
    cost_per_step,
    filesystem_of,
    throughput,
)

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.costs import (
    app_costs,
    cli_reading,
    fixed_cost_ms,
    notebook_costs,
    overhead,
    panel_clicks,
    record_timings,
    suite_time,
)

__all__ = ["BUDGETS", "NOTEBOOK_BUDGETS", "SECTIONS", "Section", "main"]

# Notebook 09 starts two TensorFlow worker processes, twice (a crash, then the resume): its own,
# larger budget, still inside Binder's 2 GB with one kernel.
NOTEBOOK_BUDGETS = {"09_distributed.ipynb": (30.0, 1500.0)}


BUDGETS = {
    "overhead_ratio": 1.10,
    "notebook_seconds": 20.0,
    "notebook_memory_mb": 1200.0,  # the kernel plus every process it started
    "click_ms": 100.0,
    "app_first_paint_s": 10.0,
    "suite_seconds": 300.0,  # `pytest --nbval`, the README's command
    "cli_inspect_ratio": 0.2,
    "cli_inspect_rss_mb": 150.0,
    "cli_diff_ratio": 0.3,
    "cli_diff_rss_mb": 300.0,
}


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


def _run_overhead(args: argparse.Namespace, folder: Path) -> dict:
    return overhead(repeat=20 if args.quick else 30, folder=folder)


def _table_overhead(results: dict) -> list[str]:
    lines = ["overhead (median ms; ratio = ckptkit / bare TensorFlow doing the same job)"]
    for kind, row in results["overhead_detail"].items():
        lines.append(
            f"  {kind:6} save: lab {row['lab_save_ms']:.2f}, manager {row['manager_save_ms']:.2f}, "
            f"Checkpoint.save {row['checkpoint_save_ms']:.2f} | restore: lab {row['lab_restore_ms']:.2f}, "
            f"checked {row['restore_checked_ms']:.2f}, "
            f"Checkpoint.restore+assert_consumed {row['checkpoint_restore_ms']:.2f}"
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
    parser.add_argument(
        "--suite",
        action="store_true",
        help="also time `pytest --nbval`, then the slow checks, as CI runs them",
    )


def _run_suite(args: argparse.Namespace, folder: Path) -> dict | None:
    return suite_time() if args.suite else None


def _table_suite(results: dict) -> list[str]:
    return [
        f"{name}: {r['seconds']:.0f} s, exit code {r['returncode']} ({r['summary']})"
        for name, r in results.items()
    ]


def _budgets_suite(results: dict) -> list[Check]:
    # The budget is the README's command's; the slow checks CI runs apart have none, but must pass.
    limit, seconds = BUDGETS["suite_seconds"], results["pytest --nbval"]["seconds"]
    checks = [(f"pytest --nbval {seconds:.0f} s <= {limit:.0f}", seconds <= limit)]
    return checks + [(f"{name} passes", r["returncode"] == 0) for name, r in results.items()]


def _options_app(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--app",
        action="store_true",
        help="also measure the Voila app in Chromium: 1 and 4 visitors, TensorFlow on 1 thread or all cores",
    )


# (visitors, TensorFlow threads per kernel; 0: TensorFlow's default, every core)
APP_RUNS = ((1, 1), (4, 1), (1, 0), (4, 0))


def _run_app(args: argparse.Namespace, folder: Path) -> dict | None:
    if not args.app:
        return None
    return {"runs": [app_costs(visitors=visitors, threads=threads) for visitors, threads in APP_RUNS]}


def _table_app(results: dict) -> list[str]:
    lines = ["app (Voila, Chromium): first paint s (median/max); clicks ms (median/max); kernels' memory"]
    for a in results["runs"]:
        threads = f"{a['app_threads']} thread" if a["app_threads"] else "all cores"
        clicks = ", ".join(
            f"{n} {a[f'app_{n}_click_ms']:.0f}/{a[f'app_{n}_click_max_ms']:.0f}"
            for n in ("train", "save", "restore", "compare")
        )
        lines.append(
            f"  {a['app_visitors']} visitor(s), {threads:>9}: paint {a['app_first_paint_s']:.1f}/"
            f"{a['app_first_paint_max_s']:.1f}; {clicks}; {a['app_kernels']} kernel(s) "
            f"{a['app_kernels_pss_mb']:.0f} MB PSS ({a['app_kernels_rss_mb']:.0f} MB RSS); "
            f"load {a['load_average_1min']:.1f}"
        )
    return lines


def _budgets_app(results: dict) -> list[Check]:
    """The budgets, with the app's thread limit (its default): one visitor, and four clicking at once.

    Four pages on a 2-core machine share its cores: each import and each click may wait for
    another, so four visitors get twice the budget.
    """
    checks = []
    for app in (a for a in results["runs"] if a["app_threads"] == 1):
        who = f"app, {app['app_visitors']} visitor(s):"
        shared = 2 if app["app_visitors"] > 1 else 1
        limit, paint = BUDGETS["app_first_paint_s"] * shared, app["app_first_paint_max_s"]
        checks.append((f"{who} first paint {paint:.1f} s <= {limit:g}", paint <= limit))
        for name in ("save", "restore", "compare"):  # Train is mostly training
            ms, limit = app[f"app_{name}_click_ms"], BUDGETS["click_ms"] * shared
            checks.append((f"{who} {name} click {ms:.1f} ms <= {limit:g}", ms <= limit))
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
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
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
