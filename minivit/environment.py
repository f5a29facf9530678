"""Can this Python run the course? Imports torch, torchvision and timm and runs one small operation of each;
on a failure, says in one paragraph what is wrong and the command that fixes it, and exits with status 1.

`make course` and `make test` run it right after installing, as a file (`python -I minivit/environment.py`):
run as `python -m minivit.environment`, Python would first import the package, whose functions import torch,
and a torch that cannot be imported would fail there, with a traceback instead of this module's explanation.

The failure it was written for: torch and torchvision from different builds (pip took one from PyTorch's CPU
index and the other from PyPI), where `import torchvision` fails with "operator torchvision::nms does not exist".
"""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata

CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # PyTorch's CPU-only builds, the README's install route


def _run_torch() -> None:
    import torch

    torch.ones(2) @ torch.ones(2)


def _run_torchvision() -> None:
    import torch
    import torchvision

    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 1.9]])
    torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), iou_threshold=0.5)  # an operator compiled against torch


def _run_timm() -> None:
    import timm
    import torch

    timm.layers.PatchEmbed(img_size=4, patch_size=2, in_chans=1, embed_dim=2)(torch.zeros(1, 1, 4, 4))


RUNS = {"torch": _run_torch, "torchvision": _run_torchvision, "timm": _run_timm}  # in import order


def _version(package: str) -> str:
    """The imported module's version, which names its build (e.g. 2.4.1+cpu), or else the installed one."""
    if hasattr(sys.modules.get(package), "__version__"):
        return sys.modules[package].__version__
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _requirement(package: str) -> str:
    """The package with minivit's lower bound, as in pyproject.toml, e.g. "torch>=2.4"."""
    try:
        requirements = metadata.requires("minivit") or []
    except metadata.PackageNotFoundError:
        requirements = []
    for requirement in requirements:
        spec = requirement.split(";")[0].strip()
        if spec.startswith(package) and spec[len(package):][:1] in "<>=!~":
            return spec
    return package


def _pip_install(*args: str) -> str:
    return " ".join([sys.executable, "-m", "pip", "install", *args])


def _said(error: BaseException) -> str:
    """The error's type and the first line of its message, e.g. "RuntimeError: operator ... does not exist"."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _paragraph(what: str, command: str) -> str:
    """The explanation wrapped to 100 characters, then the command whole on its own line, to copy."""
    return textwrap.fill(what, 100) + "\n    " + command


def explain(package: str, error: BaseException) -> str:
    """What is wrong when running `package` raised `error`, and the command that fixes it, as one paragraph."""
    if isinstance(error, ModuleNotFoundError) and error.name == package:
        what = (f"{package} is not installed in {sys.prefix}, and the course needs it. Install the course's "
                "packages, from the repository's folder:")
        return _paragraph(what, _pip_install("-e", '".[course]"'))
    if package in ("torch", "torchvision"):
        if package == "torch":
            what = f"torch {_version('torch')} is installed but does not run ({_said(error)})."
        else:
            what = (f"torchvision {_version('torchvision')} does not run with torch {_version('torch')} "
                    f"({_said(error)}): the two come from different builds, e.g. one from PyTorch's CPU index and "
                    "the other from PyPI, and torchvision's compiled operators work only with the torch they were "
                    "built for.")
        what += (" Reinstall torch and torchvision from one place, PyTorch's CPU build as in the README (if "
                 f"{CPU_INDEX} cannot be reached, leave out --index-url to take both from PyPI):")
        return _paragraph(what, _pip_install("--force-reinstall", f'"{_requirement("torch")}"',
                                             f'"{_requirement("torchvision")}"', "--index-url", CPU_INDEX))
    what = (f"{package} {_version(package)} is installed but does not run with torch {_version('torch')} "
            f"({_said(error)}). Reinstall it:")
    return _paragraph(what, _pip_install("--force-reinstall", "--no-deps", f'"{_requirement(package)}"'))


def problem() -> str | None:
    """The first thing wrong with torch, torchvision or timm, explained; None if all three import and run."""
    for package, run in RUNS.items():
        try:
            run()
        except Exception as error:
            return explain(package, error)
    return None


def main() -> int:
    found = problem()
    if found:
        print(found, file=sys.stderr)
        return 1
    print(", ".join(f"{package} {_version(package)}" for package in RUNS) + ": each imports and runs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
