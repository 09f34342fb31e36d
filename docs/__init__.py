"""The kit as a book: `python -m docs` builds docs/_build/html (see docs/__main__.py)."""
