"""Paired timing, shared by the benchmarks: every model of a comparison holds the same weights and runs
in one process; each repeat times one call of every model, back to back in a rotating order, and the
ratio minivit / reference is taken within the repeat. Load from other processes slows the models of a
repeat alike, so the median of these paired ratios is steadier than a ratio of separate averages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F


def eval_forward(model: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.inference_mode():
        model(x)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def paired_ratios(
    calls: dict[str, Callable[[], None]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Time every call once per repeat, in a rotating order, after one warm-up call each (allocator,
    kernels, caches). Returns the times of each call and the ratios minivit / reference per repeat;
    `calls` must hold one named "minivit"."""
    names = list(calls)
    for call in calls.values():
        call()
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    ratios = {ref: [a / b for a, b in zip(times["minivit"], times[ref])] for ref in names if ref != "minivit"}
    return times, ratios


def report(title: str, times: dict[str, list[float]], ratios: dict[str, list[float]]) -> None:
    print(title)
    for name, ts in times.items():
        print(f"  {name:12s} median {statistics.median(ts) * 1e3:7.1f} ms   (min {min(ts) * 1e3:.1f})")
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
    report(f"eval forward, batch {batch}, {size[0]} x {size[1]}, float32", *paired_ratios(calls, repeats))

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
    """The command line every benchmark shares: --repeats, --batch, --train-batch; then, on 2 threads,
    `compare` the models that `build` returns (minivit's under the name "minivit")."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--batch", type=int, default=8, help="batch of the eval forward")
    parser.add_argument("--train-batch", type=int, default=train_batch, help="batch of the training step")
    args = parser.parse_args()
    torch.set_num_threads(2)
    compare(build(), size, args.batch, args.train_batch, args.repeats)
