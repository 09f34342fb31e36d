"""A real browser: the app served by Voila on 127.0.0.1, two visitors at once, each in their own folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser import ARTIFACTS, CHROMIUM_ARGS, chromium, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "notebooks" / "app.ipynb"


def start_voila(tmp_path: Path, notebook: Path = APP) -> tuple[subprocess.Popen, str, Path]:
    """Voila serving `notebook` on a free port; kernels make their temporary folders in the third value."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = free_port()
    with open(tmp_path / "voila.log", "w") as log:  # the server keeps its own copy of the file
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                str(notebook),
                "--no-browser",
                "--Voila.ip=127.0.0.1",
                f"--port={port}",
                "--show_tracebacks=True",
                # The repository's voila.json culls kernels whose page is gone; sooner here, for the test.
                "--MappingKernelManager.cull_idle_timeout=6",
                "--MappingKernelManager.cull_interval=1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            # TMPDIR reaches the kernels: the test can see, and count, each visitor's folder.
            env={
                **os.environ,
                "TMPDIR": str(temp),
                "MPLBACKEND": "Agg",
                "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
            },
            cwd=ROOT,  # where `voila notebooks/app.ipynb` is run from: it reads ./voila.json
        )
    if not wait_for_port(port, alive=lambda: server.poll() is None):
        server.kill()
        pytest.fail("Voila did not start: " + (tmp_path / "voila.log").read_text()[-2000:])
    return server, f"http://127.0.0.1:{port}/", temp


@pytest.fixture
def voila(tmp_path):
    executable = chromium()  # skips (or fails under CKPTKIT_REQUIRE_BROWSER=1) when there is none
    server, url, temp = start_voila(tmp_path)
    yield url, temp, executable
    server.terminate()
    server.wait(timeout=20)


def status(page):
    """The panel's status line."""
    return page.locator(".ckptkit-status")


def test_two_visitors_each_see_only_their_own_checkpoints(voila):
    from playwright.sync_api import expect, sync_playwright

    url, temp, executable = voila
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        pages = [browser.new_context().new_page() for _ in range(2)]
        shot = False
        try:
            for page in pages:  # both requests go out before either page has rendered
                page.set_viewport_size({"width": 1100, "height": 1100})
                page.goto(url, wait_until="commit")
            for page in pages:
                expect(status(page)).to_have_text("ready: train, then save", timeout=60_000)
            # Visitor 0 saves twice, visitor 1 once, interleaved.
            for page in pages:
                page.get_by_role("button", name="Train").click()
                expect(status(page)).to_contain_text("trained 10 steps", timeout=30_000)
                page.get_by_role("button", name="Save").click()
                expect(status(page)).to_contain_text("saved ckpt-1 at step 10", timeout=20_000)
            pages[0].get_by_role("button", name="Save").click()
            expect(status(pages[0])).to_contain_text("saved ckpt-2 at step 10", timeout=20_000)
            for page, expected in zip(pages, (["ckpt-2", "ckpt-1"], ["ckpt-1"]), strict=True):
                options = page.locator("select").first.locator("option").all_inner_texts()
                assert [re.match(r"ckpt-\d+", o).group() for o in options] == expected
            folders = sorted(temp.glob("ckptkit-lab-*"))
            assert len(folders) == 2, folders  # one private folder per page
            # Each page's folder, known by what it holds: page 0 saved twice, page 1 once.
            owner = {len(list(f.glob("linear/*.index"))): f for f in folders}
            assert sorted(owner) == [1, 2]
            folders = [owner[2], owner[1]]
            # The model choice swaps the panel; the linear model's work stays where it was.
            pages[1].get_by_role("button", name="the Keras model").click()
            keras_title = pages[1].get_by_text("Checkpoint Lab: the Keras model").first
            expect(keras_title).to_be_visible(timeout=30_000)
            expect(status(pages[1])).to_have_text("ready: train, then save")
            assert (folders[1] / "keras").is_dir() and not (folders[0] / "keras").exists()
            # No code cell is visible: Voila strips the sources.
            assert page.locator(".jp-InputArea-editor").count() == 0
            for i, page in enumerate(pages):
                page.screenshot(path=str(ARTIFACTS / f"voila-visitor-{i}.png"))
            shot = True
            started = time.monotonic()
            # Leaving a page ends its kernel once it is idle (culled), and the kernel's folder goes with it;
            # the other page, still open, keeps its kernel.
            pages[0].goto("about:blank")
            deadline = time.monotonic() + 30
            while folders[0].exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not folders[0].exists() and folders[1].exists()
            print(f"folder removed {time.monotonic() - started:.1f} s after the page closed")
        finally:
            if not shot:  # what the pages showed when the test failed
                for i, page in enumerate(pages):
                    page.screenshot(path=str(ARTIFACTS / f"voila-visitor-{i}.png"))
            browser.close()
