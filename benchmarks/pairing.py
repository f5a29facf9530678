"""Paired timing, shared by the benchmarks: every model of a comparison holds the same weights and runs
in one process; each repeat times one call of every model, back to back in a rotating order, and the
ratio minivit / reference is taken within the repeat. Load from other processes slows the models of a
repeat alike, so the median of these paired ratios is steadier than a ratio of separate averages.

One run measures two instruction-set settings: this CPU's native kernels, then, in a child process, the
other instruction set emulated: AVX2 on an AVX-512 CPU, PyTorch's portable kernels on any other (its
AVX-512 cannot be emulated there). Speed must hold on the learners' CPUs, not only on this one.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from minivit.ops.flops import count_multiply_adds

try:
    import resource  # Unix
except ImportError:
    resource = None

# The kernels PyTorch (ATen), oneDNN and MKL may use, capped at AVX2 or at the portable ones (before start-up).
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
PORTABLE = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}


def cpu_model() -> str:
    """The CPU's model name, as lscpu prints it."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def isa_setting() -> str:
    """The kernels this process runs: PyTorch's capability and the caps set in the environment."""
    caps = ", ".join(f"{name}={os.environ[name]}" for name in AVX2 if name in os.environ)
    return f"PyTorch kernels {torch.backends.cpu.get_cpu_capability()}" + (f" ({caps})" if caps else " (native)")


def other_isa() -> dict[str, str]:
    """The environment that emulates the other instruction set on this CPU."""
    return AVX2 if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else PORTABLE


def matmul_peak(size: int = 4096, repeats: int = 5) -> float:
    """This machine's float32 matrix-product speed in FLOP/s: the best of `repeats` products of two
    size x size matrices (2 size^3 FLOPs each), on the threads torch uses."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best


def _seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _page_faults() -> int:
    """How many times this process has so far touched a page of memory it had never used: each costs
    about a microsecond (the OS maps and zeroes it). A large tensor freed back to the OS and allocated
    again costs one per 4 KB, so the models' allocations show in their times; 0 where unknown."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


def eval_forward(model: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.inference_mode():
        model(x)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def paired_ratios(
    calls: dict[str, Callable[[], None]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[int]]]:
    """Time every call once per repeat, in a rotating order, after one warm-up call each (allocator,
    kernels, caches). Returns the times of each call, the ratios minivit / reference per repeat, and
    the page faults of each call; `calls` must hold one named "minivit"."""
    names = list(calls)
    for call in calls.values():
        call()
    times = {name: [] for name in names}
    faults = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            before = _page_faults()
            times[name].append(_seconds(calls[name]))
            faults[name].append(_page_faults() - before)
    ratios = {ref: [a / b for a, b in zip(times["minivit"], times[ref])] for ref in names if ref != "minivit"}
    return times, ratios, faults


def report(
    title: str, times: dict[str, list[float]], ratios: dict[str, list[float]], faults: dict[str, list[int]]
) -> None:
    print(title)
    for name, ts in times.items():
        print(f"  {name:12s} median {statistics.median(ts) * 1e3:7.1f} ms   (min {min(ts) * 1e3:.1f}; "
              f"{statistics.median(faults[name]) / 1e3:.1f}k page faults)")
    for ref, rs in ratios.items():
        q1, _, q3 = statistics.quantiles(rs, n=4) if len(rs) > 1 else (rs[0],) * 3
        best = min(times["minivit"]) / min(times[ref])
        print(f"  minivit / {ref:12s} median of paired ratios {statistics.median(rs):.3f}"
              f"   (quartiles {q1:.3f} .. {q3:.3f}; ratio of best times {best:.3f})")


def compare(
    models: dict[str, torch.nn.Module],
    size: tuple[int, int],
    batch: int,
    train_batch: int,
    repeats: int,
    num_classes: int = 1000,
) -> None:
    """Print the paired ratios of an eval forward (inference mode) at `batch` and of a training step
    (forward, cross entropy, backward, AdamW step) at `train_batch`, on random float32 images."""
    torch.manual_seed(0)
    print(f"CPU {cpu_model()}; {isa_setting()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {repeats} repeats, "
          f"load average {os.getloadavg()[0]:.1f} (other processes share the CPU)")
    x = torch.randn(batch, 3, *size)
    for model in models.values():
        model.eval()
    with torch.inference_mode():
        logits = {name: model(x[:1]) for name, model in models.items()}
    for name in models:
        if name != "minivit":
            print(f"max |minivit - {name}| logits: {(logits['minivit'] - logits[name]).abs().max().item():.2e}")

    calls = {name: (lambda m=model: eval_forward(m, x)) for name, model in models.items()}
    times, ratios, faults = paired_ratios(calls, repeats)
    report(f"eval forward, batch {batch}, {size[0]} x {size[1]}, float32", times, ratios, faults)
    peak = matmul_peak()
    print(f"  throughput against this machine's float32 matrix-product peak "
          f"({peak / 1e9:.0f} GFLOP/s, a 4096 x 4096 torch.mm):")
    for name, model in models.items():
        flops = 2 * count_multiply_adds(model, x)  # a multiply-add is 2 FLOPs
        speed = flops / statistics.median(times[name])
        print(f"    {name:12s} {flops / 1e9:6.1f} GFLOP per forward, "
              f"{speed / 1e9:5.0f} GFLOP/s = {speed / peak:.2f} of the peak")

    xt = torch.randn(train_batch, 3, *size)
    yt = torch.randint(0, num_classes, (train_batch,))
    calls = {}
    for name, model in models.items():
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        calls[name] = lambda m=model, o=optimizer: train_step(m, o, xt, yt)
    report(f"training step (forward + backward + AdamW), batch {train_batch}, {size[0]} x {size[1]}",
           *paired_ratios(calls, repeats))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def main(
    description: str,
    build: Callable[[], dict[str, torch.nn.Module]],
    size: tuple[int, int],
    repeats: int,
    train_batch: int,
) -> None:
    """The command line every benchmark shares: --repeats, --batch, --train-batch, --isa; then, on 2
    threads, `compare` the models that `build` returns (minivit's under the name "minivit"), with the
    native kernels and then with the other instruction set emulated (--isa both, the default)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--batch", type=int, default=8, help="batch of the eval forward")
    parser.add_argument("--train-batch", type=int, default=train_batch, help="batch of the training step")
    parser.add_argument("--isa", choices=["both", "native", "other"], default="both",
                        help="native kernels, the other instruction set emulated, or both (one after the other)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.isa in ("both", "native"):
        print("== native kernels ==")
        compare(build(), size, args.batch, args.train_batch, args.repeats)
    if args.isa == "other":
        compare(build(), size, args.batch, args.train_batch, args.repeats)
    if args.isa == "both":  # a child process: the caps must be set before the libraries start
        print("\n== the other instruction set, emulated ==", flush=True)
        forwarded = ["--repeats", str(args.repeats), "--batch", str(args.batch), "--train-batch", str(args.train_batch)]
        subprocess.run([sys.executable, sys.argv[0], *forwarded, "--isa", "other"],
                       env={**os.environ, **other_isa()}, check=True)
