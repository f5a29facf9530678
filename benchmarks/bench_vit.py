"""Speed of minivit's vit_b_16 against torchvision's, with the same weights, timed as
benchmarks/pairing.py describes.

    python benchmarks/bench_vit.py [--repeats 7] [--batch 8] [--train-batch 4]

Prints the median of the paired ratios minivit time / torchvision time, for an eval forward
(224 x 224) and a training step (forward, cross entropy, backward, AdamW step). Below 1 means
minivit is faster. The issue sets no target for ViT; the numbers are here for completeness.
"""

from __future__ import annotations

import torch
import torchvision

from minivit.models.convert import from_torchvision
from pairing import main  # same folder


def build_models() -> dict[str, torch.nn.Module]:
    print(f"torchvision {torchvision.__version__}")
    torch.manual_seed(0)
    reference = torchvision.models.vit_b_16()  # dropout 0 by default: training computes the same in both
    return {"minivit": from_torchvision(reference), "torchvision": reference}


if __name__ == "__main__":
    main(__doc__.splitlines()[0], build_models, (224, 224), repeats=7, train_batch=4)
