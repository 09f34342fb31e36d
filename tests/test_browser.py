"""A real browser: JupyterLab on 127.0.0.1, Chromium driven by Playwright, the panel clicked."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from browser import ARTIFACTS, CHROMIUM_ARGS, chromium, free_port

# Chromium beside a Jupyter server: about 1.5 min on 2 cores. `pytest --nbval` leaves it out (pyproject's
# addopts); .ci/run runs it with the re-run test, a step of its own: `pytest -m "rerun or browser"`.
pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def lab_server(tmp_path):
    """A JupyterLab server on 127.0.0.1 with a token, serving a copy of the playground notebook."""
    executable = chromium()  # skips (or fails under CKPTKIT_REQUIRE_BROWSER=1) when there is none
    # Outputs and prompt numbers are stripped, so every one the test sees comes from this run.
    notebook = nbformat.read(ROOT / "notebooks" / "08_playground.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, tmp_path / "08_playground.ipynb")
    # Toasts (the news prompt) can cover the panel's buttons; do-not-disturb keeps them away.
    settings = tmp_path / ".config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True})
    )
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / ".config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime"),
        "MPLBACKEND": "Agg",
    }
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed below, after the server stops)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.allow_root=True",  # CI runs as root
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp_path}",
            "--LabApp.news_url=",
            # The test reads the kernel's connection state from the app instead of guessing from the UI.
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("JupyterLab did not start: " + (tmp_path / "server.log").read_text()[-2000:])
            time.sleep(0.5)
    yield base, token, executable
    server.terminate()
    server.wait(timeout=20)
    log.close()


# JupyterLab clears a cell and runs nothing when it is run before the notebook has a kernel, so
# Run All waits until the notebook's own kernel is connected and idle.
KERNEL_READY = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session
        && panel.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""


def _run_all(page) -> None:
    """Run every cell from the Run menu once the kernel is connected; retry if nothing started."""
    from playwright.sync_api import expect

    first_prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
    for _ in range(3):
        page.wait_for_function(KERNEL_READY, timeout=120_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:  # the setup cell's prompt turns from [ ] to [*] as soon as its execution starts
            expect(first_prompt).to_have_text(re.compile(r"\[(\*|\d+)\]"), timeout=15_000)
            return
        except AssertionError:
            page.keyboard.press("Escape")
    raise AssertionError("Run All Cells never started the notebook")


def test_playground_panel_in_jupyterlab(lab_server):
    from playwright.sync_api import expect, sync_playwright

    base, token, executable = lab_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            _drive(page, base, token, expect)
        finally:
            page.screenshot(path=str(ARTIFACTS / "browser-playground.png"))
            browser.close()


# Run All has finished when every code cell of the notebook's model has an execution count (the
# page may not draw cells out of view) and the kernel is idle.
ALL_RAN = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
    const cells = panel.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type === "code" && !cell.executionCount) return false;
    }
    return !!kernel && kernel.status === "idle";
}"""


def _drive(page, base: str, token: str, expect) -> None:
    page.goto(f"{base}/lab/tree/08_playground.ipynb?token={token}")
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    _run_all(page)
    page.wait_for_function(ALL_RAN, timeout=180_000, polling=500)

    # The notebook's own panel, whatever its cells clicked: each click answers in its status line.
    status, branches = (
        page.locator(".ckptkit-status"),
        page.locator(".widget-html-content", has_text="branches:"),
    )
    expect(status).to_have_count(1)
    buttons = page.locator(".jupyter-widgets.widget-button")
    buttons.filter(has_text="Save").click()
    expect(status).to_have_text(re.compile(r"saved ckpt-\d+ at step \d+"), timeout=20_000)
    buttons.filter(has_text="Train").click()
    expect(status).to_have_text(re.compile(r"trained \d+ steps: step \d+, loss "), timeout=30_000)
    image = page.locator(".jupyter-widgets img").first
    drawn = image.get_attribute("src")
    buttons.filter(has_text="Restore").click()
    restored = re.compile(r"restored ckpt-\d+: .* training continues on '(run \d+)'")
    expect(status).to_have_text(restored, timeout=20_000)
    branch = restored.search(status.inner_text())[1]
    expect(page.locator(".ckptkit-call")).to_contain_text(".assert_consumed()")  # the call it made
    buttons.filter(has_text="Train").click()
    expect(status).to_have_text(re.compile(r"trained \d+ steps"), timeout=30_000)
    expect(branches).to_contain_text(branch)  # the restore started a branch, and it trained
    expect(image).not_to_have_attribute("src", drawn, timeout=20_000)  # the plot shows the new branch
