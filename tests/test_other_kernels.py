"""`make test` runs every notebook twice, in one run: with this CPU's kernels, and with the settings of
tests/other_kernels.env (`--other-kernels`, the root conftest.py). That second pass proves something only if
those settings really change the digits of a trained result; this test shows that they do, and that only the
last digits change."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.versions  # what these settings change depends on torch's kernels

ROOT = Path(__file__).parents[1]
PLUGIN = ROOT / "conftest.py"  # --other-kernels: reads tests/other_kernels.env, starts the second kernels with it


# A few AdamW steps of the course's small CNN on real digits, one thread: its losses, to the last bit.
TRAIN = """
import torch, torch.nn.functional as F
from minivit.data import digits
from minivit.models.toy_models import SmallCNN
torch.set_num_threads(1)
torch.manual_seed(0)
data = digits("train")
model = SmallCNN(in_channels=1, num_classes=10)
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
for step in range(20):
    images, labels = data.images[32 * step : 32 * step + 32], data.labels[32 * step : 32 * step + 32]
    loss = F.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(loss.item().hex(), torch.backends.cpu.get_cpu_capability())
"""


@pytest.fixture(scope="module")
def settings(pytestconfig) -> dict[str, str]:
    """tests/other_kernels.env, as the root conftest.py reads it for the kernels of --other-kernels."""
    return pytestconfig.pluginmanager.get_plugin(str(PLUGIN)).other_kernels()


def train(extra_env: dict[str, str], settings: dict[str, str]) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in settings} | extra_env
    out = subprocess.run([sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True, check=True)
    loss, capability = out.stdout.strip().splitlines()[-1].split(maxsplit=1)
    return capability, float.fromhex(loss)


def test_make_test_runs_every_notebook_again_with_these_settings(settings):
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "test"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    both = [line for line in dry_run.splitlines() if "pytest" in line and "--other-kernels" in line]
    assert len(both) == 1 and "course" not in both[0].split("pytest", 1)[1], dry_run  # all testpaths, both passes
    assert settings["ATEN_CPU_CAPABILITY"] == "default"
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                "--other-kernels", "course", "solutions"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout
    files = {line.split("::")[0] for line in collected.splitlines() if "::" in line}
    notebooks = {path.relative_to(ROOT).as_posix() for folder in ("course", "solutions")
                 for path in (ROOT / folder).glob("*.ipynb")}
    assert files == notebooks | {f"{notebook}[other-kernels]" for notebook in notebooks}


# What PyTorch calls its portable kernels: "DEFAULT", or "NO AVX" before torch 2.5.
PORTABLE = {"DEFAULT", "NO AVX"}


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() in PORTABLE,
                    reason="this CPU has no vector kernels to swap for the portable ones")
def test_other_kernels_change_the_last_digits_of_a_trained_loss(settings):
    native_capability, native = train({}, settings)
    other_capability, other = train(settings, settings)
    assert native_capability not in PORTABLE and other_capability in PORTABLE
    assert native != other, "the other kernels computed the same bits: the second notebook run would prove nothing"
    assert native == pytest.approx(other, rel=1e-3), "the two runs should differ only in their last digits"
