"""minivit's mobilevit_xxs against timm's, with the same weights, timed alternately in one process.

    .venv/bin/python benchmarks/bench_mobilevit.py [--repeats 7]

Prints the median of the paired ratios minivit time / timm time, for an eval forward (batch 8,
256x256) and a training step (forward, backward, SGD step). Below 1 means minivit is faster.
Other work on the machine adds noise; pairing each minivit run with the timm run next to it
cancels slow drifts.
"""

from __future__ import annotations

import argparse
import statistics
import time

import timm
import torch

from minivit.convert import from_timm


def eval_forward(model: torch.nn.Module, x: torch.Tensor) -> None:
    model.eval()
    with torch.no_grad():
        model(x)


def train_step(model: torch.nn.Module, x: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
    model.train()
    loss = model(x).logsumexp(dim=1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def paired_ratio(ours, theirs, repeats: int) -> tuple[float, float, float]:
    """Median of ours/theirs over `repeats` alternating pairs (after one warm-up each), and the medians of each."""
    ours(), theirs()
    ratios, a, b = [], [], []
    for i in range(repeats):
        # Alternate which goes first, so that neither always runs on a warmer cache.
        if i % 2:
            tb, ta = theirs(), ours()
        else:
            ta, tb = ours(), theirs()
        ratios.append(ta / tb)
        a.append(ta)
        b.append(tb)
    return statistics.median(ratios), statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)

    reference = timm.create_model("mobilevit_xxs")
    model = from_timm(reference)
    x = torch.randn(args.batch, 3, 256, 256)
    print(f"mobilevit_xxs, batch {args.batch}, 256x256, float32, {torch.get_num_threads()} threads, {args.repeats} pairs")

    ratio, ta, tb = paired_ratio(
        lambda: seconds(eval_forward, model, x), lambda: seconds(eval_forward, reference, x), args.repeats
    )
    print(f"eval forward   minivit {ta * 1e3:7.1f} ms  timm {tb * 1e3:7.1f} ms  median ratio minivit/timm {ratio:.3f}")

    opt_ours = torch.optim.SGD(model.parameters(), lr=1e-4)
    opt_ref = torch.optim.SGD(reference.parameters(), lr=1e-4)
    ratio, ta, tb = paired_ratio(
        lambda: seconds(train_step, model, x, opt_ours), lambda: seconds(train_step, reference, x, opt_ref), args.repeats
    )
    print(f"training step  minivit {ta * 1e3:7.1f} ms  timm {tb * 1e3:7.1f} ms  median ratio minivit/timm {ratio:.3f}")


if __name__ == "__main__":
    main()
