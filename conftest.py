"""nbval with other CPU kernels in the same run as everything else (`make test`, `--other-kernels`).

Every notebook that nbval collects is collected a second time, as `<path>[other-kernels]`, and its kernel is
started with the settings of tests/other_kernels.env (PyTorch's portable kernels, oneDNN and MKL held to SSE4):
every float sum then runs in another order, as on another learner's CPU, and a stored output that changes
depends on the CPU. One run for both passes lets pytest-xdist's two workers share them, where a second run
would wait for the first (tests/conftest.py keeps the files that start kernels on one worker).
"""

import os
from pathlib import Path

from nbval.plugin import IPyNbFile

SETTINGS = Path(__file__).with_name("tests") / "other_kernels.env"
# What PyTorch calls its portable kernels: "DEFAULT", or "NO AVX" before torch 2.5.
PORTABLE = ("DEFAULT", "NO AVX")
# Run in the kernel before the notebook's first cell; binds no name (torch is imported by the notebook anyway).
CHECK = f"assert __import__('torch').backends.cpu.get_cpu_capability() in {PORTABLE!r}, 'not the portable kernels'"
STARTUP = 120  # seconds for the check, torch's import included


def other_kernels() -> dict[str, str]:
    """The environment variables of tests/other_kernels.env."""
    lines = [line.strip() for line in SETTINGS.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def pytest_addoption(parser):
    parser.addoption("--other-kernels", action="store_true",
                     help="run every notebook a second time with the CPU kernels of tests/other_kernels.env")


class NotebookOnOtherKernels(IPyNbFile):
    """A notebook whose kernel starts with the other kernels' settings, and checks that it has them."""

    def setup(self):
        settings = other_kernels()
        saved = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)  # the kernel inherits the environment it is started with (and restarted with)
        try:
            super().setup()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        msg_id = self.kernel.kc.execute(CHECK, silent=True, store_history=False)
        reply = self.kernel.get_message(stream="shell", timeout=STARTUP)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kernel.get_message(stream="shell", timeout=STARTUP)
        self.kernel.await_idle(msg_id, timeout=STARTUP)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{self.path.name}: the kernel started with {settings} does not run PyTorch's "
                               f"portable kernels: {reply['content'].get('evalue', '')}")


def pytest_collect_file(file_path, parent):
    if not parent.config.getoption("other_kernels") or file_path.suffix != ".ipynb":
        return None
    if not (parent.config.option.nbval or parent.config.option.nbval_lax):
        return None
    try:  # the id nbval's own node gets: the path from the root folder
        native = file_path.relative_to(parent.config.rootpath).as_posix()
    except ValueError:
        native = file_path.as_posix()
    return NotebookOnOtherKernels.from_parent(parent, path=file_path, nodeid=f"{native}[other-kernels]")
