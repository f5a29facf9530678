"""The README's main command, `make course`, opens JupyterLab on the course: started here without a
browser on a free port, its page is fetched on localhost, then it is stopped."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_course_serves_jupyterlab_on_the_course(tmp_path):
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "course", "NO_BROWSER=1", f"PORT={port}"],
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
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            assert "<title>JupyterLab</title>" in response.read().decode()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_make_course_opens_the_first_notebook():
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "course", "NO_BROWSER=1"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    launch = [line for line in dry_run.splitlines() if "jupyter lab" in line]
    assert launch, dry_run
    first = sorted((ROOT / "course").glob("00_*.ipynb"))
    expected = f"course/{first[0].name}" if first else "course"
    assert launch[0].split()[-1] == expected
    assert "--no-browser" in launch[0]
