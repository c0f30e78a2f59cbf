"""Per-family training recipes, so that no family is handicapped by another family's settings.

Each number's source is in ``docs/training.md`` (section "Recipes"). Learning rates are for
AdamW at batch 32 and scale linearly with the batch size (DeiT's rule, lr x batch / 512).

* ``cnn``: ResNet strikes back (Wightman et al. 2021), procedures A2/A3: weight decay 0.02,
  5 warm-up epochs, cosine, drop path 0.05. RSB trains with LAMB at lr 5e-3 / batch 2048; the
  AdamW rates here (1e-3 from scratch, 3e-4 fine-tuning) are the workbench's, not the paper's.
* ``vit`` / ``hybrid`` from scratch: DeiT (Touvron et al. 2021): AdamW, lr 5e-4 x batch / 512,
  weight decay 0.05, 5 warm-up epochs, cosine, strong augmentation, drop path 0.1.
* ``vit`` / ``hybrid`` fine-tuning: BEiT (Bao et al. 2022): lr 4e-3 x batch / 1024 with
  layer-wise lr decay 0.75 (0.65 for base-size models), weight decay 0.05, drop path 0.1.

Warm-up is capped at 10% of the run's epochs (5 epochs of a 300-epoch schedule is 1.7%).
"""

from __future__ import annotations

from dataclasses import dataclass

RECIPE_CHOICES = ("none", "family")
BASE_BATCH = 32


@dataclass(frozen=True)
class Recipe:
    name: str
    lr: float  # AdamW at batch BASE_BATCH
    weight_decay: float
    warmup_epochs: float
    augment: float
    drop_path: float
    layer_decay: float | None
    source: str


def family_recipe(family: str, pretrained: bool, model: str = "") -> Recipe:
    """The documented default recipe of a model family (``cnn``, ``vit``, ``hybrid``)."""
    if family == "cnn":
        return Recipe(f"cnn-{'finetune' if pretrained else 'scratch'}", 3e-4 if pretrained else 1e-3,
                      0.02, 5.0, 0.5, 0.05, None, "ResNet strikes back A2/A3 (Wightman et al. 2021)")
    if family in ("vit", "hybrid"):
        if pretrained:
            decay = 0.65 if "base" in model else 0.75
            return Recipe(f"{family}-finetune", 4e-3 * BASE_BATCH / 1024, 0.05, 5.0, 0.5, 0.1, decay,
                          "BEiT fine-tuning (Bao et al. 2022), layer decay 0.65 base / 0.75 smaller")
        return Recipe(f"{family}-scratch", 5e-4 * BASE_BATCH / 512, 0.05, 5.0, 0.8, 0.1, None,
                      "DeiT (Touvron et al. 2021)")
    raise ValueError(f"no recipe for family {family!r}")


def apply_recipe(spec, recipe: str = "family"):
    """``spec`` (a RunSpec) with its family's recipe: lr (scaled to its batch), weight decay,
    warm-up (capped at 10% of the epochs), augmentation strength, drop path, layer decay."""
    if recipe == "none":
        return spec
    if recipe != "family":
        raise ValueError(f"recipe must be one of {', '.join(RECIPE_CHOICES)}, not {recipe!r}")
    from engine.models import get_entry

    entry = get_entry(spec.model)
    r = family_recipe(entry.family, spec.pretrained, entry.name)
    warmup = min(r.warmup_epochs, round(0.1 * spec.epochs, 2))
    return spec.replace(lr=r.lr * spec.batch_size / BASE_BATCH, weight_decay=r.weight_decay,
                        warmup_epochs=float(warmup), augment=r.augment, drop_path=r.drop_path,
                        layer_decay=r.layer_decay, recipe=r.name)
