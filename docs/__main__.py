"""`python -m docs`: build the kit as a static site (a book) into docs/_build/html.

The book is assembled in a staging folder (OUT/src) and built with Sphinx + myst-nb from the
notebooks' COMMITTED outputs (no notebook runs):

- docs/*.md, docs/conf.py, docs/_ext and docs/_static, as they are;
- notebooks/*.ipynb under notebooks/, so a page's path is the notebook's path in the repository
  (the launch buttons and the .ipynb download use it);
- README.md's "Which file do I ship?", "Performance" and "Use checkpoints from a terminal" sections,
  cut out of README.md at build time (one copy of the text);
- the command line page's output, from a checkpoint this build trains and reads with
  `python -m ckptkit`;
- the ipywidgets HTML manager (@jupyter-widgets/html-manager's embed.js and its fonts), fetched from
  the npm registry with `npm pack`, so the stored widget panels render with no CDN and no kernel.

`sphinx-build -W --keep-going` turns every warning into a failure: a broken cross-reference, a
missing image, a notebook left out of the table of contents.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# The widget manager the pages load. 1.0.x renders ipywidgets 8's models (@jupyter-widgets/controls
# 2.0.0); the integrity is npm's, so a different tarball under the same name fails the build.
HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"
HTML_MANAGER_INTEGRITY = (
    "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA=="
)

# README.md sections shown as pages: heading -> file the pages include.
README_SECTIONS = {
    "Which file do I ship?": "which-file-do-i-ship.md",
    "Performance": "performance.md",
    "Use checkpoints from a terminal": "terminal.md",
}
BINDER_LINK = re.compile(r"https://mybinder\.org/v2/gh/([^/\s)]+/[^/\s)]+)/")

# The command line page: each command run in a scratch folder, with its expected exit code.
CLI_SESSION = [
    ("train", ["train", "--model", "linear", "--steps", "20", "--save-every", "10", "--workdir", "run"], 0),
    ("ls", ["ls", "run"], 0),
    ("inspect", ["inspect", "run/ckpt-20"], 0),
    ("diff", ["diff", "run/ckpt-10", "run/ckpt-20"], 1),
    ("migrate", ["migrate", "--model", "keras", "keras2", "keras3/ckpt"], 0),
]


class BuildError(RuntimeError):
    """The book could not be built; the message says why."""


def readme_section(text: str, heading: str) -> str:
    """The body of README's `## heading` section: the lines up to the next `## ` heading."""
    lines = text.splitlines()
    try:
        start = lines.index(f"## {heading}") + 1
    except ValueError:
        raise BuildError(f"README.md has no '## {heading}' section (the book shows it as a page)") from None
    end, fence = len(lines), False
    for i in range(start, len(lines)):
        if lines[i].startswith("```"):
            fence = not fence
        elif not fence and lines[i].startswith("## "):
            end = i
            break
    return "\n".join(lines[start:end]).strip() + "\n"


def readme_repository(text: str) -> str:
    """The owner/name README's Binder badge launches."""
    found = BINDER_LINK.search(text)
    if found is None:
        raise BuildError("README.md has no Binder link (https://mybinder.org/v2/gh/OWNER/NAME/...)")
    return found.group(1)


def cli_session(gen: Path) -> None:
    """Train a small model with `python -m ckptkit train`, read it back, and keep every output."""
    gen.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ckptkit-book-") as tmp:
        shutil.copytree(ROOT / "notebooks" / "data" / "keras2" / "adam", Path(tmp) / "keras2")
        for name, args, expected in CLI_SESSION:
            run = subprocess.run(
                [sys.executable, "-m", "ckptkit", *args], cwd=tmp, capture_output=True, text=True, check=False
            )
            if run.returncode != expected:
                raise BuildError(
                    f"`python -m ckptkit {' '.join(args)}` exited with {run.returncode}, not {expected}:\n"
                    f"{run.stdout}{run.stderr}"
                )
            out = run.stdout.replace(tmp, "…").rstrip()
            fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", out)), default=0))
            (gen / f"{name}.md").write_text(
                f"{fence}console\n$ python -m ckptkit {' '.join(args)}\n{out}\n{fence}\n"
                + (f"\nExit code {run.returncode}.\n" if run.returncode else ""),
                encoding="utf-8",
            )


