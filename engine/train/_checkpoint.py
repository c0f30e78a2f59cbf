"""Checkpoints: written atomically, read with ``weights_only=True`` (tensors and plain data only)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from engine.train._outputs import BEST, LAST

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """``torch.save`` to a temp file in the same folder, then ``os.replace``: never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; other workers and the GUI read it
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint's state on the CPU; refuses anything but tensors and plain containers."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a training checkpoint of format {CHECKPOINT_FORMAT}")
    return state


def rng_state(generators: dict[str, torch.Generator], device: torch.device) -> dict:
    """Every random state the loop uses: torch's global CPU (and CUDA) generator and ours."""
    state = {"cpu": torch.get_rng_state(),
             "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}
    state.update({name: g.get_state() for name, g in generators.items()})
    return state


def set_rng_state(state: dict, generators: dict[str, torch.Generator], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)
    for name, g in generators.items():
        g.set_state(state[name])


def load_run_model(run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu"):
    """The model of a run folder's ``best`` (or ``last``) checkpoint, in eval mode.

    Returns ``(model, info)``; ``info`` holds the spec, epoch, image size and the
    normalisation ``mean``/``std`` the model was trained with.
    """
    from engine.models import create_model
    from engine.train._spec import RunSpec

    path = Path(run_dir) / {"best": BEST, "last": LAST}[which]
    state = load_checkpoint(path)
    spec = RunSpec.from_json(state["spec"])
    model = create_model(spec.model, pretrained=False, num_classes=2, in_chans=1,
                         img_size=state["image_size"])
    model.load_state_dict(state["model"])
    model.to(device).eval()
    info = {k: state[k] for k in ("epoch", "image_size", "mean", "std") if k in state}
    info["spec"] = spec
    return model, info
