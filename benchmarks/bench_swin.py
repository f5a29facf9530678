"""Speed of minivit's swin_t against torchvision's swin_t and timm's swin_tiny_patch4_window7_224.

All three models hold the same weights and run in one process on 2 threads. Each repeat times one
call of every model, back to back in a rotating order, and the ratio minivit / reference is taken
within the repeat: load from other processes slows the models of a repeat alike, so the median of
these paired ratios is steadier than a ratio of separate averages.

    python benchmarks/bench_swin.py [--repeats 15] [--batch 8] [--train-batch 4]

Measured: an eval forward (inference mode, float32, 224 x 224) and a training step (forward, cross
entropy, backward, AdamW step). Stochastic depth is off in the references, so all three compute the
same thing in training too. timm runs with its fused attention (F.scaled_dot_product_attention).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

import timm
import torch
import torch.nn.functional as F
import torchvision
from torchvision.ops import StochasticDepth

from minivit.convert import from_torchvision


def build_models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    tv = torchvision.models.swin_t()
    for module in tv.modules():
        if isinstance(module, StochasticDepth):
            module.p = 0.0
    mini = from_torchvision(tv)
    timm.layers.set_fused_attn(True, experimental=True)
    tm = timm.create_model("swin_tiny_patch4_window7_224", drop_path_rate=0.0)
    assert all(b.attn.fused_attn for s in tm.layers for b in s.blocks)
    # minivit's names back to timm's, so that timm holds the same weights too
    def timm_name(name: str) -> str:
        name = re.sub(r"^stages\.(\d+)\.merge\.", r"layers.\1.downsample.", name)
        name = re.sub(r"^stages\.", "layers.", name)
        return re.sub(r"^head\.", "head.fc.", name)

    state = {timm_name(name): tensor for name, tensor in mini.state_dict().items()}
    tm.load_state_dict(state)
    return {"minivit": mini, "torchvision": tv, "timm": tm}


def eval_forward(model: torch.nn.Module, x: torch.Tensor) -> None:
    with torch.inference_mode():
        model(x)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def paired_ratios(calls: dict[str, callable], repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Time every call once per repeat, in a rotating order; return the times and minivit/reference ratios."""
    names = list(calls)
    for call in calls.values():  # warm up: allocator, kernels, caches
        call()
    times = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    ratios = {
        ref: [a / b for a, b in zip(times["minivit"], times[ref])] for ref in names if ref != "minivit"
    }
    return times, ratios


def report(title: str, times: dict[str, list[float]], ratios: dict[str, list[float]]) -> None:
    print(title)
    for name, ts in times.items():
        print(f"  {name:12s} median {statistics.median(ts) * 1e3:7.1f} ms   (min {min(ts) * 1e3:.1f})")
    for ref, rs in ratios.items():
        q1, _, q3 = statistics.quantiles(rs, n=4)
        best = min(times["minivit"]) / min(times[ref])
        print(f"  minivit / {ref:12s} median of paired ratios {statistics.median(rs):.3f}"
              f"   (quartiles {q1:.3f} .. {q3:.3f}; ratio of best times {best:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=8, help="batch of the eval forward")
    parser.add_argument("--train-batch", type=int, default=4, help="batch of the training step")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, timm {timm.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} (other processes share the CPU)")

    models = build_models()
    x = torch.randn(args.batch, 3, 224, 224)
    for model in models.values():
        model.eval()
    with torch.inference_mode():
        logits = {name: model(x[:1]) for name, model in models.items()}
    for name in ("torchvision", "timm"):
        print(f"max |minivit - {name}| logits: {(logits['minivit'] - logits[name]).abs().max().item():.2e}")

    calls = {name: (lambda m=model: eval_forward(m, x)) for name, model in models.items()}
    report(f"eval forward, batch {args.batch}, 224 x 224, float32", *paired_ratios(calls, args.repeats))

    xt = torch.randn(args.train_batch, 3, 224, 224)
    yt = torch.randint(0, 1000, (args.train_batch,))
    calls = {}
    for name, model in models.items():
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        calls[name] = lambda m=model, o=optimizer: train_step(m, o, xt, yt)
    report(f"training step (forward + backward + AdamW), batch {args.train_batch}, 224 x 224",
           *paired_ratios(calls, args.repeats))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
