"""The heatmap methods' names and who may use them (no torch: the GUI offers and queues them)."""

from __future__ import annotations

CAM_METHODS = ("gradcam", "gradcam++", "hirescam", "eigencam")
ROLLOUT = "rollout"
GRAD_ROLLOUT = "gradrollout"  # gradient-weighted rollout (Chefer et al. 2021), class-token ViTs
OCCLUSION, INTEGRATED_GRADIENTS = "occlusion", "ig"
# Model-agnostic: computed on the input pixels, the same method and grid for every family.
ATTRIBUTION_METHODS = (OCCLUSION, INTEGRATED_GRADIENTS)
CLASS_TOKEN_METHODS = (ROLLOUT, GRAD_ROLLOUT)
# The method the report's question-3 answer and the heatmap window pair by default.
DEFAULT_METHOD = OCCLUSION


def all_methods() -> tuple[str, ...]:
    """Every method, model-agnostic ones first (the order the GUI lists them)."""
    return (*ATTRIBUTION_METHODS, *CAM_METHODS, *CLASS_TOKEN_METHODS)


def method_kind(method: str) -> str:
    """``model-agnostic``, ``CNN/ViT extra (layer CAM)`` or ``ViT extra (class token)``: the label shown."""
    if method in ATTRIBUTION_METHODS:
        return "model-agnostic"
    if method in CLASS_TOKEN_METHODS:
        return "family-specific extra: class-token ViTs"
    return "family-specific extra: layer CAM"


def has_class_token(model_name: str) -> bool:
    """Whether a registered model has a class token (ViT, DeiT, hybrid; not Swin, not CNNs)."""
    from engine.models import get_entry

    return get_entry(model_name).reshape == "vit"


def check_method_for_model(method: str, model_name: str) -> None:
    """Raise ``ValueError`` (one line) when ``method`` cannot explain ``model_name``."""
    if method not in all_methods():
        raise ValueError(f"unknown method {method!r} (use one of {', '.join(all_methods())})")
    if method in CLASS_TOKEN_METHODS and not has_class_token(model_name):
        raise ValueError(f"{method} needs a model with a class token; {model_name} has none "
                         f"(use {OCCLUSION}, {INTEGRATED_GRADIENTS} or gradcam)")
