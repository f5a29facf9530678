"""Speed of minivit's mobilevit_xxs against timm's, with the same weights, timed as
benchmarks/pairing.py describes.

    python benchmarks/bench_mobilevit.py [--repeats 11] [--batch 8] [--train-batch 8]

Prints the median of the paired ratios minivit time / timm time, for an eval forward (256 x 256)
and a training step (forward, cross entropy, backward, AdamW step). Below 1 means minivit is faster.
"""

from __future__ import annotations

import argparse

import timm
import torch

from minivit.convert import from_timm
from pairing import compare  # same folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--batch", type=int, default=8, help="batch of the eval forward")
    parser.add_argument("--train-batch", type=int, default=8, help="batch of the training step")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    reference = timm.create_model("mobilevit_xxs", drop_path_rate=0.0)
    print(f"timm {timm.__version__}")
    models = {"minivit": from_timm(reference), "timm": reference}
    compare(models, (256, 256), args.batch, args.train_batch, args.repeats)


if __name__ == "__main__":
    main()
