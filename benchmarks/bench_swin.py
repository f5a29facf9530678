"""Speed of minivit's swin_t against torchvision's swin_t and timm's swin_tiny_patch4_window7_224.

All three models hold the same weights and run in one process on 2 threads, timed as
benchmarks/pairing.py describes.

    python benchmarks/bench_swin.py [--repeats 15] [--batch 8] [--train-batch 4]

Measured: an eval forward (inference mode, float32, 224 x 224) and a training step (forward, cross
entropy, backward, AdamW step). Stochastic depth is off in the references, so all three compute the
same thing in training too. timm runs with its fused attention (F.scaled_dot_product_attention).
"""

from __future__ import annotations

import timm
import torch
import torchvision
from torchvision.ops import StochasticDepth

from minivit.models.convert import from_torchvision, timm_state_dict
from pairing import main  # same folder


def build_models() -> dict[str, torch.nn.Module]:
    print(f"torchvision {torchvision.__version__}, timm {timm.__version__}")
    torch.manual_seed(0)
    tv = torchvision.models.swin_t()
    for module in tv.modules():
        if isinstance(module, StochasticDepth):
            module.p = 0.0
    mini = from_torchvision(tv)
    timm.layers.set_fused_attn(True, experimental=True)
    tm = timm.create_model("swin_tiny_patch4_window7_224", drop_path_rate=0.0)
    assert all(b.attn.fused_attn for s in tm.layers for b in s.blocks)
    tm.load_state_dict(timm_state_dict(mini))  # the same weights in timm too
    return {"minivit": mini, "torchvision": tv, "timm": tm}


if __name__ == "__main__":
    main(__doc__.splitlines()[0], build_models, (224, 224), repeats=15, train_batch=4)
