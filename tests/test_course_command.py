"""The README's main command, `make course`: JupyterLab on the learner's working copies (mywork/), with
course/ and exercises/ in reach and notebook 00 opened first; the working copies never overwritten by an
update, and refreshed on request with the learner's version kept beside the new one."""

import json
import subprocess
import urllib.request

import pytest

from minivit import workspace
from course_helpers import ROOT, make_course

FIRST = sorted((ROOT / "course").glob("00_*.ipynb"))[0].name


def test_make_course_serves_the_working_copies_and_opens_notebook_00(tmp_path):
    work = tmp_path / "mywork"
    with make_course(tmp_path, work) as url:
        assert f"/lab/tree/course/{FIRST}?token=" in url  # the printed address opens notebook 00
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            assert "<title>JupyterLab</title>" in response.read().decode()
        base, token = url.split("/lab/")[0], url.split("token=")[1]
        for folder in ["course", "exercises"]:
            with urllib.request.urlopen(f"{base}/api/contents/{folder}?token={token}", timeout=30) as response:
                names = {item["name"] for item in json.load(response)["content"]}
            assert {p.name for p in (ROOT / folder).glob("*.ipynb")} <= names
        with urllib.request.urlopen(f"{base}/lab/api/settings/{NOTIFICATION}?token={token}", timeout=30) as response:
            assert json.load(response)["schema"]["properties"]["fetchNews"]["default"] == "false"  # no news question
    assert (work / "course" / FIRST).read_bytes() == (ROOT / "course" / FIRST).read_bytes()


NOTIFICATION = "@jupyterlab/apputils-extension:notification"  # the plugin that asks "official Jupyter news?"


def test_the_course_jupyterlab_has_its_own_default_settings_without_the_news_question():
    """Default settings for the course's JupyterLab only, through its application settings folder: the learner's
    own settings (~/.jupyter/lab/user-settings) and their other JupyterLabs are left alone."""
    overrides = ROOT / ".jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(overrides.read_text()) == {NOTIFICATION: {"fetchNews": "false"}}
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "course"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert f"--LabApp.app_settings_dir={overrides.parent}" in dry_run
    assert "user_settings_dir" not in dry_run


def test_mywork_is_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", "mywork/course/x.ipynb"], cwd=ROOT)
    assert ignored.returncode == 0


@pytest.fixture
def repo(tmp_path):
    """A small stand-in repository: course/ with a notebook, a README and a results/ folder; exercises/."""
    root = tmp_path / "repo"
    (root / "course" / "results").mkdir(parents=True)
    (root / "exercises").mkdir()
    (root / "course" / "00_start.ipynb").write_text("version 1")
    (root / "course" / "README.md").write_text("read me")
    (root / "course" / "results" / "table.csv").write_text("a,b")
    (root / "exercises" / "01_task.ipynb").write_text("stub")
    return root


def test_prepare_copies_notebooks_once_and_links_the_rest(repo):
    work = repo / "mywork"
    assert workspace.prepare(repo, work) == []
    assert (work / "course" / "00_start.ipynb").read_text() == "version 1"
    assert (work / "exercises" / "01_task.ipynb").read_text() == "stub"
    assert (work / "course" / "README.md").is_symlink()
    assert (work / "course" / "results" / "table.csv").read_text() == "a,b"  # notebooks read results/

    (work / "exercises" / "01_task.ipynb").write_text("my answer")
    (repo / "exercises" / "01_task.ipynb").write_text("stub, version 2")  # a `git pull`
    (repo / "course" / "02_new.ipynb").write_text("new notebook")
    assert workspace.prepare(repo, work) == ["exercises/01_task.ipynb"]  # named, not overwritten
    assert (work / "exercises" / "01_task.ipynb").read_text() == "my answer"
    assert (work / "course" / "02_new.ipynb").read_text() == "new notebook"


def test_refresh_takes_the_new_version_and_keeps_the_learners_beside_it(repo):
    work = repo / "mywork"
    workspace.prepare(repo, work)
    (work / "exercises" / "01_task.ipynb").write_text("my answer")
    (repo / "exercises" / "01_task.ipynb").write_text("stub, version 2")

    kept = workspace.refresh("exercises/01_task.ipynb", repo, work)
    assert (work / "exercises" / "01_task.ipynb").read_text() == "stub, version 2"
    assert kept.parent == work / "exercises" and kept.name.startswith("01_task.mine-")
    assert kept.read_text() == "my answer"
    assert workspace.prepare(repo, work) == []  # up to date again, and the kept copy is left alone
    assert kept.read_text() == "my answer"

    with pytest.raises(ValueError, match="name must be a notebook of course/ or exercises/"):
        workspace.refresh("solutions/01_task.ipynb", repo, work)
