from ckptkit.lab.app import CheckpointApp

import os
from pathlib import Path

import pytest


@pytest.fixture
def apps(tmp_path):
    made = [CheckpointApp(root=tmp_path), CheckpointApp(root=tmp_path)]
    yield made
    for app in made:
        app.close()


def test_each_app_saves_only_into_its_own_new_folder(apps, tmp_path):
    first, second = apps
    assert first.folder != second.folder and first.folder.parent == second.folder.parent == tmp_path
    for app, saves in ((first, 2), (second, 1)):
        app.panel.train_button.click()
        for _ in range(saves):
            app.panel.save_button.click()
    assert first.panel.status_text.startswith("saved ckpt-2") and second.panel.status_text.startswith(
        "saved ckpt-1"
    )
    assert [os.path.basename(p) for p in first.panel.lab.checkpoints()] == ["ckpt-2", "ckpt-1"]
    assert [os.path.basename(p) for p in second.panel.lab.checkpoints()] == ["ckpt-1"]
    assert sorted(p.name for p in (second.folder / "linear").glob("*.index")) == ["ckpt-1.index"]


def test_switching_models_keeps_each_models_work(apps):
    app = apps[0]
    app.panel.train_button.click()
    app.panel.save_button.click()
    linear = app.panel
    app.choice.value = "keras"
    assert app.panel is not linear and app.panel.lab.checkpoints() == []
    assert app.body.children == (app.panel.widget,)
    assert "Keras" in app.panel.title
    app.choice.value = "linear"
    assert app.panel is linear and len(linear.lab.checkpoints()) == 1


def test_wrong_clicks_answer_in_the_status_line(apps):
    panel = apps[0].panel
    panel.restore_button.click()
    assert panel.status_text == "⚠ nothing to restore yet: click Save first"
    panel.compare_button.click()
    assert panel.status_text.startswith("⚠ A and B are both live")


def test_close_removes_the_folder_and_everything_saved(apps):
    app = apps[0]
    app.panel.save_button.click()
    assert any(app.folder.rglob("*.index"))
    app.close()
    assert not app.folder.exists()
    app.close()  # a second close is harmless


def test_the_folder_goes_when_the_kernel_dies_without_cleaning_up(apps):
    app = apps[1]
    app.panel.save_button.click()
    # A killed kernel runs no Python: all that happens is that its end of the watcher's pipe closes.
    app._watcher.stdin.close()
    app._watcher.wait(timeout=10)
    assert not app.folder.exists()


def test_display_has_a_stable_text_fallback(apps):
    assert apps[0]._repr_mimebundle_()["text/plain"] == "CheckpointApp()"


def test_bench_checks_the_app_budgets():
    from benchmarks import harness as bench

    fast = {"app_first_paint_s": 4.0, "app_save_click_ms": 50.0, "app_restore_click_ms": 60.0}
    assert all(ok for _, ok in bench._budgets_app(fast | {"app_compare_click_ms": 5.0}))
    slow = bench._budgets_app(fast | {"app_first_paint_s": 12.0, "app_compare_click_ms": 150.0})
    assert [what.split(" ")[1] for what, ok in slow if not ok] == ["first", "compare"]


def test_voila_reads_the_culling_settings_from_the_repository():
    from voila.app import Voila

    app = Voila()
    app.load_config_file("voila", path=[str(Path(__file__).resolve().parents[1])])
    culling = app.config.MappingKernelManager
    assert culling.cull_idle_timeout == 120 and culling.cull_connected is False and culling.cull_interval > 0
