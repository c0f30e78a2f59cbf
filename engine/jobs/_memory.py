"""Memory checked before a claim, so that several workers can share one GPU (``--per-gpu N``).

A worker asks its device for free and total memory (:func:`gpu_memory`, or an injected
probe) before each claim, and takes a job only when the job's estimated need
(:func:`job_memory_need`) fits:

* the need is at most the free memory now, and
* the need plus the needs of the jobs already running on the same device (same host, same
  device label) stays within ``HEADROOM`` of the total: a job claimed a moment ago by the
  worker next door has not allocated its memory yet, so free memory alone would let both in.

A worker alone on its device always takes the job (the run halves its micro-batch on out of
memory, see docs/training.md); an estimate is only an estimate. Without a probe (CPU
workers, no ``nvidia-smi``) nothing is checked.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Callable

HEADROOM = 0.9
DEFAULT_NEED = 2 << 30  # jobs whose spec is not a training run (explain, predict): 2 GiB
CONTEXT_BYTES = 600 << 20  # a CUDA context, cuDNN/cuBLAS workspaces
DATA_IMAGES = 5000  # images a run holds on the device (uint8, S x S each): an allowance
# Activation bytes per image per forward GFLOP in bf16, from the H200 peaks at batch 256, 224 px
# (benchmarks/results/2026-11-27-h200): resnet50 12.46 GB, ViT-B/16 21.04 GB, less 16 B/parameter.
ACTIVATION_BYTES_PER_GFLOP = {"cnn": 5.9e6, "vit": 2.25e6, "hybrid": 4.0e6}

MemoryProbe = Callable[[], "tuple[int, int] | None"]


def gpu_memory(index: int | str, timeout_s: float = 5.0) -> tuple[int, int] | None:
    """``(free, total)`` bytes of physical GPU ``index`` from ``nvidia-smi``; None when it cannot say."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "-i", str(index), "--query-gpu=memory.free,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=timeout_s, check=True).stdout
        free, total = (int(float(v)) << 20 for v in out.strip().splitlines()[0].split(","))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    return free, total


def device_probe(device_label: str) -> MemoryProbe | None:
    """The probe of a worker's device (``cuda:N`` = physical GPU N); None for the CPU."""
    if not device_label.startswith("cuda"):
        return None
    index = device_label.split(":", 1)[1] if ":" in device_label else "0"
    return lambda: gpu_memory(index)


@functools.lru_cache(maxsize=64)
def _model_figures(model: str, image_size: int) -> tuple[int, float, str]:
    """Parameters, forward GFLOPs of one image and family, from a model built on the meta device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from engine.models import create_model, get_entry

    entry = get_entry(model)
    with torch.device("meta"):
        net = create_model(model, pretrained=False, num_classes=2, in_chans=1, img_size=image_size)
        with FlopCounterMode(display=False) as counter:
            net(torch.zeros((1, 1, image_size, image_size)))
    return sum(p.numel() for p in net.parameters()), counter.get_total_flops() / 1e9, entry.family


def train_memory_need(spec) -> int:
    """Estimated GPU bytes of a training run: 16 B per parameter (weights, gradients, AdamW's two
    moments in fp32), activations per image x micro-batch, the images on the device, a context."""
    from engine.models import get_entry

    size = spec.image_size or get_entry(spec.model).input_size
    params, gflops, family = _model_figures(spec.model, size)
    per_image = gflops * ACTIVATION_BYTES_PER_GFLOP.get(family, 5.9e6)
    if spec.precision == "fp32":
        per_image *= 2
    return int(16 * params + spec.batch_size * per_image + DATA_IMAGES * size * size + CONTEXT_BYTES)


def job_memory_need(kind: str, spec: dict) -> int:
    """The estimated device memory of a queued job (``DEFAULT_NEED`` when it cannot be told)."""
    from engine.train import RunSpec

    data = spec.get("spec", spec) if isinstance(spec, dict) else None
    try:
        return train_memory_need(RunSpec.from_json(data))
    except Exception:  # not a run spec (explain, predict), or a model the estimate cannot build
        return DEFAULT_NEED


class MemoryGate:
    """Whether a job fits next to the ones running on the device (see the module docstring)."""

    def __init__(self, probe: MemoryProbe | None, need: Callable[[str, dict], int] = job_memory_need,
                 headroom: float = HEADROOM):
        self.probe, self.need, self.headroom = probe, need, headroom
        self.last_refusal: str | None = None

    def admit_fn(self) -> Callable[[str, dict, list[tuple[str, dict]]], bool] | None:
        """An ``admit(kind, spec, running)`` for :meth:`JobQueue.claim`.

        The device is asked at most once per claim, and only when a candidate would share it
        (an idle queue, or a device with nothing running, costs no ``nvidia-smi`` call).
        """
        if self.probe is None:
            return None
        self.last_refusal = None
        memory: list = []

        def admit(kind: str, spec: dict, running: list[tuple[str, dict]]) -> bool:
            if not running:
                return True
            if not memory:
                memory.append(self.probe())
            if memory[0] is None:  # the probe cannot say: nothing to check
                return True
            free, total = memory[0]
            need = self.need(kind, spec)
            others = sum(self.need(k, s) for k, s in running)
            if need <= free and need + others <= self.headroom * total:
                return True
            self.last_refusal = (f"a {kind} job needs ~{need / 2**30:.1f} GiB; the device has "
                                 f"{free / 2**30:.1f} GiB free and {len(running)} running job(s) need "
                                 f"~{others / 2**30:.1f} GiB of {total / 2**30:.1f} GiB")
            return False

        return admit
