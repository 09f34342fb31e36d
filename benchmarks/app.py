"""The Voila app under load: first paint and click latency, one visitor against four, threads limited."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from benchmarks.browser import (
    CHROMIUM_ARGS,
    HOW_TO_GET_ONE,
    find_chromium,
    free_port,
    start_voila,
    wait_for_port,
)

__all__ = ["CLICKS", "app_costs"]

ROOT = Path(__file__).resolve().parents[1]
CLICKS = ("Train", "Save", "Restore", "Compare")

# Runs in the page: click a button and keep, in window.__click, the promise of the milliseconds until
# the panel's table or status line shows the answer (the kernel's round trip included). Every page's
# click starts before any page's answer is read, so the visitors' clicks meet in the kernels' machine.
_CLICK_JS = """label => {
    const html = [...document.querySelectorAll('.ckptkit-table, .ckptkit-status')];
    const button = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === label);
    window.__click = new Promise(resolve => {
        const start = performance.now();
        const seen = new MutationObserver(() => { seen.disconnect(); resolve(performance.now() - start); });
        html.forEach(node => seen.observe(node, {subtree: true, childList: true, characterData: true}));
        button.click();
    });
}"""


def _kernels_memory(server_pid: int) -> tuple[int, float, float]:
    """How many kernels the server runs, their RSS summed and their PSS summed (MB), watchers included."""
    import psutil

    kernels = [
        c for c in psutil.Process(server_pid).children(recursive=True) if "ipykernel" in " ".join(c.cmdline())
    ]
    rss = pss = 0
    for kernel in kernels:
        for p in [kernel, *kernel.children(recursive=True)]:
            try:
                info = p.memory_full_info()
            except psutil.Error:
                continue
            rss, pss = rss + info.rss, pss + getattr(info, "pss", 0)
    return len(kernels), rss / 2**20, pss / 2**20


def app_costs(chromium: str | None = None, visitors: int = 1, threads: int = 1, rounds: int = 3) -> dict:
    """`visitors` pages of the Voila app in Chromium at once: first paint, each click's latency, memory.

    Each page's kernel gives TensorFlow `threads` threads (`CKPTKIT_APP_THREADS`; 0: TensorFlow's
    default, every core). Train runs one step, so its time is nearly all click. Latencies are over
    every page and round: median and max. The browser is `chromium`, else what the browser tests use.
    """
    from playwright.sync_api import expect, sync_playwright

    if chromium is None:
        chromium, why = find_chromium()
        if chromium is None:
            raise RuntimeError(f"{why}: {HOW_TO_GET_ONE}")
    port = free_port()
    server = start_voila(
        port, f"--AppKernelManager.max_kernels={visitors}", env={"CKPTKIT_APP_THREADS": str(threads)}
    )
    try:
        wait_for_port(port, lambda: server.poll() is None)  # a TCP connect: a GET starts a kernel
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            pages = [
                browser.new_context(viewport={"width": 1100, "height": 1100}).new_page()
                for _ in range(visitors)
            ]
            start = time.perf_counter()
            for page in pages:
                page.goto(f"http://127.0.0.1:{port}/", wait_until="commit")
            paints = []
            for page in pages:
                expect(page.locator(".ckptkit-status")).to_have_text(
                    "ready: train, then save", timeout=180_000
                )
                paints.append(time.perf_counter() - start)
            for page in pages:  # steps slider to its minimum, 1
                page.locator(".widget-slider").first.focus()
                page.locator(".ui-slider-handle, .noUi-handle").first.press("Home")
                expect(page.locator(".widget-readout").first).to_have_text("1")
            clicks: dict[str, list[float]] = {name: [] for name in CLICKS}
            for _ in range(rounds):
                for name in CLICKS:
                    for page in pages:
                        page.evaluate(_CLICK_JS, name)
                    clicks[name] += [page.evaluate("() => window.__click") for page in pages]
                    for page in pages:  # the rest of the answer (dropdowns, plot, files view)
                        page.wait_for_timeout(300)
            for page in pages:
                expect(page.locator(".ckptkit-status")).not_to_contain_text("⚠")
            kernels, rss, pss = _kernels_memory(server.pid)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "app_visitors": visitors,
        "app_threads": threads,
        "app_first_paint_s": statistics.median(paints),
        "app_first_paint_max_s": max(paints),
        **{f"app_{name.lower()}_click_ms": statistics.median(ms) for name, ms in clicks.items()},
        **{f"app_{name.lower()}_click_max_ms": max(ms) for name, ms in clicks.items()},
        "app_kernels": kernels,
        "app_kernels_rss_mb": rss,
        "app_kernels_pss_mb": pss,
        "load_average_1min": os.getloadavg()[0],  # first paint grows with whatever else runs
    }
