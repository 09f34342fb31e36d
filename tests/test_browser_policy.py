"""Where the browser tests look for Chromium, and what they do when there is none."""

from __future__ import annotations

import stat

import pytest

from benchmarks import browser as finder

import browser


@pytest.fixture
def nothing_installed(monkeypatch):
    monkeypatch.delenv("CKPTKIT_CHROMIUM", raising=False)
    monkeypatch.delenv("CKPTKIT_REQUIRE_BROWSER", raising=False)
    monkeypatch.setattr(finder.shutil, "which", lambda name: None)
    monkeypatch.setattr(finder, "_playwright_chromium", lambda: None)
    return monkeypatch


def _executable(path):
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_no_browser_skips_with_how_to_get_one(nothing_installed):
    with pytest.raises(pytest.skip.Exception) as skipped:
        browser.chromium()
    reason = str(skipped.value)
    assert "no Chromium found" in reason and "apt-get install chromium" in reason
    assert "python -m playwright install chromium" in reason and "CKPTKIT_CHROMIUM" in reason


def test_no_browser_fails_when_required(nothing_installed):
    nothing_installed.setenv("CKPTKIT_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="CKPTKIT_REQUIRE_BROWSER=1 and no Chromium found"):
        browser.chromium()


def test_the_order_is_variable_then_path_then_playwright(nothing_installed, tmp_path):
    own, on_path, downloaded = (_executable(tmp_path / n) for n in ("own", "chromium-browser", "pw"))
    nothing_installed.setattr(finder, "_playwright_chromium", lambda: downloaded)
    assert finder.find_chromium() == (downloaded, "Playwright's own browser")
    which = {"chromium-browser": on_path}
    nothing_installed.setattr(finder.shutil, "which", which.get)
    assert finder.find_chromium() == (on_path, "chromium-browser on PATH")
    nothing_installed.setenv("CKPTKIT_CHROMIUM", own)
    assert browser.chromium() == own


def test_a_wrong_variable_is_named(nothing_installed, tmp_path):
    nothing_installed.setenv("CKPTKIT_CHROMIUM", str(tmp_path / "missing"))
    path, why = finder.find_chromium()
    assert path is None and why == f"CKPTKIT_CHROMIUM={tmp_path / 'missing'} is not an executable file"
