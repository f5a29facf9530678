"""Reference models with every weight off its initial value, for the equality tests."""

import torch


def perturb_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Move every parameter and batch-norm statistic off its initial value, in place: the references
    start biases, class tokens and heads at zero, norms at one and batch-norm statistics at zero and
    one, which would hide a swapped or missing tensor in a conversion."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(std=0.02)
            elif p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.normal_(std=0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
    return model
