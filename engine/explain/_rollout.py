"""Attention rollout (Abnar & Zuidema, 2020) for class-token vision transformers."""

from __future__ import annotations

import numpy as np
import torch

HEAD_FUSIONS = ("mean", "max", "min")


def fuse_heads(attention: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """``(B, heads, N, N)`` attention -> ``(B, N, N)`` by the mean, max or min over heads."""
    if head_fusion == "mean":
        return attention.mean(dim=1)
    if head_fusion == "max":
        return attention.amax(dim=1)
    if head_fusion == "min":
        return attention.amin(dim=1)
    raise ValueError(f"unknown head fusion {head_fusion!r} (use one of {', '.join(HEAD_FUSIONS)})")


def rollout_matrix(attentions: list[torch.Tensor], head_fusion: str = "mean",
                   discard_ratio: float = 0.0) -> torch.Tensor:
    """The ``(B, N, N)`` product of the layers' ``0.5 A + 0.5 I``, rows renormalised.

    ``attentions`` lists each layer's ``(B, heads, N, N)`` (or already fused ``(B, N, N)``)
    attention, first layer first. ``discard_ratio`` zeroes that share of the weakest fused
    attention entries of each layer (never those attending to token 0) before the identity
    is added, as in Gildenblat's vit-explain.
    """
    if not attentions:
        raise ValueError("rollout needs the attention of at least one layer")
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    joint = None
    for att in attentions:
        att = torch.as_tensor(att, dtype=torch.float64)
        a = fuse_heads(att, head_fusion) if att.ndim == 4 else att.clone()
        b, n, _ = a.shape
        if discard_ratio > 0:
            flat = a.reshape(b, -1)
            k = int(flat.shape[1] * discard_ratio)
            if k:
                low = flat.topk(k, dim=1, largest=False).indices
                keep = (low % n) == 0  # a column-0 entry is attention to the class token
                flat.scatter_(1, low, torch.where(keep, flat.gather(1, low), torch.zeros(())))
            a = flat.reshape(b, n, n)
        a = 0.5 * a + 0.5 * torch.eye(n, dtype=a.dtype)
        a = a / a.sum(dim=-1, keepdim=True)
        joint = a if joint is None else a @ joint
    return joint


def rollout_map(attentions: list[torch.Tensor], grid: tuple[int, int], num_prefix_tokens: int = 1,
                head_fusion: str = "mean", discard_ratio: float = 0.0) -> np.ndarray:
    """``(B, gh, gw)`` float32: the class token's rolled-out attention over the patch tokens."""
    joint = rollout_matrix(attentions, head_fusion, discard_ratio)
    row = joint[:, 0, num_prefix_tokens:]
    gh, gw = grid
    if row.shape[1] != gh * gw:
        raise ValueError(f"{row.shape[1]} patch tokens do not fill a {gh}x{gw} grid")
    return row.reshape(-1, gh, gw).float().numpy()


class AttentionRecorder:
    """Collects every block's attention probabilities; a context manager.

    timm's fused attention (``scaled_dot_product_attention``) never forms the
    probabilities, so it is turned off while recording and restored on exit.
    """

    def __init__(self, model, keep_graph: bool = False):
        if not hasattr(model, "blocks") or int(getattr(model, "num_prefix_tokens", 0)) < 1:
            raise ValueError("attention rollout needs a ViT with a class token and model.blocks")
        self.model = model
        self.keep_graph = keep_graph  # keep the attention in the graph, its gradient retained
        self.attentions: list[torch.Tensor] = []
        self._handles = []
        self._fused = []

    def __enter__(self) -> AttentionRecorder:
        for blk in self.model.blocks:
            self._fused.append((blk.attn, blk.attn.fused_attn))
            blk.attn.fused_attn = False
            self._handles.append(blk.attn.attn_drop.register_forward_hook(self._save))
        return self

    def _save(self, module, inputs, output) -> None:
        if self.keep_graph:
            output.retain_grad()
            self.attentions.append(output)
        else:
            self.attentions.append(output.detach().cpu())

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        for attn, fused in self._fused:
            attn.fused_attn = fused
        self._handles, self._fused = [], []


@torch.no_grad()
def attention_rollout(model, images: torch.Tensor, head_fusion: str = "mean",
                      discard_ratio: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Rollout maps ``(B, gh, gw)`` float32 in 0..1 and the AFF probability for one batch."""
    with AttentionRecorder(model) as rec:
        logits = model(images)
    grid = tuple(int(v) for v in model.patch_embed.grid_size)
    maps = rollout_map(rec.attentions, grid, int(model.num_prefix_tokens), head_fusion,
                       discard_ratio)
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    maps = (maps - lo) / np.where(span > 0, span, 1.0)
    return maps.astype(np.float32), torch.softmax(logits.float(), 1)[:, 1].cpu().numpy()


def gradient_rollout(model, images: torch.Tensor, target_class: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Gradient-weighted attention rollout (Chefer, Gur & Wolf 2021, "generic attention-model
    explainability"): ``(B, gh, gw)`` float32 maps in 0..1 and the AFF probability.

    Each layer's attention ``A`` is weighted by its gradient with respect to the log-odds of
    the predicted class, ``Abar = mean_heads(relu(grad_A * A))``, and relevance is carried
    through the layers as ``R <- R + Abar R`` from ``R = I``. The map is the class token's row
    of ``R`` over the patch tokens. Unlike Grad-CAM on ``norm1`` it needs no channel
    average of near-equal token gradients (see ``docs/explain.md``), and unlike plain
    rollout it is class-specific. A map with no positive relevance stays all zero.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        x = images.detach().clone().requires_grad_(True)
        with torch.enable_grad(), AttentionRecorder(model, keep_graph=True) as rec:
            logits = model(x).float()
            c = logits.argmax(1) if target_class is None else torch.full(
                (len(x),), int(target_class), device=logits.device)
            chosen = logits.gather(1, c[:, None])[:, 0]
            others = logits.scatter(1, c[:, None], float("-inf"))
            (chosen - torch.logsumexp(others, 1)).sum().backward()
        prefix = int(model.num_prefix_tokens)
        n = rec.attentions[0].shape[-1]
        relevance = torch.eye(n, dtype=torch.float64).expand(len(x), n, n).clone()
        for att in rec.attentions:
            grad = att.grad if att.grad is not None else torch.zeros_like(att)
            a = (grad * att).detach().clamp_min(0).mean(1).double().cpu()
            relevance = relevance + a @ relevance
    finally:
        for p in params:
            p.requires_grad_(True)
    row = relevance[:, 0, prefix:].float()
    gh, gw = (int(v) for v in model.patch_embed.grid_size)
    maps = row.reshape(-1, gh, gw).numpy()
    top = maps.max(axis=(1, 2), keepdims=True)
    maps = np.where(top > 0, maps / np.where(top > 0, top, 1.0), 0.0)
    return maps.astype(np.float32), torch.softmax(logits.detach(), 1)[:, 1].cpu().numpy()
