"""A batch size per model for throughput, and the learning-rate rule that keeps the study correct.

The GPU step of the workbench's models runs at low utilisation at batch 32 (the default): a
larger batch gives the GPU more work per kernel launch. :func:`choose_batch` starts from a
documented per-model table (:data:`THROUGHPUT_BATCH`, at 224 px, scaled for other sizes),
caps it so an epoch keeps at least :data:`MIN_STEPS_PER_EPOCH` steps, and halves it until a
probe says it fits in memory (on a GPU: one real forward + backward + AdamW step at that size,
with headroom for validation and other processes).

The learning rate follows the batch by one rule (:func:`scale_lr`):

* ``linear`` (default): lr x B / B0. Goyal et al. 2017, "Accurate, Large Minibatch SGD";
  the rule the workbench's AdamW recipes already use (DeiT, lr 5e-4 x batch / 512; BEiT).
* ``sqrt``: lr x sqrt(B / B0). Malladi et al. 2022, "On the SDEs and Scaling Rules for
  Adaptive Gradient Algorithms" (NeurIPS): the square-root rule for Adam-type optimisers.

Warm-up stays in epochs, so it covers the same share of the run at any batch. The chosen
batch and the rule are recorded in the spec (``batch_size``, ``lr``, ``lr_scaling``), so the
run stays reproducible for its seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from engine.train._spec import LR_SCALING_RULES, RunSpec, SpecError

# Batch per model at 224 px on an 80 GB GPU in bf16 (peak memory measured on the H200,
# 2026-11-27: resnet50 12.5 GB, ViT-B/16 21.0 GB at batch 256, so 256 leaves room for two).
THROUGHPUT_BATCH = {
    "resnet50": 256,
    "vit_base_patch16_224": 256,
    "resnet10t": 512,
    "convnext_tiny": 256,
    "swin_tiny_patch4_window7_224": 256,
}
FAMILY_BATCH = {"cnn": 256, "vit": 256, "hybrid": 128}
MAX_BATCH = 1024
CPU_BATCH = 32  # the CPU step is compute-bound: a larger batch buys no throughput there
MIN_STEPS_PER_EPOCH = 8
MEMORY_HEADROOM = 0.8  # a probed batch may use this share of the GPU's memory


def scale_lr(lr: float, from_batch: int, to_batch: int, rule: str = "linear") -> float:
    """``lr`` tuned at ``from_batch`` moved to ``to_batch`` by ``rule`` (``linear`` or ``sqrt``)."""
    if rule not in LR_SCALING_RULES:
        raise SpecError(f"lr scaling rule {rule!r} is not one of {', '.join(LR_SCALING_RULES)}")
    ratio = to_batch / from_batch
    return lr * (ratio if rule == "linear" else math.sqrt(ratio))


def _pow2_floor(n: int) -> int:
    return 1 << (max(1, int(n)).bit_length() - 1)


def table_batch(model: str, image_size: int) -> int:
    """The table's batch for ``model`` at ``image_size`` (activations grow with the pixel count)."""
    from engine.models import get_entry

    entry = get_entry(model)
    base = THROUGHPUT_BATCH.get(entry.name, FAMILY_BATCH.get(entry.family, 128))
    scaled = base * (224 / image_size) ** 2
    return max(1, min(MAX_BATCH, _pow2_floor(round(scaled))))


def choose_batch(model: str, image_size: int, device: str, n_train: int | None = None,
                 fits: Callable[[int], bool] | None = None) -> tuple[int, str]:
    """``(batch, why)``: the table's batch for this device, capped by the data, halved until it fits."""
    batch = table_batch(model, image_size)
    why = f"table {batch} at {image_size} px"
    if not device.startswith("cuda"):
        batch, why = min(batch, CPU_BATCH), f"CPU: at most {CPU_BATCH}"
    if n_train is not None and n_train // MIN_STEPS_PER_EPOCH < batch:
        batch = _pow2_floor(max(1, n_train // MIN_STEPS_PER_EPOCH))
        why += f"; {n_train} training images keep >= {MIN_STEPS_PER_EPOCH} steps per epoch"
    while batch > 1 and fits is not None and not fits(batch):
        batch //= 2
        why += f"; halved to {batch} (memory)"
    return batch, why


def gpu_memory_probe(spec: RunSpec) -> Callable[[int], bool]:
    """``fits(batch)``: one forward + backward + AdamW step of ``spec``'s model at that batch on
    its GPU, true when it neither runs out of memory nor peaks above the headroom."""
    import torch
    import torch.nn.functional as F

    from engine.models import create_model
    from engine.train._optim import build_optimizer
    from engine.train._resolve import resolve

    r = resolve(spec)
    device = torch.device(r.device)

    def fits(batch: int) -> bool:
        model = opt = None
        try:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            model = create_model(spec.model, pretrained=False, num_classes=2, in_chans=1,
                                 img_size=r.image_size).to(device)
            if r.channels_last:
                model = model.to(memory_format=torch.channels_last)
            opt = build_optimizer(model, spec.lr, spec.weight_decay, r.fused_optimizer)
            x = torch.zeros((batch, 1, r.image_size, r.image_size), device=device)
            if r.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with r.autocast():
                loss = F.cross_entropy(model(x).float(), torch.zeros(batch, dtype=torch.int64, device=device))
            loss.backward()
            opt.step()
            torch.cuda.synchronize(device)
            total = torch.cuda.get_device_properties(device).total_memory
            return torch.cuda.max_memory_allocated(device) <= MEMORY_HEADROOM * total
        except torch.OutOfMemoryError:
            return False
        finally:
            del model, opt
            torch.cuda.empty_cache()

    return fits


def throughput_spec(spec: RunSpec, rule: str = "linear", n_train: int | None = None,
                    fits: Callable[[int], bool] | None = None) -> RunSpec:
    """``spec`` at the batch :func:`choose_batch` picks, its lr moved by ``rule``; both recorded.

    ``n_train`` (training images of the fold) caps the batch; ``fits`` is the memory probe
    (default: :func:`gpu_memory_probe` on a CUDA device, none on the CPU).
    """
    from engine.models import get_entry
    from engine.train._resolve import resolve_device

    scale_lr(spec.lr, 1, 1, rule)  # the rule is known
    device = str(resolve_device(spec.device))
    size = spec.image_size or get_entry(spec.model).input_size
    if fits is None and device.startswith("cuda"):
        fits = gpu_memory_probe(spec)
    batch, why = choose_batch(spec.model, size, device, n_train, fits)
    lr = scale_lr(spec.lr, spec.batch_size, batch, rule)
    note = f"{rule}: lr {spec.lr:g} at batch {spec.batch_size} -> {lr:g} at batch {batch} ({why})"
    return spec.replace(batch_size=batch, lr=lr, lr_scaling=note)
