"""Shared by the tests of `make course` and the browser tests: JupyterLab started as the README says, and
what the browser fixtures of conftest.py start Chromium with."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As root in a container, without a GPU, and without the background calls a closed network refuses.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREEN = {"width": 1440, "height": 900}
SHOTS = ROOT / "out" / "screenshots"  # ignored by git
NO_CHROMIUM = (f"no Chromium at {CHROMIUM}: install it with `sudo apt-get install chromium` (Debian, Ubuntu), "
               "or set CHROMIUM to a Chromium or Chrome binary")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def make_course(tmp_path: Path, work: Path, settings: dict[str, dict] | None = None) -> Iterator[str]:
    """`make course NO_BROWSER=1` on a free port with working copies in `work`; yields the address it prints.

    Jupyter's configuration, runtime and data (the notebook trust database) go to tmp_path, not the home folder.
    `settings` are JupyterLab user settings, e.g. {"@jupyterlab/notebook-extension/tracker": {...}}.
    """
    port = free_port()
    for plugin, values in (settings or {}).items():
        path = tmp_path / "config" / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "course", "NO_BROWSER=1", f"PORT={port}", f"WORK={work}"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            match = re.search(rf"http://(?:127\.0\.0\.1|localhost):{port}/lab\S*", log.read_text())
            url = match.group(0) if match else None
        assert url, f"JupyterLab did not start:\n{log.read_text()[-2000:]}"
        while not _accepts_connections(port) and time.monotonic() < deadline:  # printed a moment before it listens
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
