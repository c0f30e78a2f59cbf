"""One optimiser step in micro-batches, and batched inference; both halve the batch on out-of-memory."""

from __future__ import annotations

import gc
from collections.abc import Callable

import torch
import torch.nn.functional as F

from engine.train._augment import normalise


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


class Stepper:
    """Forward, backward and optimiser step over a batch of any size.

    The batch is cut into micro-batches of :attr:`micro_batch` whose gradients accumulate;
    the loss of each is ``sum(w_i * ce_i) / sum(w over the whole batch)``, so the step equals
    one step over the whole batch (the effective batch never changes). When a micro-batch
    runs out of memory the step is redone with half the micro-batch, which stays halved,
    and ``log`` is told why.
    """

    def __init__(self, model: Callable, optimizer: torch.optim.Optimizer, scaler, autocast: Callable,
                 micro_batch: int, device: torch.device, log: Callable[[str], None]):
        self.model = model
        self.optimizer = optimizer
        self.scaler = scaler
        self.autocast = autocast
        self.micro_batch = int(micro_batch)
        self.device = device
        self.log = log
        self.steps = 0

    def _accumulate(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        denom = w.sum()
        total = torch.zeros((), device=x.device)
        for start in range(0, x.shape[0], self.micro_batch):
            part = slice(start, start + self.micro_batch)
            with self.autocast():
                logits = self.model(x[part])
            loss = (F.cross_entropy(logits.float(), y[part], reduction="none") * w[part]).sum() / denom
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            total += loss.detach()
        return total

    def step(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """One optimiser step on ``x`` (float, normalised), labels ``y`` and loss weights ``w``."""
        while True:
            try:
                loss = self._accumulate(x, y, w)
                break
            except torch.OutOfMemoryError:
                if self.micro_batch <= 1:
                    raise
                failed = self.micro_batch
            # Out of the except block, so the failed frames and their tensors are gone.
            self.optimizer.zero_grad(set_to_none=True)
            _release(self.device)
            self.micro_batch = max(1, failed // 2)
            accumulation = -(-x.shape[0] // self.micro_batch)
            self.log(f"out of memory at micro-batch {failed}: continuing with micro-batch "
                     f"{self.micro_batch} x {accumulation} accumulation steps "
                     f"(effective batch {x.shape[0]} unchanged)")
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps += 1
        return loss


class Predictor:
    """Logits of uint8 images in batches (no augmentation), halving the batch on out-of-memory."""

    def __init__(self, model: Callable, autocast: Callable, batch: int, mean: float, std: float,
                 channels_last: bool, device: torch.device, log: Callable[[str], None]):
        self.model, self.autocast, self.batch = model, autocast, int(batch)
        self.mean, self.std, self.channels_last = mean, std, channels_last
        self.device, self.log = device, log

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, 2)`` float32 logits on the CPU."""
        while True:
            try:
                return self._run(images)
            except torch.OutOfMemoryError:
                if self.batch <= 1:
                    raise
                failed = self.batch
            _release(self.device)
            self.batch = max(1, failed // 2)
            self.log(f"out of memory in validation at batch {failed}: continuing with batch {self.batch}")

    def _run(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for start in range(0, images.shape[0], self.batch):
            x = normalise(images[start:start + self.batch], self.mean, self.std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self.autocast():
                out.append(self.model(x).float())
        return torch.cat(out).cpu() if out else torch.zeros((0, 2))
