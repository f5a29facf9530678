"""The course notebooks: in order, each built on minivit, none reaching the network.
(nbval re-executes them and compares every stored output; this file checks what nbval cannot.)"""

import re
from pathlib import Path

import nbformat
import pytest

from minivit.grading import NOTEBOOKS as GRADED

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "course").glob("[0-9][0-9]_*.ipynb"))
NETWORK = re.compile(
    r"urllib|requests\.|http[s]?://|socket|download|pretrained\s*=\s*True|weights\s*=\s*['\"A-Z]"
    r"|load_state_dict_from_url|torch\.hub|hf_hub|fetch_openml|wget|curl"
)


def code_of(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def test_notebooks_exist_in_order():
    numbers = [int(p.stem[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 10  # 00 to 09 at least, none missing
    assert set(GRADED) <= {p.stem for p in NOTEBOOKS}  # every graded notebook has its course notebook
    assert len({p.stem[:2] for p in NOTEBOOKS}) == len(NOTEBOOKS)  # one notebook per number


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_imports_minivit(path):
    assert re.search(r"^\s*(import minivit|from minivit[\w.]* import)", code_of(path), re.MULTILINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_never_reaches_the_network(path):
    found = NETWORK.findall(code_of(path))
    assert not found, f"{path.name} looks like it reaches the network: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_starts_with_goals_and_ends_with_questions_and_exercise(path):
    notebook = nbformat.read(path, as_version=4)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert markdown and markdown[0].lstrip().startswith("# ")
    assert re.search(r"goal", markdown[0] + (markdown[1] if len(markdown) > 1 else ""), re.IGNORECASE)
    tail = "\n".join(markdown[-3:])
    assert re.search(r"check your understanding", "\n".join(markdown), re.IGNORECASE)
    if path.stem in GRADED:
        assert "exercises/" in tail


@pytest.mark.parametrize("path", NOTEBOOKS + sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_outputs_of_training_are_not_compared_digit_by_digit(path):
    """A cell that trains prints numbers whose last digits depend on the CPU: nbval must skip its output."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and re.search(r"\bfit\(", cell.source):
            assert "nbval-ignore-output" in cell.metadata.get("tags", []), f"{path.name} cell {index} trains"


PROGRESS = re.compile(r"(\d+)%\|")  # tqdm's bar: "  0%|          | 0/540 [...]"


@pytest.mark.parametrize("path", NOTEBOOKS + sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_stored_progress_bars_are_finished(path):
    """A saved notebook looks like a finished run: every progress bar stored in it is at 100%."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") + output.get("data", {}).get("text/plain", "")
            for percent in PROGRESS.findall(text.split("\r")[-1] if "\r" in text else text):
                assert percent == "100", f"{path.name} cell {index} stores a progress bar at {percent}%"
