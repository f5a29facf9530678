"""Speed of minivit's vit_b_16 against torchvision's, with the same weights, timed as
benchmarks/pairing.py describes.

    python benchmarks/bench_vit.py [--repeats 7] [--batch 8] [--train-batch 4]

Prints the median of the paired ratios minivit time / torchvision time, for an eval forward
(224 x 224) and a training step (forward, cross entropy, backward, AdamW step). Below 1 means
minivit is faster. The issue sets no target for ViT; the numbers are here for completeness.
"""

from __future__ import annotations

import argparse

import torch
import torchvision

from minivit.convert import from_torchvision
from pairing import compare  # same folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=8, help="batch of the eval forward")
    parser.add_argument("--train-batch", type=int, default=4, help="batch of the training step")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    reference = torchvision.models.vit_b_16()  # dropout 0 by default: training computes the same in both
    print(f"torchvision {torchvision.__version__}")
    models = {"minivit": from_torchvision(reference), "torchvision": reference}
    compare(models, (224, 224), args.batch, args.train_batch, args.repeats)


if __name__ == "__main__":
    main()
