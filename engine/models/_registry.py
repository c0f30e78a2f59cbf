"""The architectures the workbench knows, with what each needs around timm."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass

from engine.errors import NotFound

FAMILIES = ("cnn", "vit", "hybrid")
RESHAPES = ("none", "vit", "swin")


@dataclass(frozen=True)
class ModelEntry:
    """One registered architecture.

    ``target_layer`` is the heatmap layer as a dotted path; integer parts may be
    negative (``blocks.-1.norm1``). ``reshape`` says how that layer's output
    becomes a ``(B, C, H, W)`` map: ``none`` (already a conv map), ``vit``
    (tokens ``(B, N, C)`` with the prefix tokens dropped) or ``swin``
    (channels-last ``(B, H, W, C)``).
    """

    name: str
    timm_name: str
    family: str
    input_size: int
    target_layer: str
    reshape: str = "none"
    tiny: bool = False
    description: str = ""

    def to_json(self) -> dict:
        return asdict(self)


_REGISTRY: dict[str, ModelEntry] = {}


class UnknownModelError(NotFound, KeyError):
    """A model name the registry does not know; the message suggests close names."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(entry: ModelEntry) -> ModelEntry:
    if entry.family not in FAMILIES:
        raise ValueError(f"{entry.name}: family must be one of {FAMILIES}")
    if entry.reshape not in RESHAPES:
        raise ValueError(f"{entry.name}: reshape must be one of {RESHAPES}")
    _REGISTRY[entry.name] = entry
    return entry


def get_entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}{hint} (affengine models lists the {len(_REGISTRY)} known ones)"
        ) from None


def list_models(family: str | None = None, tiny: bool | None = None) -> list[str]:
    """Registered model names, optionally only one family or only (non-)tiny test models."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: use one of {', '.join(FAMILIES)}")
    return sorted(
        n for n, e in _REGISTRY.items()
        if (family is None or e.family == family) and (tiny is None or e.tiny == tiny)
    )


for _e in (
    ModelEntry("resnet50", "resnet50", "cnn", 224, "layer4", description="ResNet-50"),
    ModelEntry("densenet121", "densenet121", "cnn", 224, "features.norm5",
               description="DenseNet-121"),
    ModelEntry("efficientnet_b0", "efficientnet_b0", "cnn", 224, "bn2",
               description="EfficientNet-B0"),
    ModelEntry("convnext_tiny", "convnext_tiny", "cnn", 224, "stages.-1",
               description="ConvNeXt-T"),
    ModelEntry("inception_v3", "inception_v3", "cnn", 299, "Mixed_7c", description="Inception v3"),
    ModelEntry("vit_small_patch16_224", "vit_small_patch16_224", "vit", 224, "blocks.-1.norm1",
               "vit", description="ViT-S/16"),
    ModelEntry("vit_base_patch16_224", "vit_base_patch16_224", "vit", 224, "blocks.-1.norm1",
               "vit", description="ViT-B/16"),
    ModelEntry("deit_small_patch16_224", "deit_small_patch16_224", "vit", 224, "blocks.-1.norm1",
               "vit", description="DeiT-S/16"),
    ModelEntry("swin_tiny_patch4_window7_224", "swin_tiny_patch4_window7_224", "vit", 224,
               "layers.-1.blocks.-1.norm1", "swin", description="Swin-T (windowed attention)"),
    ModelEntry("vit_small_r26_s32_224", "vit_small_r26_s32_224", "hybrid", 224,
               "blocks.-1.norm1", "vit", description="ResNet-26 stem + ViT-S/32 (hybrid)"),
    ModelEntry("resnet10t", "resnet10t", "cnn", 64, "layer4", tiny=True,
               description="tiny ResNet for tests"),
    ModelEntry("vit_tiny_patch16_224", "vit_tiny_patch16_224", "vit", 64, "blocks.-1.norm1", "vit",
               tiny=True, description="tiny ViT for tests"),
    ModelEntry("deit_tiny_distilled_patch16_224", "deit_tiny_distilled_patch16_224", "vit", 64,
               "blocks.-1.norm1", "vit", tiny=True,
               description="tiny DeiT with a distillation token (two prefix tokens)"),
):
    register(_e)


def resolve_layer(model, path: str):
    """The submodule at a dotted ``path`` whose integer parts may be negative."""
    module = model
    for part in path.split("."):
        if part.lstrip("-").isdigit():
            module = list(module.children())[int(part)] if not hasattr(module, "__getitem__") \
                else module[int(part)]
        else:
            module = getattr(module, part)
    return module
