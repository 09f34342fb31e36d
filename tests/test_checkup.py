from ckptkit.lessons import checkup

import importlib.metadata
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def _repo(tmp_path: Path, keras_pin: str) -> Path:
    (tmp_path / "binder").mkdir()
    pinned = f"# pins\ntensorflow==2.21.0\nkeras=={keras_pin}\nruff==0.0.1\n-e .\n"
    (tmp_path / "requirements.txt").write_text(pinned)
    (tmp_path / "binder" / "requirements.txt").write_text("tensorflow-cpu==2.21.0\nkeras==3.15.1\n")
    return tmp_path


def test_pins_are_compared_for_what_the_notebooks_import(tmp_path):
    installed = importlib.metadata.version("keras")
    assert checkup.pin_report(_repo(tmp_path, installed))  # ruff is a tool: its pin is not checked
    (tmp_path / "binder").rename(tmp_path / "other")
    wrong = checkup.pin_report(_repo(tmp_path, "0.0.1"))
    assert not wrong and f"keras {installed} (pinned 0.0.1)" in wrong.message


def test_the_repository_pins_match_this_environment():
    report = checkup.pin_report(ROOT)
    assert report and "tensorflow" in report.message


def test_source_is_this_repository_or_named(tmp_path):
    assert checkup.source_report(ROOT)
    elsewhere = checkup.source_report(tmp_path)
    assert not elsewhere and "pip install -e ." in elsewhere.message


def test_memory_advice_for_binder():
    assert checkup.memory_report(int(2.1e9))
    low = checkup.memory_report(int(1e9))
    assert not low and "Shut Down All Kernels" in low.message
    assert checkup.memory_available() > 0


def test_timings_missing_is_none(tmp_path):
    assert checkup.timings(tmp_path) is None


def test_start_page_links_every_notebook():
    nb = nbformat.read(ROOT / "notebooks" / "00_start_here.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    linked = set(re.findall(r"\]\(([^)]+\.ipynb)\)", text))
    on_disk = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} - {"00_start_here.ipynb"}
    assert on_disk <= linked, f"not on the start page: {sorted(on_disk - linked)}"
    numbered = sorted(n for n in linked if re.match(r"\d\d_", n))
    assert [n[:2] for n in numbered] == [f"{i:02d}" for i in range(1, len(numbered) + 1)]


def _notebook(folder: Path, name: str, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    for kind, text in cells:
        nb.cells.append(
            nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        )
    path = folder / "notebooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_study_minutes_count_words_and_code_cells(tmp_path):
    words = " ".join(["word"] * 400)  # two minutes at 200 words a minute
    path = _notebook(
        tmp_path,
        "01_x.ipynb",
        [("md", words), ("code", "x = 1"), ("md", "## Summary\n\n## Exercises\n\nDo it."), ("code", "f()")],
    )
    minutes, exercises = checkup.study_minutes(path)
    assert exercises == 1
    assert minutes == (400 + 6) / checkup.WORDS_PER_MINUTE + 2 * checkup.CODE_CELL_MINUTES  # "##" counts


def test_learning_path_rounds_to_five_minutes_and_reads_the_run_times(tmp_path):
    _notebook(tmp_path, "01_a.ipynb", [("md", " ".join(["w"] * 4000))])  # 20 minutes
    _notebook(tmp_path, "02_b.ipynb", [("code", "1")])  # under a minute: shown as 5
    (tmp_path / "notebooks" / "timings.json").write_text(
        '{"notebooks": [{"name": "01_a.ipynb", "seconds": 6.4}]}'
    )
    lines = checkup.learning_path(tmp_path).splitlines()
    assert lines[1].split() == ["01_a.ipynb", "20", "min", "0", "6", "s"]
    assert lines[2].split() == ["02_b.ipynb", "5", "min", "0", "-"]


def test_the_start_page_table_covers_every_numbered_notebook():
    table = checkup.learning_path(ROOT)
    assert all(p.name in table for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
