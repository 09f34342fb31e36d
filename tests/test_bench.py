from ckptkit import bench

import json

import nbformat


def test_measurements_have_the_documented_keys():
    ratios = bench.overhead(repeat=3)
    for key in ("overhead_save_ratio", "overhead_restore_ratio", "restore_checked_ratio"):
        assert ratios[key] > 0
    (row,) = bench.throughput([1], repeat=1)
    assert row["mb"] == 1 and row["save_fraction"] > 0 and row["restore_fraction"] > 0
    blocked = bench.async_blocking(mb=1, saves=2, training_s=0.0)
    assert blocked["async_block_ratio"] == blocked["async_block_ms"] / blocked["sync_block_ms"]
    assert [r["interval"] for r in bench.cost_per_step([1, 5], steps=5)] == [1, 5]
    assert set(bench.panel_clicks(repeat=2)) == {"save_click_ms", "restore_click_ms", "compare_click_ms"}


def test_notebook_costs_sample_the_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import time\nblock = bytearray(200 * 2**20)\ntime.sleep(0.3)")]
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    (row,) = bench.notebook_costs(tmp_path)
    assert row["name"] == "tiny.ipynb" and row["seconds"] > 0.3 and row["peak_rss_mb"] > 200


def test_main_writes_json_and_checks_budgets(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        bench,
        "overhead",
        lambda repeat: {
            "overhead_save_ratio": 1.2,
            "overhead_save_vs_checkpoint_ratio": 1.3,
            "overhead_restore_ratio": 0.7,
            "restore_checked_ratio": 0.6,
            "overhead_detail": {},
        },
    )
    monkeypatch.setattr(
        bench,
        "throughput",
        lambda sizes: [
            {
                "mb": m,
                "save_mb_s": 1.0,
                "restore_mb_s": 1.0,
                "raw_write_mb_s": 2.0,
                "raw_read_mb_s": 2.0,
                "save_fraction": 0.5,
                "restore_fraction": 0.5,
            }
            for m in sizes
        ],
    )
    monkeypatch.setattr(
        bench,
        "async_blocking",
        lambda mb: {"sync_block_ms": 10.0, "async_block_ms": 1.0, "async_block_ratio": 0.1},
    )
    monkeypatch.setattr(bench, "panel_clicks", lambda: {"save_click_ms": 50.0})
    monkeypatch.setattr(bench, "cli_reading", lambda: {})
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--no-notebooks", "--json", str(out)]) == 1  # 1.2 is over the 1.10 budget
    data = json.loads(out.read_text())
    assert [r["mb"] for r in data["throughput"]] == [1, 4, 16, 64]
    assert {"overhead_save_ratio", "overhead_restore_ratio", "async_block_ratio", "notebooks"} <= set(data)
    assert "OVER overhead_save_ratio 1.200 <= 1.1" in capsys.readouterr().out


def test_cli_reading_measures_whole_processes():
    r = bench.cli_reading(mb=2, repeat=1)
    assert (
        1.5 < r["mb"] < 2.5
        and r["tf_read_s"] > 0
        and r["tf_read_peak_rss_mb"] > r["inspect_peak_rss_mb"] > 10
    )
    assert r["inspect_ratio"] == r["inspect_s"] / r["tf_read_s"] and r["diff_ratio"] > 0
