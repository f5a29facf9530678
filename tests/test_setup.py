"""The project's own wiring: the two README commands, environment.yml against pyproject.toml,
and the floors of the package: arrows point down or sideways, the ground floor imports only torch."""

import ast
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}


def requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_layout_of_the_design_card():
    for folder in ["minivit", "course", "solutions", "exercises", "tests", "benchmarks"]:
        assert (ROOT / folder).is_dir(), folder
    for name in ["README.md", "environment.yml", "pyproject.toml", "Makefile", ".ci/run"]:
        assert (ROOT / name).is_file(), name


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make course" in readme and "make test" in readme
    ci = (ROOT / ".ci/run").read_text()
    assert re.search(r"^make test$", ci, re.MULTILINE)


def requirement_floor(spec: str) -> str:
    return spec.strip()[len(requirement_name(spec)):].strip()


def test_environment_yml_names_the_same_packages_and_floors_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    pip_floors = {requirement_name(s): requirement_floor(s) for s in specs if requirement_name(s) != "minivit"}

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_floors, pip_section = {}, []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip_section += entry["pip"]
        else:
            name = requirement_name(entry)
            conda_floors[CONDA_TO_PYPI.get(name, name)] = requirement_floor(entry)
    conda_floors.pop("python"), conda_floors.pop("pip")
    assert conda_floors == pip_floors
    assert "-e ." in pip_section


def minivit_imports(path: Path) -> set[str]:
    """The modules a file imports, by name, as written in its import statements."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_ground_floor_imports_only_torch():
    modules = sorted((ROOT / "minivit" / "ops").glob("*.py"))
    assert len(modules) > 5
    for path in modules:
        for name in minivit_imports(path):
            assert name.split(".")[0] in {"torch", "math", "__future__"} or name.startswith("minivit.ops"), (
                f"{path.name} imports {name}")


# What each floor may import from minivit: arrows point down or sideways, never up; the learner's grading never
# imports the figures, the widgets, the training loop or the instructor's machinery. The measures and the
# segmentation heads of notebook 09 stand on the models' floor (MODEL_FLOOR, checked below), so grading may use them.
MODEL_FLOOR = {"metrics.py": ("minivit.ops",), "segmentation.py": ("minivit.ops", "minivit.models", "minivit.metrics")}
MAY_IMPORT = {
    "models": ("minivit.ops", "minivit.models"),
    "grading": ("minivit.ops", "minivit.models", "minivit.grading", "minivit.metrics", "minivit.segmentation"),
}


def test_no_floor_imports_upward():
    for folder, allowed in MAY_IMPORT.items():
        for path in sorted((ROOT / "minivit" / folder).rglob("*.py")):
            for name in minivit_imports(path):
                if name.split(".")[0] == "minivit" and name != "minivit":
                    assert name.startswith(allowed), f"minivit/{folder}/{path.name} imports {name}"
    for file, allowed in MODEL_FLOOR.items():
        for name in minivit_imports(ROOT / "minivit" / file):
            if name.split(".")[0] == "minivit" and name != "minivit":
                assert name.startswith(allowed), f"minivit/{file} imports {name}"


def test_public_names_are_importable_from_the_package():
    import minivit

    for name in ["patchify", "unpatchify", "window_partition", "window_reverse", "shifted_window_mask",
                 "relative_position_index", "mobilevit_unfold", "mobilevit_fold", "attention", "merge_patches",
                 "relative_position_bias", "shifted_window_attention"]:
        assert callable(getattr(minivit, name)), name


def test_make_test_lowest_pins_the_declared_floors_of_torch_torchvision_and_timm():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["course"]
    floors = {requirement_name(s): requirement_floor(s).removeprefix(">=") for s in specs}
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "--always-make", "test-lowest"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    pins = re.search(r"printf '%s\\n' (.*) >", dry_run).group(1).split()
    assert pins == [f"{name}=={floors[name]}" for name in ("torch", "torchvision", "timm")]
