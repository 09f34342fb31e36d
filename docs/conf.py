"""Sphinx configuration of the book. Build it with `python -m docs`, which stages this folder first."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# Written by `python -m docs`: the repository README's Binder badge launches (or --repository).
REPOSITORY = json.loads((HERE / "_generated" / "settings.json").read_text(encoding="utf-8"))["repository"]
BINDER = "https://mybinder.org"

project = "ckptkit"
author = "the ckptkit authors"
copyright = "the ckptkit authors"
html_title = "ckptkit: TensorFlow 2 checkpoints"

extensions = ["myst_nb", "sphinx_book_theme", "book_extras"]
root_doc = "index"
# _generated holds README sections and command output that pages include, not pages of their own.
exclude_patterns = ["_build", "_generated", "**/.ipynb_checkpoints"]

# The notebooks are shown with the outputs they were committed with: nothing runs at build time.
nb_execution_mode = "off"
# The stored ipywidgets state is drawn by the HTML manager shipped in _static/widgets (fetched from
# npm by `python -m docs`), not by myst-nb's default CDN copy: the site works offline.
nb_ipywidgets_js = {"widgets/embed.js": {}}  # relative to _static
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": f"https://github.com/{REPOSITORY}",
    "repository_branch": "HEAD",
    "path_to_docs": "",  # a chapter's page name is its notebook's path in the repository
    "use_repository_button": True,
    "use_download_button": True,  # the chapter's .ipynb, from _sources
    "use_source_button": False,
    "use_edit_page_button": False,
    "use_issues_button": False,
    "launch_buttons": {"binderhub_url": BINDER, "notebook_interface": "jupyterlab"},
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "navbar_persistent": [],  # pydata-sphinx-theme 0.20 would add a second search box in a top bar
}
# book_extras adds the Voilà app to each chapter's launch menu.
book_voila_url = f"{BINDER}/v2/gh/{REPOSITORY}/HEAD?urlpath=voila/render/notebooks/app.ipynb"
