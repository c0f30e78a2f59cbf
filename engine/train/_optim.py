"""AdamW without decay on norms and biases, and a per-step linear-warmup + cosine schedule."""

from __future__ import annotations

import math

import torch


def build_optimizer(model: torch.nn.Module, lr: float, weight_decay: float,
                    fused: bool = False, layer_decay: float | None = None) -> torch.optim.AdamW:
    """AdamW; 1-D parameters (norms, biases) and the model's ``no_weight_decay`` set get no decay.

    ``layer_decay`` (e.g. 0.75, BEiT) scales each layer's rate by ``layer_decay ** depth from the
    head`` through timm's layer grouping; the scale is kept as ``lr_scale`` in every group.
    """
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    kwargs = {"fused": True} if fused else {}
    if layer_decay is not None:
        from timm.optim import param_groups_layer_decay

        groups = param_groups_layer_decay(model, weight_decay=weight_decay, no_weight_decay_list=skip,
                                          layer_decay=layer_decay)
        return torch.optim.AdamW(groups, lr=lr, **kwargs)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or name in skip else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, **kwargs)


class WarmupCosine:
    """Learning rate per optimiser step: linear warmup to ``lr``, then cosine to ``lr * final``.

    Its state is one step counter (:meth:`state_dict`), so a resumed run continues exactly.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, lr: float, total_steps: int,
                 warmup_steps: int, schedule: str = "cosine", final: float = 0.01):
        self.optimizer = optimizer
        self.lr = lr
        self.total_steps = max(1, total_steps)
        self.warmup_steps = max(0, min(warmup_steps, self.total_steps))
        self.schedule = schedule
        self.final = final
        self.step_count = 0

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return self.lr
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        low = self.lr * self.final
        return low + (self.lr - low) * 0.5 * (1 + math.cos(math.pi * progress))

    def apply(self) -> float:
        """Set the rate for the coming optimiser step; returns it."""
        lr = self.lr_at(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr

    def advance(self) -> None:
        self.step_count += 1

    @property
    def current_lr(self) -> float:
        return self.lr_at(max(0, self.step_count - 1))

    def state_dict(self) -> dict:
        return {"step_count": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
