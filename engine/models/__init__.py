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
    weights_dir,
)
from engine.models._weights_store import (
    StoredWeights,
    WeightsMismatchError,
    check_state_dict,
    fetch_weights,
    file_sha256,
    import_weights,
    weights_status,
)

__all__ = [
    "FAMILIES",
    "ModelEntry",
    "StoredWeights",
    "UnknownModelError",
    "WeightsMismatchError",
    "WeightsNotFoundError",
    "WeightsSource",
    "check_state_dict",
    "count_parameters",
    "create_model",
    "fetch_weights",
    "file_sha256",
    "find_weights",
    "get_entry",
    "hub_reachable",
    "import_weights",
    "list_models",
    "load_state_dict",
    "missing_message",
    "register",
    "resolve_layer",
    "weights_dir",
    "weights_status",
]
