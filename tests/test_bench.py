from ckptkit.lessons import performance as measure

import json
import os

import nbformat
import numpy as np
import pytest

from benchmarks import costs
from benchmarks import harness as bench


def test_measurements_have_the_documented_keys(tmp_path):
    ratios = bench.overhead(repeat=3)
    for key in ("overhead_save_ratio", "overhead_restore_ratio", "restore_checked_ratio"):
        assert ratios[key] > 0
    (row,) = bench.throughput([1], tmp_path, repeat=1)
    assert row["mb"] == 1 and row["save_mb_s"] > 0 and row["raw_write_fsync_mb_s"] > 0
    assert row["save"].median == row["save_mb_s"]  # the median of a spread
    assert ("restore_cold_mb_s" in row) == measure.can_drop_cache()
    assert row["cold_resident"] is None or 0.0 <= row["cold_resident"] <= 1.0
    assert list(tmp_path.iterdir()) == []  # the measurement removes its files
    assert [r["interval"] for r in bench.cost_per_step([1, 5], tmp_path, steps=5, repeat=1)["rows"]] == [1, 5]
    assert set(bench.panel_clicks(repeat=2)) == {"save_click_ms", "restore_click_ms", "compare_click_ms"}


def test_async_checkpoint_is_checked_against_the_values_at_its_save(tmp_path):
    result = measure.async_blocking(tmp_path, mb=1, steps=2, every=1, repeat=2)
    assert result["async_holds_save_time_values"] and result["async_live_values_changed"]
    assert result["sync_holds_save_time_values"] and result["sync_live_values_changed"]
    assert result["async_block_ratio"] == result["async_block_ms"] / result["sync_block_ms"]
    for key in ("after_save", "plain_step"):  # every step is timed: the one after a save, and the others
        spread = result[f"async_{key}"]
        assert 0 < spread.low <= spread.median <= spread.high
    assert result["async_next_step_ms"] == result["async_after_save"].median
    # the whole loop is timed, the final wait for the background write included: never shorter
    # than the saves it blocked on
    for mode in ("sync", "async"):
        loop, block = result[f"{mode}_loop"], result[f"{mode}_block"]
        assert loop.low <= loop.median <= loop.high and loop.low > 2 * block.low
    # each kind keeps one checkpoint: the timings do not fill the disk
    assert sorted(p.name for p in (tmp_path / "async").iterdir()) == [
        "checkpoint",
        f"{result['async_checkpoint']}.data-00000-of-00001",
        f"{result['async_checkpoint']}.index",
    ]


def test_drop_from_cache_keeps_the_bytes(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1000)
    assert measure.drop_from_cache(str(path)) == hasattr(os, "posix_fadvise")
    assert path.read_bytes() == b"abc" * 1000


