"""Study presets: the whole CNN-vs-ViT design queued as experiments under one R, S and N.

``cnn-vs-vit``: resnet50, vit_base_patch16_224, densenet121 and deit_small_patch16_224, each
ImageNet-pretrained and from scratch, with their family recipes (docs/training.md). ``quick``
is the CPU demo: resnet10t and vit_tiny_patch16_224 at 128 px, 12 epochs (the setting at which
``benchmarks/learnability_bench.py`` reaches patient AUC 0.807 on the phantom).
A pretrained arm without weights on this machine refuses the whole preset, naming the arms,
the weights folder and the commands; ``drop_missing`` leaves those arms out instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import InvalidInput

if TYPE_CHECKING:
    from engine.store import Project

PRESETS = ("cnn-vs-vit",)
FULL_MODELS = ("resnet50", "vit_base_patch16_224", "densenet121", "deit_small_patch16_224")
QUICK_MODELS = ("resnet10t", "vit_tiny_patch16_224")
QUICK_SIZE, QUICK_EPOCHS = 128, 12
FULL_EPOCHS = 30


class MissingWeightsError(InvalidInput):
    """A pretrained arm of a preset has no ImageNet weights on this machine."""


@dataclass(frozen=True)
class Arm:
    name: str
    model: str
    pretrained: bool


def preset_epochs(quick: bool = False) -> int:
    """The epochs a preset trains each run for (``--epochs`` overrides)."""
    return QUICK_EPOCHS if quick else FULL_EPOCHS


def preset_arms(preset: str = "cnn-vs-vit", quick: bool = False) -> list[Arm]:
    if preset not in PRESETS:
        raise InvalidInput(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    models = QUICK_MODELS if quick else FULL_MODELS
    return [Arm(f"{m}-{'pretrained' if p else 'scratch'}", m, p) for m in models for p in (True, False)]


def create_study(project: Project, preset: str = "cnn-vs-vit", *, quick: bool = False, split: str = "default",
                 repeats: int | None = None, seeds: int = 1, tune_trials: int = 0, drop_missing: bool = False,
                 device: str = "auto", epochs: int | None = None, backend: str = "local",
                 prefix: str = "") -> list[str]:
    """Queue every arm of ``preset`` as an experiment; returns the experiment names."""
    from engine.experiments._experiments import create_experiment
    from engine.models import find_weights, missing_message, weights_dir
    from engine.train import RunSpec, apply_recipe

    arms = preset_arms(preset, quick)
    missing = [a for a in arms if a.pretrained and not find_weights(a.model).available]
    if missing and not drop_missing:
        first = missing_message(find_weights(missing[0].model))
        raise MissingWeightsError(
            f"the {preset} preset needs ImageNet weights for {', '.join(a.model for a in missing)} "
            f"(arms {', '.join(a.name for a in missing)}); none are in the weights folder {weights_dir()}. "
            f"Run 'affengine weights fetch {' '.join(sorted({a.model for a in missing}))}' or "
            f"'affengine weights import FILE --model M', or pass --drop-missing to leave those arms out. "
            f"{first}")
    arms = [a for a in arms if a not in missing]
    names = [prefix + a.name for a in arms]
    taken = [n for n in names if project.query("SELECT 1 FROM experiments WHERE name = ?", (n,))]
    if taken:
        raise InvalidInput(f"experiment(s) {', '.join(taken)} already exist in {project.path}; "
                           "use --prefix to queue the study again")
    for arm, name in zip(arms, names):
        spec = RunSpec(project=str(project.path), split=split, fold=0, model=arm.model,
                       pretrained=arm.pretrained, device=device,
                       image_size=QUICK_SIZE if quick else None,
                       epochs=epochs or preset_epochs(quick), tune_trials=tune_trials)
        spec = apply_recipe(spec)
        if quick and arm.model == "resnet10t" and not arm.pretrained:
            spec = spec.replace(lr=2e-3 * spec.batch_size / 32, augment=0.5)  # learnability_bench
        create_experiment(project, name, spec, repeats=repeats, seeds=seeds, backend=backend)
    return names
