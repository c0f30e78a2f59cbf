"""ImageNet weights: found offline in a local folder or the Hugging Face cache.

Loading never executes code from a file: ``.safetensors`` through safetensors,
anything else through ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from engine.errors import NotFound
from engine.models._registry import ModelEntry, get_entry

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
_HF_FILES = ("model.safetensors", "pytorch_model.bin")


class WeightsNotFoundError(NotFound, FileNotFoundError):
    """Pretrained weights were asked for but are not on this machine."""


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's pretrained weights would come from."""

    model: str
    kind: str  # "file", "hf-cache" or "missing"
    path: Path | None
    hf_hub_id: str | None

    @property
    def available(self) -> bool:
        return self.kind != "missing"


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether a download from the Hugging Face Hub can work now (False when told offline)."""
    for var in ("HF_HUB_OFFLINE", "AFFWB_OFFLINE"):
        if os.environ.get(var, "0").strip().lower() not in ("", "0", "false", "no"):
            return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False


APP_NAME = "aff-workbench"  # the GUI's platformdirs name (affgui/settings.py)
COMMANDS = ("'affengine weights import FILE --model MODEL' stores a weights file there; "
            "'affengine weights fetch MODEL' downloads one on a machine that is online")


def weights_dir() -> Path:
    """The weights folder: ``AFFWB_WEIGHTS_DIR``, else ``weights/`` in the application data folder
    (``AFFWB_DATA_DIR``, else the platformdirs user-data folder of ``aff-workbench``)."""
    value = os.environ.get("AFFWB_WEIGHTS_DIR")
    if value:
        return Path(value).expanduser()
    data = os.environ.get("AFFWB_DATA_DIR")
    if data:
        return Path(data).expanduser() / "weights"
    import platformdirs

    return platformdirs.user_data_path(APP_NAME) / "weights"


def hf_hub_id(entry: ModelEntry) -> str | None:
    import timm

    cfg = timm.models.get_pretrained_cfg(entry.timm_name)
    if cfg is None or not cfg.hf_hub_id:
        return None
    return cfg.hf_hub_id + (f".{cfg.tag}" if cfg.tag and "." not in cfg.hf_hub_id else "")


def _in_folder(folder: Path, entry: ModelEntry, hub_id: str | None) -> Path | None:
    stems = [entry.name, entry.timm_name]
    if hub_id:
        stems.append(hub_id.split("/")[-1])
    for stem in stems:
        for suffix in WEIGHT_SUFFIXES:
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _in_hf_cache(hub_id: str | None) -> Path | None:
    if not hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in _HF_FILES:
        found = try_to_load_from_cache(hub_id, filename)
        if isinstance(found, str) and os.path.isfile(found):
            return Path(found)
    return None


def find_weights(name: str, weights_file: str | Path | None = None,
                 folder: str | Path | None = None) -> WeightsSource:
    """Locate weights for ``name``: an explicit file, the weights folder, then the HF cache."""
    entry = get_entry(name)
    hub_id = hf_hub_id(entry)
    if weights_file is not None:
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"{path}: weights file for {name} does not exist")
        return WeightsSource(name, "file", path, hub_id)
    folder = Path(folder).expanduser() if folder else weights_dir()
    if folder is not None and (path := _in_folder(folder, entry, hub_id)) is not None:
        return WeightsSource(name, "file", path, hub_id)
    if (path := _in_hf_cache(hub_id)) is not None:
        return WeightsSource(name, "hf-cache", path, hub_id)
    return WeightsSource(name, "missing", None, hub_id)


def missing_message(source: WeightsSource, folder: str | Path | None = None) -> str:
    entry = get_entry(source.model)
    folder = Path(folder).expanduser() if folder else weights_dir()
    hub = f" from the Hugging Face Hub repository {source.hf_hub_id}" if source.hf_hub_id else ""
    return (
        f"ImageNet weights for {source.model} are not on this machine. Expected "
        f"{folder / (entry.name + '.safetensors')} in the weights folder {folder} (set "
        f"AFFWB_WEIGHTS_DIR to use another), a file given with --weights-file, or the Hugging Face "
        f"cache entry for {source.hf_hub_id or entry.timm_name}. {COMMANDS}. "
        f"By hand: download model.safetensors{hub} (for example 'huggingface-cli download "
        f"{source.hf_hub_id or entry.timm_name} model.safetensors') and import it; or train from "
        f"scratch with --no-pretrained."
    )


def load_state_dict(path: str | Path) -> dict:
    """Read a state dict without executing code from the file."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    else:
        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle errors, truncated files, ...
            raise ValueError(f"{path}: not a plain weights file ({exc})") from None
        for key in ("state_dict", "model", "state_dict_ema"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{path}: no tensors found")
    return {k.removeprefix("module."): v for k, v in state.items()}
