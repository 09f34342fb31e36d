"""The start page's helpers: is this kernel the kit's environment, how much memory it has, how long each
notebook takes to study and to run.

Serves `notebooks/00_start_here.ipynb`.
"""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback
from ckptkit.live.quiet import import_tensorflow

import importlib.metadata
import json
import os
import re
from pathlib import Path

tf = import_tensorflow()

__all__ = [
    "CODE_CELL_MINUTES",
    "MEMORY_NEEDED",
    "WORDS_PER_MINUTE",
    "learning_path",
    "memory_available",
    "memory_report",
    "pin_report",
    "pins",
    "source_report",
    "study_minutes",
    "timings",
]

GB = 10**9
# A kernel peaks under 1 GB (the bench checks it), but 04 and 06 start TensorFlow child processes:
# with them they peak near 1.5 GB (notebooks/timings.json), and the Jupyter server needs some too.
MEMORY_NEEDED = 1.8 * GB
# Study time, counted from the notebook file: its prose read at 200 words a minute, plus 45 seconds
# for each code cell (about five lines of code and what they print).
WORDS_PER_MINUTE = 200
CODE_CELL_MINUTES = 0.75
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)")
# Installed under another distribution name on Binder: the same release without GPU libraries.
_ALIASES = {"tensorflow-cpu": "tensorflow"}


def _normal(name: str) -> str:
    name = re.sub(r"[-_.]+", "-", name).lower()
    return _ALIASES.get(name, name)


def pins(requirements: str | os.PathLike[str]) -> dict[str, str]:
    """The `name==version` pins of a requirements file, by normalised name."""
    found = {}
    for line in Path(requirements).read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[_normal(match.group(1))] = match.group(2)
    return found


def _installed(name: str) -> str | None:
    for dist in (name, *(alias for alias, real in _ALIASES.items() if real == name)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def pin_report(root: str | os.PathLike[str]) -> Feedback:
    """Compare the installed versions of what the notebooks import with the pins of `root/requirements.txt`.

    The packages checked are those the Binder image installs too (`binder/requirements.txt`): the
    notebooks' own; test and lint tools do not change a notebook's output.
    """
    wanted, runtime = pins(Path(root) / "requirements.txt"), pins(Path(root) / "binder" / "requirements.txt")
    names = [name for name in wanted if name in runtime]
    wrong = [
        f"{n} {_installed(n) or 'missing'} (pinned {wanted[n]})" for n in names if _installed(n) != wanted[n]
    ]
    if wrong:
        return Feedback(
            False,
            "not the pinned versions: " + ", ".join(wrong) + ": run `pip install -r requirements.txt` "
            "in the environment this kernel runs, then restart the kernel",
        )
    # The same words whatever the list holds: a pin added later does not change the start page.
    return Feedback(
        True,
        f"pins match requirements.txt for {', '.join(names[:2])} and every other package the notebooks use",
    )


def source_report(root: str | os.PathLike[str]) -> Feedback:
    """Say whether `ckptkit` is imported from the repository at `root` (an editable install of it)."""
    here = Path(__file__).resolve().parents[1]  # ckptkit/lessons/checkup.py -> ckptkit
    if here == (Path(root) / "ckptkit").resolve():
        return Feedback(True, "ckptkit is imported from this repository")
    return Feedback(
        False,
        f"ckptkit is imported from {here}, not from this repository: run `pip install -e .` in the "
        "repository, or pick the kernel of the environment you installed it into",
    )


def memory_available() -> int:
    """Bytes this process may use: the cgroup limit (containers, Binder) or else the machine's RAM."""
    import psutil

    total = psutil.virtual_memory().total
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # "max" (v2) or a huge number (v1) mean no limit
            total = min(total, int(text))
    return total


def memory_report(available: int | None = None) -> Feedback:
    """Whether there is memory for one notebook at a time, with what to do on Binder's 2 GB."""
    available = memory_available() if available is None else available
    advice = (
        "on Binder (about 2 GB) run one notebook at a time and shut down kernels you are done with "
        "(Kernel › Shut Down All Kernels)"
    )
    if available >= MEMORY_NEEDED:
        return Feedback(True, f"memory ≥ {MEMORY_NEEDED / GB:.1f} GB: ok; {advice}")
    return Feedback(
        False,
        f"memory below {MEMORY_NEEDED / GB:.1f} GB: a notebook may be stopped when it runs out; {advice}",
    )


def timings(root: str | os.PathLike[str]) -> dict | None:
    """What `python -m benchmarks --timings` recorded in `root/notebooks/timings.json`, if anything."""
    try:
        return json.loads((Path(root) / "notebooks" / "timings.json").read_text())
    except FileNotFoundError:
        return None


def study_minutes(notebook: str | os.PathLike[str]) -> tuple[float, int]:
    """(minutes to read `notebook`, its number of exercises), counted from the file by the rule above.

    Exercises are the code cells after the `## Exercises` heading; the reading time counts them as
    cells to read, not the minutes it takes to solve them.
    """
    cells = json.loads(Path(notebook).read_text())["cells"]
    words = code = exercises = 0
    in_exercises = False
    for cell in cells:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            words += len(text.split())
            in_exercises = in_exercises or re.search(r"^## Exercises", text, re.MULTILINE) is not None
        elif cell["cell_type"] == "code":
            code += 1
            exercises += in_exercises
    return words / WORDS_PER_MINUTE + code * CODE_CELL_MINUTES, exercises


def learning_path(root: str | os.PathLike[str]) -> str:
    """A table: each numbered notebook's reading time (to the nearest 5 minutes), exercises and run time.

    The run time is the wall time `python -m benchmarks --timings notebooks/timings.json` recorded
    for it in a fresh kernel, if it recorded one.
    """
    record = timings(root) or {"notebooks": []}
    seconds = {row["name"]: row["seconds"] for row in record["notebooks"]}
    lines = [f"{'notebook':38} {'reading':>8} {'exercises':>9} {'runs in':>8}"]
    for path in sorted((Path(root) / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        minutes, exercises = study_minutes(path)
        ran = f"{seconds[path.name]:.0f} s" if path.name in seconds else "-"
        lines.append(f"{path.name:38} {5 * max(1, round(minutes / 5)):>4d} min {exercises:>9d} {ran:>8}")
    return "\n".join(lines)
