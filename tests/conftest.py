import functools
import json
import math
import os
from datetime import datetime
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import settings

from course_helpers import CHROMIUM, CHROMIUM_FLAGS, SCREEN

# Property tests run the same examples on every machine, and stay fast on a 2-core CPU.
settings.register_profile("minivit", max_examples=60, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "minivit"))

# At most 2 threads, shared out among pytest-xdist's workers (`make test` runs two).
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1)))))


# The files that start kernels, servers or a browser, in two groups. Under `make test` (-n 2 --dist loadfile) each
# group runs one file after the other on one worker, and the two groups start first, one on each worker: the
# grader's files never run two at once, so that their kernels, timed against their limits, do not starve; the
# browser's, the website's and `make course`'s files, which wait on servers more than they compute, run beside
# them. Every other file runs whole on one worker (a notebook's cells in one kernel, a module's fixtures built once).
KERNELS = {
    "grader": [
        "tests/test_grading_custom_tasks.py", "tests/test_grading_grader.py", "tests/test_grading_gradebook.py",
        "tests/test_grading_hostile.py", "tests/test_grading_notebooks.py", "tests/test_grading_processes.py",
        "tests/test_grading_sandbox.py",
    ],
    "browser": ["tests/test_book.py", "tests/test_browser.py", "tests/test_course_command.py"],
}
GROUP_OF = {path: group for group, paths in KERNELS.items() for path in paths}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own choice
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    root = Path(__file__).resolve().parents[1]
    missing = [path for path in GROUP_OF if not (root / path).is_file()]
    assert not missing, f"tests/conftest.py's KERNELS names files that do not exist: {missing}"

    class KernelFilesTogether(LoadFileScheduling):
        """Each group of KERNELS files as one unit; the longest units first, so that none starts near the end of
        the run and keeps one worker busy alone: the KERNELS groups, then the notebooks by the time their stored
        run took, then every other file (pytest-xdist's own order: most tests first)."""

        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return GROUP_OF.get(path, path)

        def _assign_work_unit(self, node) -> None:
            longest = max(self.workqueue, key=lambda scope: expected_seconds(root, scope))  # the first of equals
            self.workqueue.move_to_end(longest, last=False)
            super()._assign_work_unit(node)

    return KernelFilesTogether(config, log)


@functools.cache
def expected_seconds(root: Path, scope: str) -> float:
    """How long a unit of pytest-xdist's work is expected to take, to start the longest first: the KERNELS files
    groups longest of all; a notebook, the sum of its cells' stored run times (their execution timestamps), half as long
    again with the other kernels (portable kernels are slower); any other file, 0."""
    if scope in KERNELS:
        return math.inf
    path, other = scope.removesuffix("[other-kernels]"), scope.endswith("[other-kernels]")
    if not path.endswith(".ipynb"):
        return 0.0
    seconds = 0.0
    for cell in json.loads((root / path).read_text())["cells"]:
        times = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in times and "shell.execute_reply" in times:
            start, end = (datetime.fromisoformat(times[key]) for key in ("iopub.execute_input", "shell.execute_reply"))
            seconds += (end - start).total_seconds()
    return seconds * (1.5 if other else 1.0)


@pytest.fixture(scope="module")  # module fixtures that train (test_train's first run) get one thread too
def one_thread():
    """Run a test on one thread: models this small train no faster on two, and two threads that wait on each
    other slow down many times over when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def train_on_one_batch():
    """train(model, x, y, steps) -> the cross-entropy loss before each of `steps` AdamW steps (lr 3e-3)
    on the one batch x, y: class indices (B,) for logits (B, K), or (B, H, W) for scores (B, K, H, W)."""

    def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> list[float]:
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        losses = []
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    return train


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright, for the browser tests (test_browser.py, test_book.py)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A new page on a 1440 x 900 screen, 60 s for anything to show up."""
    context = browser.new_context(viewport=SCREEN)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
