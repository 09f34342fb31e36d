"""The browser tests' Chromium policy: skip with how to get one, or fail where a browser is required."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.browser import (
    CHROMIUM_ARGS,
    HOW_TO_GET_ONE,
    find_chromium,
    free_port,
    start_voila,
    wait_for_port,
)

__all__ = ["ARTIFACTS", "CHROMIUM_ARGS", "chromium", "free_port", "start_voila", "wait_for_port"]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def chromium() -> str:
    """The Chromium to test with; skips the test when there is none, fails if CKPTKIT_REQUIRE_BROWSER=1."""
    path, why = find_chromium()
    if path is not None:
        return path
    reason = f"{why}: {HOW_TO_GET_ONE}"
    if os.environ.get("CKPTKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CKPTKIT_REQUIRE_BROWSER=1 and {reason}")
    pytest.skip(reason)
