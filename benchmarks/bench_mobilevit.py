"""Speed of minivit's mobilevit_xxs against timm's, with the same weights, timed as
benchmarks/pairing.py describes.

    python benchmarks/bench_mobilevit.py [--repeats 11] [--batch 8] [--train-batch 8]

Prints the median of the paired ratios minivit time / timm time, for an eval forward (256 x 256)
and a training step (forward, cross entropy, backward, AdamW step). Below 1 means minivit is faster.
"""

from __future__ import annotations

import timm
import torch

from minivit.models.convert import from_timm
from pairing import main  # same folder


def build_models() -> dict[str, torch.nn.Module]:
    print(f"timm {timm.__version__}")
    torch.manual_seed(0)
    reference = timm.create_model("mobilevit_xxs", drop_path_rate=0.0)
    return {"minivit": from_timm(reference), "timm": reference}


if __name__ == "__main__":
    main(__doc__.splitlines()[0], build_models, (256, 256), repeats=11, train_batch=8)
