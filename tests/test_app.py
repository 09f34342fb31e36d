from ckptkit.lab.app import MAX_CHECKPOINTS, CheckpointApp, lifetime_text
from ckptkit.lab.server import CLOSED_ENV, IDLE_ENV, server_config, write_server_config
from ckptkit.live.workspace import REGISTRY

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def apps(tmp_path):
    # threads=0 leaves TensorFlow's pools as they are: the other tests in this process keep theirs.
    made = [CheckpointApp(root=tmp_path, threads=0), CheckpointApp(root=tmp_path, threads=0)]
    yield made
    for app in made:
        app.close()


def test_each_app_saves_only_into_its_own_new_folder(apps, tmp_path):
    first, second = apps
    assert first.folder != second.folder and first.folder.parent == second.folder.parent == tmp_path
    for app, saves in ((first, 2), (second, 1)):
        app.panel.train_button.click()
        app.panel.wait()
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
    app.panel.wait()
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

    def run(visitors, threads, **changed):
        fast = {"app_first_paint_max_s": 4.0, "app_save_click_ms": 50.0, "app_restore_click_ms": 60.0}
        return (
            {"app_visitors": visitors, "app_threads": threads, "app_compare_click_ms": 5.0} | fast | changed
        )

    shared = run(4, 1, app_first_paint_max_s=15.0, app_save_click_ms=150.0)  # four share the cores
    ok = bench._budgets_app({"runs": [run(1, 1), shared, run(4, 0, app_save_click_ms=900.0)]})
    assert len(ok) == 8 and all(passed for _, passed in ok)
    slow = bench._budgets_app(
        {"runs": [run(1, 1, app_first_paint_max_s=12.0), run(4, 1, app_compare_click_ms=250.0), run(4, 0)]}
    )
    assert [what for what, passed in slow if not passed] == [
        "app, 1 visitor(s): first paint 12.0 s <= 10",
        "app, 4 visitor(s): compare click 250.0 ms <= 200",
    ]


def test_each_model_keeps_its_newest_checkpoints_and_says_when_it_deletes_one(apps):
    panel = apps[0].panel
    for _ in range(MAX_CHECKPOINTS + 2):
        panel.save_button.click()
    assert panel.status_text.endswith(f"deleted the oldest, ckpt-2: this lab keeps {MAX_CHECKPOINTS}")
    names = [os.path.basename(p) for p in panel.lab.checkpoints()]
    assert names == [f"ckpt-{n}" for n in range(MAX_CHECKPOINTS + 2, 2, -1)]
    assert sorted(p.name for p in panel.lab.workdir.glob("*.index")) == sorted(n + ".index" for n in names)


def test_a_save_past_the_byte_limit_is_refused_and_the_folder_stays(apps):
    panel = apps[0].panel
    panel.save_button.click()
    panel.lab.max_bytes = 1500  # one linear checkpoint is about 1.3 kB
    panel.save_button.click()
    held = sum(f.stat().st_size for f in panel.lab.workdir.glob("ckpt-1.*"))
    assert panel.status_text == (
        f"⚠ this lab's checkpoints may take 1.5 kB and hold {held / 1000:.1f} kB, "
        "too little room for one more: delete a checkpoint, or start over"
    )
    assert [os.path.basename(p) for p in panel.lab.checkpoints()] == ["ckpt-1"]


def test_the_files_view_shows_the_state_file_and_each_file_after_every_click(apps):
    app = apps[0]
    # ckptkit's note of the folders it made lies in the app's folder, but no save wrote it: not shown.
    assert (app.folder / REGISTRY).is_file() and app.files.text == "(empty: nothing saved yet)"
    app.panel.save_button.click()
    app.panel.save_button.click()
    text = app.files.text
    listed = [line.split()[0] for line in text.splitlines() if not line.startswith((" ", "total"))]
    assert listed == ["linear/checkpoint"] + [
        f"linear/ckpt-{n}.{kind}" for n in (1, 2) for kind in ("data-00000-of-00001", "index")
    ]
    assert 'model_checkpoint_path: "ckpt-2"' in text and 'all_model_checkpoint_paths: "ckpt-1"' in text
    sizes = {
        line.split()[0]: line.split()[1:] for line in text.splitlines() if line.startswith("linear/ckpt-")
    }
    data = app.folder / "linear" / "ckpt-1.data-00000-of-00001"
    assert sizes["linear/ckpt-1.data-00000-of-00001"] == [str(data.stat().st_size), "B"]
    assert set(sizes) == {
        f"linear/ckpt-{n}.{kind}" for n in (1, 2) for kind in ("index", "data-00000-of-00001")
    }
    assert "ckpt-" in app.files.listing.value
    app.panel.restore_choice.value = app.panel.lab.checkpoints()[0]
    app.panel.delete_button.click()
    assert "ckpt-2" not in app.files.text and 'model_checkpoint_path: "ckpt-1"' in app.files.text


def test_start_over_empties_the_models_folder_and_is_refused_during_a_run(apps):
    app = apps[0]
    app.panel.save_button.click()
    app.panel.steps.value = 200
    app.panel.train_button.click()
    assert app.choice.disabled and app.files.reset_button.disabled
    app.files.reset_button.click()  # a crafted click on the disabled button
    assert app.panel.status_text.startswith("⚠ a training run is going on")
    app.panel.stop_button.click()
    app.panel.wait(30)
    assert not app.choice.disabled and not app.files.reset_button.disabled
    app.files.reset_button.click()
    assert app.panel.status_text.startswith("started over") and int(app.panel.lab.step) == 0
    assert app.panel.lab.checkpoints() == [] and not any((app.folder / "linear").iterdir())
    assert "ckpt-" not in app.files.text


