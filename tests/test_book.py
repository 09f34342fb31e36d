"""The book (`python -m docs`) read like a reader would: built, served on 127.0.0.1, opened in Chromium.

Marked `book` and deselected from the default `pytest --nbval` run (pyproject's addopts) to keep that
run in its time budget; `.ci/run` runs it in a step of its own:
`pytest -n 0 -m book tests/test_book.py`.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from browser import ARTIFACTS, CHROMIUM_ARGS, chromium, free_port

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [*sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), "app"]
PANEL_CHAPTER = "08_playground"
LOCAL = ("http://127.0.0.1:", "file:", "data:", "blob:", "about:")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book, built with the one command into a temporary folder."""
    out = tmp_path_factory.mktemp("book")
    run = subprocess.run(
        [sys.executable, "-m", "docs", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, f"python -m docs failed:\n{run.stdout}\n{run.stderr}"
    return out / "html"


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """The built site served as static files on 127.0.0.1."""
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("href", "src") and v]


def test_every_relative_link_resolves(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert {f"notebooks/{c}.html" for c in CHAPTERS} <= {p.relative_to(site).as_posix() for p in pages}
    broken = []
    for page in pages:
        parser = Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for url in parser.urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or not parts.path:  # external, or a #fragment on this page
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {url}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)


def test_chapters_launch_buttons_and_downloads(site: Path) -> None:
    for chapter in CHAPTERS:
        html = (site / "notebooks" / f"{chapter}.html").read_text(encoding="utf-8")
        assert f"?urlpath=lab/tree/notebooks/{chapter}.ipynb" in html, chapter
        assert "?urlpath=voila/render/notebooks/app.ipynb" in html, chapter
        assert f'href="../_sources/notebooks/{chapter}.ipynb"' in html, chapter
        assert (site / "_sources" / "notebooks" / f"{chapter}.ipynb").is_file()


def test_read_in_chromium(server: str) -> None:
    from playwright.sync_api import sync_playwright

    executable = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))

            # The sidebar of the start page reaches every chapter, in learning-path order.
            page.goto(f"{server}/index.html")
            nav = page.locator("nav.bd-docs-nav a.reference.internal")
            hrefs = [h for h in nav.evaluate_all("els => els.map(e => e.href)") if "/notebooks/" in h]
            assert [urlsplit(h).path.rsplit("/", 1)[1] for h in hrefs] == [f"{c}.html" for c in CHAPTERS]

            # Every chapter loads, with its title and the stored outputs.
            for href, chapter in zip(hrefs, CHAPTERS, strict=True):
                response = page.goto(href)
                assert response is not None and response.ok, chapter
                assert page.locator("article h1").count() >= 1, chapter
                assert page.locator("div.cell_output").count() >= 1, chapter
                if chapter == "04_inside_a_checkpoint":
                    page.screenshot(path=str(ARTIFACTS / "book-chapter.png"))

            # The playground's panel, drawn from the stored widget state with no kernel.
            page.goto(f"{server}/notebooks/{PANEL_CHAPTER}.html")
            panel = page.locator(".widget-vbox, .jupyter-widgets.widget-container").first
            panel.wait_for(state="visible", timeout=20_000)
            buttons = page.locator("button.jupyter-button")
            assert buttons.count() >= 4, "the panel's buttons are missing"
            labels = " ".join(buttons.all_inner_texts())
            for label in ("Train", "Save", "Restore", "Compare"):
                assert label in labels, labels
            plot = page.locator(".widget-image").first
            plot.wait_for(state="visible")
            assert plot.evaluate("img => img.complete && img.naturalWidth > 100"), "the plot image is empty"
            assert page.locator("p.kernel-note").count() >= 1
            panel.evaluate("el => window.scrollBy(0, el.getBoundingClientRect().top - 90)")  # below the bar
            page.screenshot(path=str(ARTIFACTS / "book-panel.png"))

            # Sphinx's search, offline: finds the chapters that explain assert_consumed.
            page.goto(f"{server}/search.html?q=assert_consumed")
            results = page.locator("#search-results ul.search li")
            results.first.wait_for(timeout=20_000)
            found = results.evaluate_all("els => els.map(e => e.querySelector('a').href)")
            assert any("04_inside_a_checkpoint" in h for h in found), found
        finally:
            browser.close()

    outside = sorted({u for u in requests if not u.startswith(LOCAL)})
    assert not outside, "requests outside the site:\n" + "\n".join(outside)
    assert not errors, errors


def test_widget_script_is_the_shipped_one(site: Path) -> None:
    """The panel page loads the HTML manager from the site and holds the stored state."""
    html = (site / "notebooks" / f"{PANEL_CHAPTER}.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert "../_static/widgets/embed.js" in [s.split("?")[0] for s in scripts], scripts
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', html, re.S)
    assert state is not None
    assert json.loads(state.group(1))["state"], "no widget state in the page"
