"""The exercises run top to bottom, as a learner's "Run All" does: the only error they may raise is
NotImplementedError, and every check cell says "not implemented" instead of printing a traceback.
(nbval runs the solutions: see testpaths in pyproject.toml.)"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from minivit.grading import NOTEBOOKS
from grading_helpers import EXERCISES


@pytest.fixture(scope="module")
def executed():
    """Each exercise notebook, run top to bottom; all six one after the other in one kernel, to save time
    (their names do not clash)."""
    notebooks = {stem: nbformat.read(EXERCISES / f"{stem}.ipynb", as_version=4) for stem in NOTEBOOKS}
    together = nbformat.v4.new_notebook(metadata=notebooks[next(iter(NOTEBOOKS))].metadata)
    together.cells = [cell for nb in notebooks.values() for cell in nb.cells]
    NotebookClient(together, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(EXERCISES)}}).execute()
    return notebooks  # their cells are the ones that were run, now with outputs


@pytest.mark.parametrize("stem", list(NOTEBOOKS))
def test_exercises_raise_only_not_implemented_and_checks_say_so(executed, stem):
    nb = executed[stem]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert all(e.ename == "NotImplementedError" for e in errors), [(e.ename, e.evalue) for e in errors]
    checks = [c for c in nb.cells if c.source.startswith("check(")]
    assert len(checks) == len(NOTEBOOKS[stem])
    for cell in checks:
        text = "".join(o.get("text", "") for o in cell.outputs)
        name = cell.source.split('"')[1]
        assert text.startswith(f"{name}: not implemented yet."), text
        assert "Traceback" not in text
