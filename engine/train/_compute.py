"""Compute figures of a trained model: parameters, forward FLOPs, latency and peak memory."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def forward_flops(model: torch.nn.Module, image_size: int, device: torch.device) -> int:
    """FLOPs of one forward pass on one ``1 x S x S`` image (a multiply-add counts 2)."""
    was_training = model.training
    model.eval()
    try:
        x = torch.zeros((1, 1, image_size, image_size), device=device)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_batch(model: Callable, image_size: int, b: int, device: torch.device, autocast: Callable,
                channels_last: bool, budget_s: float) -> float:
    x = torch.zeros((b, 1, image_size, image_size), device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), autocast():
        model(x)  # warm-up
        _sync(device)
        n, t0 = 0, time.perf_counter()
        while n < 3 or (time.perf_counter() - t0 < budget_s and n < 50):
            model(x)
            n += 1
        _sync(device)
    return (time.perf_counter() - t0) / n / b * 1000


def latency(model: Callable, image_size: int, batch: int, device: torch.device, autocast: Callable,
            channels_last: bool, budget_s: float = 0.5) -> tuple[float, float, int]:
    """Inference ms per image at batch 1 and at ``batch`` (halved while out of memory), and that batch.

    The model should be in eval mode; each size runs at least 3 times after a warm-up call.
    """
    single = _time_batch(model, image_size, 1, device, autocast, channels_last, budget_s / 2)
    while True:
        try:
            return single, _time_batch(model, image_size, batch, device, autocast, channels_last,
                                       budget_s / 2), batch
        except torch.OutOfMemoryError:
            if batch <= 1:
                raise
        batch //= 2
        if device.type == "cuda":
            torch.cuda.empty_cache()


class PeakMemory:
    """Peak device memory during a run: CUDA ``max_memory_allocated``, or the process's peak RSS."""

    def __init__(self, device: torch.device):
        self.device = device
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    @property
    def kind(self) -> str:
        return "cuda_max_memory_allocated" if self.device.type == "cuda" else "cpu_peak_rss"

    def peak_bytes(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(rss if sys.platform == "darwin" else rss * 1024)  # bytes on macOS, KiB on Linux