def test_the_page_says_how_long_the_folder_lives():
    assert lifetime_text({}) == "The folder is deleted when this kernel shuts down."
    served = lifetime_text({CLOSED_ENV: "150", IDLE_ENV: "900"})
    assert (
        "within 3 minutes after you close it" in served and "after about 15 minutes without a click" in served
    )
    assert "Reloading the page starts a new session, with a new, empty folder." in served


def test_the_app_route_and_binder_route_read_the_same_kernel_settings(tmp_path):
    from voila.app import Voila

    app = Voila()
    app.load_config_file("voila", path=[str(ROOT)])
    voila = json.loads((ROOT / "voila.json").read_text())
    assert app.config.VoilaConfiguration.multi_kernel_manager_class == "ckptkit.lab.server.AppKernelManager"
    assert (
        app.config.MappingKernelManager.cull_connected is False
        and app.config.AppKernelManager.max_kernels > 0
    )
    server = server_config()
    assert server["ServerApp"]["kernel_manager_class"] == "ckptkit.lab.server.AppKernelManager"
    assert server["MappingKernelManager"] == voila["MappingKernelManager"]
    assert server["AppKernelManager"] == voila["AppKernelManager"]
    (tmp_path / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"ip": "127.0.0.1"}}))
    written = json.loads(write_server_config(tmp_path).read_text())  # merged into what was there
    assert written["ServerApp"] == {
        "ip": "127.0.0.1",
        "kernel_manager_class": server["ServerApp"]["kernel_manager_class"],
    }
    assert "write_server_config" in (ROOT / "binder" / "postBuild").read_text()


class _FakeKernels:
    """Stands in for Jupyter's own start and shutdown: records them, starts no process."""

    def __init__(self, monkeypatch):
        from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

        self.started, self.ended = [], []

        async def start(manager, *, kernel_id=None, path=None, **kwargs):
            from types import SimpleNamespace

            kernel_id = f"kernel-{len(self.started)}"
            self.started.append(kwargs)
            manager._kernels[kernel_id] = SimpleNamespace(
                execution_state="idle", kernel_name="python3", kernel_spec=SimpleNamespace(metadata={})
            )
            manager._kernel_connections[kernel_id] = 1  # its page is open
            return kernel_id

        async def shutdown(manager, kernel_id, *args, **kwargs):
            self.ended.append(kernel_id)
            del manager._kernels[kernel_id]

        monkeypatch.setattr(AsyncMappingKernelManager, "start_kernel", start)
        monkeypatch.setattr(AsyncMappingKernelManager, "shutdown_kernel", shutdown)


def test_the_kernel_manager_limits_kernels_and_ends_idle_open_pages(monkeypatch):
    from ckptkit.lab.server import AppKernelManager

    import asyncio
    from datetime import UTC, datetime, timedelta

    from tornado.web import HTTPError

    fake = _FakeKernels(monkeypatch)
    manager = AppKernelManager(max_kernels=2, page_idle_timeout=900, cull_idle_timeout=120, cull_interval=30)

    async def scenario():
        page = await manager.start_kernel(path="", env={"VOILA_REQUEST_URL": "http://127.0.0.1/"})
        notebook = await manager.start_kernel(path="", env={"JPY_SESSION_NAME": "02_keras_model.ipynb"})
        with pytest.raises(HTTPError) as full:
            await manager.start_kernel(path="", env={"VOILA_REQUEST_URL": "http://127.0.0.1/"})
        assert full.value.status_code == 503 and full.value.reason.startswith(
            "Server full: this server runs at most 2 sessions"
        )
        long_ago = datetime.now(UTC) - timedelta(seconds=901)
        for kernel_id in (page, notebook):
            manager._kernels[kernel_id].last_activity = long_ago
            await manager.cull_kernel_if_idle(kernel_id)
        return page

    page = asyncio.run(scenario())
    assert fake.ended == [page]  # the open app page idle for 15 minutes; a notebook's open kernel stays
    assert fake.started[0]["env"][CLOSED_ENV] == "150" and fake.started[0]["env"][IDLE_ENV] == "900"
    assert CLOSED_ENV not in fake.started[1]["env"]  # only an app page's kernel is told the app's timeouts


def test_the_pages_diverging_run_holds_for_the_linear_model(apps):
    # app.ipynb: with the linear model, raise the learning rate and train until the loss becomes inf, then
    # restore a checkpoint saved before it: the weights and the learning rate come back.
    panel = apps[0].panel
    assert apps[0].choice.value == "linear"
    panel.save_button.click()
    saved_rate, saved = panel.rate.value, [v.numpy() for v in panel.lab.checkpoint.model_variables]
    panel.rate.value = panel.rate.max
    for _ in range(2):  # 10 steps take the loss past 1e19, 20 to inf
        panel.train_button.click()
        panel.wait()
    assert panel.status_text.startswith("⚠ the loss became inf")
    panel.restore_choice.value = panel.lab.checkpoints()[-1]
    panel.restore_button.click()
    assert panel.rate.value == pytest.approx(saved_rate)
    assert float(panel.lab.optimizer.learning_rate) == pytest.approx(saved_rate)
    assert all(
        (v.numpy() == s).all() for v, s in zip(panel.lab.checkpoint.model_variables, saved, strict=True)
    )
