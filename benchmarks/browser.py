"""Where to find Chromium, how to launch it quietly, how to start Voila on the app and wait for a local
server: browser plumbing for the benchmark's app section and the browser tests."""

from __future__ import annotations

from ckptkit.runs.launcher import free_ports

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = [
    "CHROMIUM_ARGS",
    "HOW_TO_GET_ONE",
    "find_chromium",
    "free_port",
    "start_voila",
    "wait_for_port",
]

ROOT = Path(__file__).resolve().parents[1]

# Chromium's own network chatter is refused on a closed machine; these flags keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW_TO_GET_ONE = (
    "set CKPTKIT_CHROMIUM=/path/to/chromium, put `chromium` or `chromium-browser` on PATH "
    "(Debian/Ubuntu: apt-get install chromium), or run `python -m playwright install chromium`"
)


def _playwright_chromium() -> str | None:
    """The Chromium that `python -m playwright install chromium` downloaded, if any."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        path = p.chromium.executable_path
    return path if path and os.path.exists(path) else None


def find_chromium() -> tuple[str | None, str]:
    """A Chromium binary and where it came from, or `None` and why none was found.

    Order: `CKPTKIT_CHROMIUM`, then `chromium` / `chromium-browser` on PATH, then Playwright's own.
    """
    chosen = os.environ.get("CKPTKIT_CHROMIUM")
    if chosen:
        if os.path.isfile(chosen) and os.access(chosen, os.X_OK):
            return chosen, "CKPTKIT_CHROMIUM"
        return None, f"CKPTKIT_CHROMIUM={chosen} is not an executable file"
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found, f"{name} on PATH"
    found = _playwright_chromium()
    if found:
        return found, "Playwright's own browser"
    return None, "no Chromium found"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def wait_for_port(port: int, alive: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Wait until something accepts TCP connections on 127.0.0.1:`port`; False if `alive()` turns False.

    A TCP connect only: an HTTP GET on a Voila page would start a kernel.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def start_voila(
    port: int, *flags: str, env: dict[str, str] | None = None, log: IO | int = subprocess.DEVNULL
) -> subprocess.Popen:
    """Voila serving notebooks/app.ipynb on 127.0.0.1:`port`, `env` added to this process's environment.

    It runs from the repository's root, as the README says to, so it reads ./voila.json.
    """
    command = [sys.executable, "-m", "voila", "notebooks/app.ipynb", "--no-browser", "--Voila.ip=127.0.0.1"]
    return subprocess.Popen(
        [*command, f"--port={port}", *flags],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
