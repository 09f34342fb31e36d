import ckptkit
from ckptkit.exercises.nb00 import check_first_checkpoint
from ckptkit.lessons import checkup

import importlib.metadata
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
tf = ckptkit.import_tensorflow()


def _save(folder: Path, **objects) -> None:
    tf.train.Checkpoint(**objects).save(folder / "ckpt")


def test_first_checkpoint_right_answer(tmp_path):
    _save(tmp_path, x=tf.Variable([1.0, 2.0, 3.0]))
    assert check_first_checkpoint(tmp_path)


@pytest.mark.parametrize(
    ("objects", "hint"),
    [
        ({"v": tf.Variable([1.0, 2.0, 3.0])}, "holds no `x`"),
        ({"x": tf.Variable([0.0, 0.0, 0.0])}, "came back as [0.0, 0.0, 0.0]"),
        ({"x": tf.Variable([1, 2, 3])}, "stored as int32"),
        ({"x": tf.Variable([1.0, 2.0])}, "shape [2]"),
    ],
)
def test_first_checkpoint_wrong_answers(tmp_path, objects, hint):
    _save(tmp_path, **objects)
    feedback = check_first_checkpoint(tmp_path)
    assert not feedback and hint in feedback.message


@pytest.mark.parametrize("where", ["missing", "empty"])
def test_first_checkpoint_answers_on_nothing_saved(tmp_path, where):
    folder = tmp_path / where
    if where == "empty":
        folder.mkdir()
    feedback = check_first_checkpoint(folder)
    assert not feedback and "no checkpoint" in feedback.message


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
    assert [n[:2] for n in numbered] == [f"{i:02d}" for i in range(1, 11)]
