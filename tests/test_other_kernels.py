"""`make test` runs the notebooks twice: with this CPU's kernels, then with the settings of
tests/other_kernels.env. That second run proves something only if those settings really change the
digits of a trained result; this test shows that they do, and that only the last digits change."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.versions  # what these settings change depends on torch's kernels

ENV_FILE = Path(__file__).with_name("other_kernels.env")

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


def other_kernels() -> dict[str, str]:
    lines = [line.strip() for line in ENV_FILE.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def train(extra_env: dict[str, str]) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in other_kernels()} | extra_env
    out = subprocess.run([sys.executable, "-c", TRAIN], env=env, capture_output=True, text=True, check=True)
    loss, capability = out.stdout.strip().splitlines()[-1].split(maxsplit=1)
    return capability, float.fromhex(loss)


def test_make_test_runs_the_notebooks_again_with_these_settings():
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "test"], cwd=ENV_FILE.parents[1],
                             capture_output=True, text=True, check=True).stdout
    second = [line for line in dry_run.splitlines() if "ATEN_CPU_CAPABILITY" in line]
    assert len(second) == 1 and "course solutions" in second[0], dry_run
    assert all(f"{name}={value}" in second[0] for name, value in other_kernels().items())
    assert other_kernels()["ATEN_CPU_CAPABILITY"] == "default"


# What PyTorch calls its portable kernels: "DEFAULT", or "NO AVX" before torch 2.5.
PORTABLE = {"DEFAULT", "NO AVX"}


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() in PORTABLE,
                    reason="this CPU has no vector kernels to swap for the portable ones")
def test_other_kernels_change_the_last_digits_of_a_trained_loss():
    native_capability, native = train({})
    other_capability, other = train(other_kernels())
    assert native_capability not in PORTABLE and other_capability in PORTABLE
    assert native != other, "the other kernels computed the same bits: the second notebook run would prove nothing"
    assert native == pytest.approx(other, rel=1e-3), "the two runs should differ only in their last digits"
