"""The model registry: timm architectures with their family, input size and heatmap layer."""

from engine.models._factory import count_parameters, create_model
from engine.models._registry import (
    FAMILIES,
    ModelEntry,
    UnknownModelError,
    get_entry,
    list_models,
    register,
    resolve_layer,
)
from engine.models._weights import (
    WeightsNotFoundError,
    WeightsSource,
    find_weights,
    hub_reachable,
    load_state_dict,
    missing_message,
)

__all__ = [
    "FAMILIES",
    "ModelEntry",
    "UnknownModelError",
    "WeightsNotFoundError",
    "WeightsSource",
    "count_parameters",
    "create_model",
    "find_weights",
    "get_entry",
    "hub_reachable",
    "list_models",
    "load_state_dict",
    "missing_message",
    "register",
    "resolve_layer",
]
