"""The install that checks itself: after installing, torch, torchvision and timm must import and run, and a
broken environment is explained in one paragraph that ends with the command that fixes it."""

import re
import subprocess
import sys
import tomllib

import pytest
import timm
import torch
import torchvision

from minivit import environment
from course_helpers import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def floor(name: str) -> str:
    """The requirement as pyproject.toml writes it, e.g. "torch>=2.4"."""
    specs = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["course"]
    return next(spec for spec in specs if re.match(rf"{name}[<>=]", spec))


def test_this_environment_runs_all_three(capsys):
    assert environment.problem() is None
    assert environment.main() == 0
    out = capsys.readouterr().out
    for module in (torch, torchvision, timm):
        assert f"{module.__name__} {module.__version__}" in out


def test_torch_and_torchvision_from_different_builds_are_named_with_the_command_that_fixes_them(monkeypatch, capsys):
    def nms(*args, **kwargs):  # what torchvision raises when its compiled operators do not match torch
        raise RuntimeError("operator torchvision::nms does not exist")

    monkeypatch.setattr(torchvision.ops, "nms", nms)
    assert environment.main() == 1
    message = capsys.readouterr().err
    words = " ".join(message.split())
    assert f"torchvision {torchvision.__version__} does not run with torch {torch.__version__}" in words
    assert "(RuntimeError: operator torchvision::nms does not exist)" in words
    assert "different builds" in words
    command = (f'{sys.executable} -m pip install --force-reinstall "{floor("torch")}" "{floor("torchvision")}" '
               "--index-url https://download.pytorch.org/whl/cpu")
    assert message.splitlines()[-1] == "    " + command  # whole on one line, to copy
    assert "\n\n" not in message.strip()  # one paragraph


def test_a_missing_package_is_named_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # `import timm` now raises ModuleNotFoundError
    message = environment.problem()
    assert message.startswith(f"timm is not installed in {sys.prefix}")
    assert message.splitlines()[-1] == f'    {sys.executable} -m pip install -e ".[course]"'


def test_a_package_that_fails_otherwise_is_named_with_its_error_and_a_reinstall(monkeypatch):
    def broken(*args, **kwargs):
        raise AttributeError("module 'torch' has no attribute 'something_new'")

    monkeypatch.setattr(timm.layers, "PatchEmbed", broken)
    message = environment.problem()
    words = " ".join(message.split())
    assert f"timm {timm.__version__} is installed but does not run with torch {torch.__version__}" in words
    assert "(AttributeError: module 'torch' has no attribute 'something_new')" in words
    assert message.splitlines()[-1] == f'    {sys.executable} -m pip install --force-reinstall --no-deps "{floor("timm")}"'


@pytest.mark.parametrize("target", ["setup-course", "setup-test"])
def test_make_checks_the_environment_right_after_installing(target):
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "--always-make", target], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.splitlines()
    install = next(i for i, line in enumerate(dry_run) if " -m pip install " in line and "-e " in line)
    assert re.fullmatch(r"\S+/python -I minivit/environment\.py", dry_run[install + 1])
    assert dry_run[install + 2].startswith("touch ")  # the installed mark only after the check has passed
