"""A final model in torch: its members in one module, from grey levels to P(AFF)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from engine.final._members import FinalModelError
from engine.final._store import FinalModel, final_model_ready

if TYPE_CHECKING:
    from engine.store import Project


class EnsembleModule(nn.Module):
    """``(N, 1, S, S)`` float grey levels 0..255 -> ``(N,)`` P(AFF), the mean over the members.

    Normalisation is inside the module, so the exported graph needs only the letterboxed
    pixels (see ``PREPROCESSING``).
    """

    def __init__(self, members: Sequence[nn.Module], mean: float, std: float):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.scale = 1.0 / (255.0 * float(std))
        self.shift = float(mean) / float(std)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels * self.scale - self.shift
        probs = [torch.softmax(m(x).float(), dim=1)[:, 1] for m in self.members]
        return torch.stack(probs, 0).mean(0)


def member_modules(project: Project, final: FinalModel, device: str = "cpu") -> list[nn.Module]:
    """The final model's member networks, in eval mode on ``device``."""
    from engine.train import load_run_model

    why = final_model_ready(project, final)
    if why is not None:
        raise FinalModelError(why)
    modules = []
    for m in final.members:
        model, info = load_run_model(project.path / m["weights"].rsplit("/checkpoints/", 1)[0],
                                     device=device)
        if int(info["image_size"]) != final.image_size:
            raise FinalModelError(f"{final.label}: member {m['run_id']} was trained at "
                                  f"{info['image_size']} px, not {final.image_size}")
        modules.append(model)
    return modules


def load_final_module(project: Project, final: FinalModel, device: str = "cpu") -> EnsembleModule:
    module = EnsembleModule(member_modules(project, final, device), final.provenance["mean"],
                            final.provenance["std"])
    return module.to(device).eval()


def score_pixels(module: EnsembleModule, pixels: torch.Tensor, batch_size: int = 64,
                 should_stop: Callable[[], bool] | None = None,
                 on_batch: Callable[[int], None] | None = None) -> np.ndarray | None:
    """P(AFF) of uint8 ``(N, 1, S, S)`` pixels, a batch at a time; ``None`` when stopped."""
    out = []
    device = next(module.parameters()).device
    with torch.inference_mode():
        for start in range(0, pixels.shape[0], batch_size):
            if should_stop is not None and should_stop():
                return None
            batch = pixels[start:start + batch_size].to(device, torch.float32)
            out.append(module(batch).cpu().numpy().astype(np.float64))
            if on_batch is not None:
                on_batch(batch.shape[0])
    return np.concatenate(out) if out else np.zeros(0)


def score_images(project: Project, final: FinalModel, image_ids: Sequence[int], *,
                 pixels_from: Project | None = None, device: str = "cpu", batch_size: int = 64,
                 should_stop: Callable[[], bool] | None = None,
                 on_batch: Callable[[int], None] | None = None) -> np.ndarray | None:
    """P(AFF) for ``image_ids`` of ``pixels_from`` (default: ``project``, where the model lives).

    Pixels go through the same path as training: the project's cached copy, letterboxed at the
    model's image size (``engine.train.prepare_images``), normalised with the training mean/std.
    """
    from engine.train import prepare_images

    module = load_final_module(project, final, device)
    if pixels_from is None:
        pixels = prepare_images(project, list(image_ids), final.image_size, "cpu")
    else:
        pixels = letterboxed(pixels_from, image_ids, final.image_size)
    return score_pixels(module, pixels, batch_size, should_stop, on_batch)


def letterboxed(project: Project, image_ids: Sequence[int], size: int) -> torch.Tensor:
    """``(N, 1, size, size)`` uint8 squares made in memory, exactly as the sized cache makes them.

    Used for another project's images, so that evaluating on it writes nothing into its folder.
    """
    from engine.train import letterbox

    sha = {r.id: r.sha256 for r in project.images.list(order="id")}
    ids = [int(i) for i in image_ids]
    unknown = [i for i in ids if i not in sha]
    if unknown:
        raise FinalModelError(f"image id(s) {unknown[:5]} are not in {project.path}")
    out = np.zeros((len(ids), 1, size, size), np.uint8)
    for k, i in enumerate(ids):
        out[k, 0] = letterbox(np.asarray(project.cache.load_full(sha[i])), size)
    return torch.from_numpy(out)
