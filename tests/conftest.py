import os
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


# The files that start kernels, servers or a browser. Under `make test` (-n 2 --dist loadfile) they run one
# after the other on one worker, never two at once, so that the grader's own kernels do not starve; every other
# file runs whole on one worker (a notebook's cells in one kernel, a module's fixtures built once).
KERNELS = [
    "tests/test_book.py", "tests/test_browser.py", "tests/test_course_command.py", "tests/test_grading_custom_tasks.py",
    "tests/test_grading_grader.py",
    "tests/test_grading_gradebook.py", "tests/test_grading_hostile.py", "tests/test_grading_notebooks.py",
    "tests/test_grading_processes.py", "tests/test_grading_sandbox.py",
]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own choice
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    root = Path(__file__).resolve().parents[1]
    missing = [path for path in KERNELS if not (root / path).is_file()]
    assert not missing, f"tests/conftest.py's KERNELS names files that do not exist: {missing}"

    class KernelFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "kernels" if path in KERNELS else path

    return KernelFilesTogether(config, log)


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
