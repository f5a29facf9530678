"""minivit's vit_b_16 against torchvision's, with the same weights, timed alternately in one process.

    .venv/bin/python benchmarks/bench_vit.py [--repeats 5] [--batch 8]

Prints the median of the paired ratios minivit time / torchvision time, for an eval forward
(224x224) and a training step (forward, backward, SGD step). Below 1 means minivit is faster.
"""

from __future__ import annotations

import argparse

import torch
import torchvision

from bench_mobilevit import eval_forward, paired_ratio, seconds, train_step  # same folder
from minivit.convert import from_torchvision


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)

    reference = torchvision.models.vit_b_16()
    model = from_torchvision(reference)
    x = torch.randn(args.batch, 3, 224, 224)
    print(f"vit_b_16, batch {args.batch}, 224x224, float32, {torch.get_num_threads()} threads, {args.repeats} pairs")

    ratio, ta, tb = paired_ratio(
        lambda: seconds(eval_forward, model, x), lambda: seconds(eval_forward, reference, x), args.repeats
    )
    print(f"eval forward   minivit {ta * 1e3:7.0f} ms  torchvision {tb * 1e3:7.0f} ms  median ratio {ratio:.3f}")

    opt_ours = torch.optim.SGD(model.parameters(), lr=1e-6)
    opt_ref = torch.optim.SGD(reference.parameters(), lr=1e-6)
    ratio, ta, tb = paired_ratio(
        lambda: seconds(train_step, model, x, opt_ours), lambda: seconds(train_step, reference, x, opt_ref), args.repeats
    )
    print(f"training step  minivit {ta * 1e3:7.0f} ms  torchvision {tb * 1e3:7.0f} ms  median ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
