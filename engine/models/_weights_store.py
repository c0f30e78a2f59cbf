"""Putting ImageNet weights into the weights folder: import a file (checked), fetch from the hub.

Every stored file is ``<weights folder>/<model>.safetensors``, written atomically, after its
keys and shapes were checked against the model's timm architecture (ImageNet head included; a
file whose classifier differs is accepted, since every model gets a new two-class head).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InvalidInput
from engine.models._registry import get_entry, list_models
from engine.models._weights import (
    COMMANDS,
    WeightsNotFoundError,
    WeightsSource,
    find_weights,
    hf_hub_id,
    hub_reachable,
    load_state_dict,
    weights_dir,
)


class WeightsMismatchError(InvalidInput):
    """A weights file whose keys or shapes are not those of the model."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _reference_shapes(name: str) -> tuple[dict[str, tuple[int, ...]], str]:
    """Key -> shape of the model's ImageNet architecture (built on the meta device: no memory)."""
    import timm
    import torch

    entry = get_entry(name)
    with torch.device("meta"):
        model = timm.create_model(entry.timm_name, pretrained=False)
    head = str(getattr(model, "pretrained_cfg", {}).get("classifier") or "")
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}, head


def check_state_dict(name: str, state: dict, where: str = "the file") -> None:
    """Refuse a state dict that does not fit ``name``: names the missing, unexpected and mis-shaped keys."""
    shapes, head = _reference_shapes(name)

    def in_head(k: str) -> bool:
        return bool(head) and k.startswith(head + ".")

    missing = sorted(k for k in shapes if k not in state and not in_head(k))
    extra = sorted(k for k in state if k not in shapes and not in_head(k))
    wrong = sorted(k for k in shapes if k in state and not in_head(k)
                   and tuple(state[k].shape) != shapes[k])
    if missing or extra or wrong:
        def some(keys):
            return ", ".join(keys[:4]) + (" ..." if len(keys) > 4 else "")
        parts = [f"{len(missing)} key(s) of {name} missing ({some(missing)})" if missing else "",
                 f"{len(extra)} unexpected key(s) ({some(extra)})" if extra else "",
                 "wrong shape for " + ", ".join(f"{k} {tuple(state[k].shape)} != {shapes[k]}"
                                                for k in wrong[:3]) if wrong else ""]
        raise WeightsMismatchError(f"{where} does not hold {name} weights: "
                                   + "; ".join(p for p in parts if p))


@dataclass(frozen=True)
class StoredWeights:
    model: str
    path: Path
    sha256: str
    tensors: int


def import_weights(file: str | Path, model: str, folder: str | Path | None = None) -> StoredWeights:
    """Check ``file`` (safetensors or a ``weights_only`` state dict) against ``model`` and store it."""
    from safetensors.torch import save_file

    src = Path(file).expanduser()
    if not src.is_file():
        raise WeightsNotFoundError(f"{src}: no such weights file")
    entry = get_entry(model)
    try:
        state = load_state_dict(src)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    except Exception as exc:  # a damaged safetensors header, ...
        raise InvalidInput(f"{src}: not a readable weights file ({exc})") from None
    check_state_dict(entry.name, state, str(src))
    dest_dir = Path(folder).expanduser() if folder else weights_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{entry.name}.safetensors"
    tmp = dest.with_name(dest.name + f".tmp-{os.getpid()}")
    try:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return StoredWeights(entry.name, dest, file_sha256(dest), len(state))


def fetch_weights(model: str, folder: str | Path | None = None) -> StoredWeights:
    """Download ``model``'s ImageNet weights from the Hugging Face Hub and import them."""
    entry = get_entry(model)
    hub_id = hf_hub_id(entry)
    if hub_id is None:
        raise WeightsNotFoundError(f"timm names no Hugging Face Hub repository for {entry.name}; "
                                   f"{COMMANDS.split(';')[0]}")
    if not hub_reachable():
        raise WeightsNotFoundError(
            f"cannot download {entry.name}: this machine is offline (or AFFWB_OFFLINE / HF_HUB_OFFLINE "
            f"is set). On a machine that is online, download model.safetensors from {hub_id}, copy it "
            f"here and run 'affengine weights import FILE --model {entry.name}' (weights folder: "
            f"{Path(folder).expanduser() if folder else weights_dir()})")
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(hub_id, "model.safetensors")
    except Exception as exc:
        raise WeightsNotFoundError(f"download of {hub_id} failed: {exc}") from None
    return import_weights(path, entry.name, folder)


def weights_status(folder: str | Path | None = None) -> list[WeightsSource]:
    """Where every registered model's ImageNet weights are (or that they are missing)."""
    return [find_weights(name, folder=folder) for name in list_models()]