def widget_manager(static: Path) -> None:
    """@jupyter-widgets/html-manager's embed.js and the fonts it loads, from the npm registry."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(
            "npm not found: the book fetches the widget JavaScript (" + HTML_MANAGER + ") from the npm "
            "registry with `npm pack`. Install Node.js 18+ with npm (Debian: apt-get install npm)."
        )
    with tempfile.TemporaryDirectory(prefix="ckptkit-npm-") as tmp:
        run = subprocess.run(
            [npm, "pack", "--json", "--prefer-offline", HTML_MANAGER],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            raise BuildError(f"`npm pack {HTML_MANAGER}` failed:\n{run.stdout}{run.stderr}")
        packed = json.loads(run.stdout)[0]
        if packed["integrity"] != HTML_MANAGER_INTEGRITY:
            raise BuildError(
                f"{HTML_MANAGER}: integrity {packed['integrity']}, expected {HTML_MANAGER_INTEGRITY}"
            )
        static.mkdir(parents=True, exist_ok=True)
        with tarfile.open(Path(tmp) / packed["filename"]) as tar:
            for member in tar.getmembers():
                name = Path(member.name)
                # embed.js is the bundle that needs no require.js; the hashed files are its fonts.
                keep = name.parent == Path("package/dist") and not name.name.endswith((".map", "amd.js"))
                if keep or name == Path("package/LICENSE"):
                    (static / name.name).write_bytes(tar.extractfile(member).read())


def stage(src: Path, repository: str) -> None:
    """Lay out the Sphinx source folder: docs, notebooks, README sections, CLI output, widget JS."""
    if src.exists():
        shutil.rmtree(src)
    ignore = shutil.ignore_patterns("_build", "__pycache__", "__main__.py", "__init__.py")
    shutil.copytree(DOCS, src, ignore=ignore)
    (src / "notebooks").mkdir()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy2(notebook, src / "notebooks" / notebook.name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    gen = src / "_generated"
    (gen / "readme").mkdir(parents=True)
    for heading, name in README_SECTIONS.items():
        (gen / "readme" / name).write_text(readme_section(readme, heading), encoding="utf-8")
    (gen / "settings.json").write_text(json.dumps({"repository": repository}), encoding="utf-8")
    cli_session(gen / "cli")
    widget_manager(src / "_static" / "widgets")


def build(out: Path = DOCS / "_build", repository: str | None = None) -> Path:
    """Build the book into OUT/html and return that folder (OUT/src is its staged source)."""
    from sphinx.cmd.build import build_main

    out = Path(out).resolve()
    if repository is None:
        repository = readme_repository((ROOT / "README.md").read_text(encoding="utf-8"))
    stage(out / "src", repository)
    html = out / "html"
    # -W --keep-going: every warning fails the build, and all of them are listed. -E: no stale state.
    args = ["-W", "--keep-going", "-E", "-q", "-b", "html", "-d", str(out / "doctrees")]
    code = build_main([*args, str(out / "src"), str(html)])
    if code != 0:
        raise BuildError(f"sphinx-build failed (exit code {code}); its warnings are above")
    # The themes copy their Jinja macro files into _static along with their assets; no page uses
    # them, and their unrendered {{ pathto(...) }} links would be the site's only broken ones.
    for macros in html.glob("_static/*webpack-macros.html"):
        macros.unlink()
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS / "_build", help="default: docs/_build")
    parser.add_argument(
        "--repository", help="OWNER/NAME for the Binder and repository links (default: README's Binder link)"
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        html = build(args.out, args.repository)
    except BuildError as e:
        print(f"python -m docs: {e}", file=sys.stderr)
        return 1
    print(f"built {html} in {time.perf_counter() - start:.1f} s: open {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