def test_resident_fraction_sees_a_dropped_file_leave_the_page_cache(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(os.urandom(64 * 4096))
    path.read_bytes()
    assert measure.resident_fraction(str(path)) == 1.0  # just written and read: all in memory
    measure.drop_from_cache(str(path))
    after = measure.resident_fraction(str(path))
    if measure.filesystem_of(tmp_path) != "tmpfs":  # a tmpfs file lives in the page cache
        assert after == 0.0
    (tmp_path / "empty").touch()
    assert measure.resident_fraction(str(tmp_path / "empty")) is None  # nothing to map


def test_spread_separates_only_ranges_that_do_not_overlap():
    low, high, wide = measure.Spread.of([1, 2, 3]), measure.Spread.of([4, 5, 9]), measure.Spread.of([2, 6])
    assert np.allclose(low, (2, 1.2, 2.8))  # median, 10th and 90th percentiles
    assert low.separate(high) and high.separate(low)
    assert not low.separate(wide) and not wide.separate(high)
    assert f"{high:.1f}" == "5.0 [4.2-8.2]"
    # one stray run among eleven does not widen the range: the two still separate
    assert measure.Spread.of([1.0] * 10 + [50.0]).separate(measure.Spread.of([2.0] * 11))


def test_verdict_names_a_winner_only_where_ranges_separate():
    fast, slow = measure.Spread.of([1, 1.1, 1.2]), measure.Spread.of([3, 3.3, 3.6])
    assert measure.verdict(fast, slow, ("a", "b"), False) == "a beats b by 3.00x (ranges separate)"
    assert measure.verdict(fast, slow, ("a", "b"), True).startswith("b beats a by 3.00x")
    assert "not told apart" in measure.verdict(fast, measure.Spread.of([1.0, 1.1, 5.0]), ("a", "b"), True)


def test_cost_per_step_predicts_a_range_from_the_steps_and_saves_it_timed(tmp_path):
    cost = measure.cost_per_step([1, 4], tmp_path, steps=4, repeat=2)
    step, save = cost["step"], cost["save"]
    assert (cost["step_ms"], cost["save_ms"]) == (step.median, save.median)
    for row in cost["rows"]:
        n, predicted = row["interval"], row["predicted"]
        # Every drawn loop lies between the fastest and the slowest step and save it was drawn from.
        assert step.low * 0.5 + save.low / n * 0.5 <= predicted.median <= step.high * 2 + save.high / n * 2
        assert (
            row["predicted_ms_per_step"] == predicted.median and row["ms_per_step"] == row["per_step"].median
        )


def test_a_prediction_draws_whole_loops_instead_of_adding_percentiles():
    assert tuple(measure._drawn_loops([2.0], [10.0], steps=8, every=4)) == (4.5, 4.5, 4.5)  # 2 + 2 * 10 / 8
    steps_ms, saves_ms = list(np.linspace(1, 3, 50)), list(np.linspace(10, 30, 50))
    drawn = measure._drawn_loops(steps_ms, saves_ms, steps=8, every=1)
    added = [a + b for a, b in zip(measure.Spread.of(steps_ms), measure.Spread.of(saves_ms), strict=True)]
    assert abs(drawn.median - added[0]) < 1  # the medians agree
    assert added[1] < drawn.low and drawn.high < added[2]  # a loop averages 8 draws: a narrower range


def test_filesystem_of_names_a_mount():
    kind = measure.filesystem_of(".")
    assert kind == "unknown" or (kind and " " not in kind)


def test_notebook_costs_count_child_processes(tmp_path):
    nb = nbformat.v4.new_notebook()
    child = "import subprocess, sys\n" + (
        "p = subprocess.run([sys.executable, '-c', "
        '\'import time; block = bytearray(300 * 2**20); block[::4096] = b"x" * len(block[::4096]); '
        "time.sleep(0.5)'])"
    )
    nb.cells = [nbformat.v4.new_code_cell(child)]
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    (row,) = bench.notebook_costs(tmp_path)
    assert row["name"] == "tiny.ipynb" and row["seconds"] > 0.5
    assert row["most_children"] >= 1 and row["cpu_seconds"] > 0
    assert row["peak_rss_mb"] > row["kernel_peak_rss_mb"] + 250  # the child's 300 MB counted
    assert row["peak_pss_mb"] > 250  # private pages: in the PSS sum too


def _fake_results(monkeypatch, save_ratio):
    monkeypatch.setattr(
        bench,
        "overhead",
        lambda repeat, folder: {
            "overhead_save_ratio": save_ratio,
            "overhead_save_vs_checkpoint_ratio": 1.3,
            "overhead_restore_ratio": 0.7,
            "restore_checked_ratio": 0.6,
            "overhead_detail": {},
        },
    )
    row = {"save_mb_s": 1.0, "raw_write_mb_s": 2.0, "save_fsync_mb_s": 1.0, "raw_write_fsync_mb_s": 2.0}
    row |= {"restore_hot_mb_s": 1.0, "raw_read_hot_mb_s": 2.0}
    monkeypatch.setattr(bench, "throughput", lambda sizes, folder: [{"mb": m} | row for m in sizes])
    monkeypatch.setattr(bench, "fixed_cost_ms", lambda folder: 5.0)
    monkeypatch.setattr(
        bench,
        "async_blocking",
        lambda folder: {
            "mb": 16,
            "sync_block_ms": 10.0,
            "async_block_ms": 1.0,
            "async_block_ratio": 0.1,
            "sync_next_step_ms": 5.0,
            "async_next_step_ms": 7.0,
            "async_holds_save_time_values": True,
            "async_live_values_changed": True,
        },
    )
    monkeypatch.setattr(
        bench,
        "cost_per_step",
        lambda intervals, folder: {"step_ms": 1.0, "save_ms": 20.0, "rows": []},
    )
    monkeypatch.setattr(bench, "panel_clicks", lambda folder: {"save_click_ms": 50.0})
    cli = {"mb": 100.0, "inspect_ratio": 0.05, "diff_ratio": 0.1}
    cli |= {f"{k}_s": 1.0 for k in ("tf_read", "inspect", "diff")}
    cli |= {f"{k}_peak_rss_mb": 40.0 for k in ("tf_read", "inspect", "diff")}
    monkeypatch.setattr(bench, "cli_reading", lambda folder: cli)


@pytest.mark.parametrize("save_ratio, code", [(1.05, 0), (1.2, 1)])
def test_main_writes_json_and_checks_budgets(tmp_path, monkeypatch, capsys, save_ratio, code):
    _fake_results(monkeypatch, save_ratio)
    out = tmp_path / "bench.json"
    argv = ["--quick", "--no-notebooks", "--json", str(out), "--workdir", str(tmp_path)]
    assert bench.main(argv) == code
    data = json.loads(out.read_text())
    assert [r["mb"] for r in data["throughput"]["rows"]] == [1, 4, 16, 64]
    expected = {"overhead", "throughput", "async", "cost_per_step", "panel_clicks", "cli_reading", "budgets"}
    assert expected <= set(data)
    assert "notebooks" not in data and "suite" not in data  # not asked for
    printed = capsys.readouterr().out
    assert ("OVER overhead_save_ratio 1.200 <= 1.1" in printed) == (code == 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]  # the scratch folder is gone


def test_suite_section_times_pytest_and_budgets_it(tmp_path, monkeypatch, capsys):
    _fake_results(monkeypatch, 1.0)
    timed = {
        "pytest --nbval": {"seconds": 301.0, "returncode": 0, "summary": "9 passed"},
        "re-runs and browsers": {"seconds": 90.0, "returncode": 1, "summary": "1 failed"},
    }
    monkeypatch.setattr(bench, "suite_time", lambda: timed)
    assert bench.main(["--quick", "--no-notebooks", "--suite", "--workdir", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "OVER pytest --nbval 301 s <= 300" in printed
    assert "re-runs and browsers: 90 s, exit code 1 (1 failed)" in printed
    assert "OVER re-runs and browsers passes" in printed


def test_suite_time_runs_pytest_then_the_reruns(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    marked = "import pytest\n\npytestmark = pytest.mark.rerun\n\n\ndef test_again():\n    assert True\n"
    (tmp_path / "test_two.py").write_text(marked)
    result = bench.suite_time(tmp_path)
    assert list(result) == list(costs.SUITE_STEPS)
    nbval, reruns = result.values()
    assert nbval["returncode"] == 0 and "2 passed" in nbval["summary"] and nbval["seconds"] > 0
    assert reruns["returncode"] == 0 and "1 passed, 1 deselected" in reruns["summary"]


def test_sections_extend_the_report(tmp_path, monkeypatch, capsys):
    _fake_results(monkeypatch, 1.0)
    extra = bench.Section(
        "extra", lambda args, folder: {"n": 3}, lambda r: [f"extra {r['n']}"], lambda r: [("n <= 2", False)]
    )
    monkeypatch.setattr(bench, "SECTIONS", [*bench.SECTIONS, extra])
    assert bench.main(["--quick", "--no-notebooks", "--workdir", str(tmp_path)]) == 1
    printed = capsys.readouterr().out
    assert "extra 3" in printed and "OVER n <= 2" in printed


def test_public_names_stay_importable():
    names = ["BUDGETS", "main", "SECTIONS", "Section"]
    assert all(callable(getattr(bench, name)) or name in ("BUDGETS", "SECTIONS") for name in names)
    assert set(names) <= set(bench.__all__)
    measured = ["app_costs", "cli_reading", "notebook_costs", "overhead", "panel_clicks", "suite_time"]
    assert set(measured) <= set(costs.__all__) and all(callable(getattr(costs, n)) for n in measured)

    assert bench.BUDGETS["notebook_seconds"] == 20.0 and bench.BUDGETS["notebook_memory_mb"] == 1200.0
    assert np.isclose(bench.BUDGETS["suite_seconds"], 300.0)


def test_measure_imports_no_widgets():
    import subprocess
    import sys

    code = "import ckptkit.lessons.performance, sys; "
    code += "print(sorted({'ckptkit.lab.panel', 'ipywidgets'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_interleaved_ms_takes_turns():
    calls = []
    result = costs.interleaved_ms({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=2)
    assert calls == ["a", "b"] * 3  # a warm-up round, then two timed rounds
    assert set(result) == {"a", "b"} and all(ms >= 0 for ms in result.values())


def test_cli_reading_measures_whole_processes(tmp_path):
    r = bench.cli_reading(mb=2, repeat=1, folder=tmp_path)
    assert (
        1.5 < r["mb"] < 2.5
        and r["tf_read_s"] > 0
        and r["tf_read_peak_rss_mb"] > r["inspect_peak_rss_mb"] > 10
    )
    assert r["inspect_ratio"] == r["inspect_s"] / r["tf_read_s"] and r["diff_ratio"] > 0
