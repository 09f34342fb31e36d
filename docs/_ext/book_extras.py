"""The book's own Sphinx additions: a kernel note under every stored widget panel, the Voilà button."""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNEL_NOTE = (
    "This panel is drawn from the state saved in the notebook: its buttons need a running kernel. "
    "Open the chapter with the launch button (the rocket at the top of the page) to use them."
)


def add_kernel_notes(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Put a one-line note after each widget view myst-nb rendered from a stored output."""
    for raw in list(doctree.findall(nodes.raw)):
        if WIDGET_VIEW in raw.astext():
            note = nodes.paragraph("", KERNEL_NOTE, classes=["kernel-note"])
            raw.parent.insert(raw.parent.index(raw) + 1, note)


def add_voila_button(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Append the Voilà app to the launch menu sphinx-book-theme put on a notebook page."""
    for button in context.get("header_buttons", []):
        if button.get("label") == "launch-buttons":
            button["buttons"].append(
                {
                    "type": "link",
                    "text": "Voilà app",
                    "tooltip": "Open the Checkpoint Lab app (Voilà on Binder)",
                    "icon": "_static/images/logo_binder.svg",
                    "url": app.config.book_voila_url,
                }
            )


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_voila_url", "", "html")
    app.connect("doctree-resolved", add_kernel_notes)
    # After sphinx-book-theme's own launch buttons (priority 501).
    app.connect("html-page-context", add_voila_button, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
