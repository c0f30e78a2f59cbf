"""Class-activation maps through pytorch-grad-cam, at the model's native grid, one call per batch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from engine.explain._names import CAM_METHODS

AFF_CLASS = 1  # predictions.csv: label 1 = AFF


class LogOddsTarget:
    """The log-odds of ``cls`` (or of the predicted class when ``None``) against the others.

    With two classes this is ``z_c - z_other``, so the map shows evidence for ``c`` against
    the alternative; the predicted class always has positive log-odds, which keeps
    Grad-CAM's ReLU from blanking the map of an uncertain model.
    """

    def __init__(self, cls: int | None = None):
        self.cls = cls

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        c = int(output.argmax()) if self.cls is None else self.cls
        others = torch.cat([output[:c], output[c + 1:]])
        return output[c] - torch.logsumexp(others, dim=0)


def _cam_class(method: str):
    from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM

    classes = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM,
               "eigencam": EigenCAM}
    if method not in classes:
        raise ValueError(f"unknown CAM method {method!r} (use one of {', '.join(CAM_METHODS)})")
    base = classes[method]

    class Native(base):
        # No target size: pytorch-grad-cam then only min-max scales each map and skips the
        # resize to the input, so maps stay at the layer's grid (7x7, 14x14, ...).
        def get_target_width_height(self, input_tensor):
            return None

    Native.__name__ = f"Native{base.__name__}"
    return Native


def reshape_transform(model, reshape: str):
    """The ``(B, C, H, W)`` rule for a registry ``reshape`` value (``None`` for conv maps)."""
    if reshape == "none":
        return None
    if reshape == "swin":
        return lambda t: t.permute(0, 3, 1, 2)
    if reshape == "vit":
        prefix = int(getattr(model, "num_prefix_tokens", 1))
        gh, gw = (int(v) for v in model.patch_embed.grid_size)

        def vit(t: torch.Tensor) -> torch.Tensor:
            # Class, distillation and register tokens come first; the rest is the patch grid.
            tokens = t[:, prefix:, :]
            if tokens.shape[1] != gh * gw:
                raise ValueError(f"{tokens.shape[1]} patch tokens after {prefix} prefix tokens, "
                                 f"expected a {gh}x{gw} grid")
            return tokens.reshape(t.shape[0], gh, gw, t.shape[2]).permute(0, 3, 1, 2)

        return vit
    raise ValueError(f"unknown reshape rule {reshape!r}")


def target_layer_of(model, model_name: str, layer: str | None = None):
    """The registry's heatmap layer of ``model`` (or ``layer``, a dotted path) and its reshape."""
    from engine.models import get_entry, resolve_layer

    entry = get_entry(model_name)
    return resolve_layer(model, layer or entry.target_layer), entry.reshape


def _graph_cut(module, inputs, output: torch.Tensor) -> torch.Tensor:
    return output.detach().requires_grad_(True)


class CamExplainer:
    """One CAM object for a model; use as a context manager so its hooks are removed.

    >>> with CamExplainer(model, "resnet10t", "gradcam") as cam:
    ...     maps = cam(batch)           # (B, h, w) float32 in 0..1 at the layer's grid
    """

    def __init__(self, model, model_name: str, method: str = "gradcam", layer: str | None = None,
                 target_class: int | None = None):
        target, reshape = target_layer_of(model, model_name, layer)
        cam_class = _cam_class(method)  # an unknown method fails before any hook is placed
        self.model = model
        self.method = method
        self.target_class = target_class
        self.layer = target
        # Cut the graph at the target layer: its output becomes a fresh leaf, so backward
        # runs only from the head down to that layer, and with the weights frozen during a
        # call no weight gradients are formed. The gradient at the layer is unchanged.
        # Registered before pytorch-grad-cam's hooks, which then see the leaf.
        self._cut = target.register_forward_hook(_graph_cut)
        self._cam = cam_class(model=model, target_layers=[target],
                                       reshape_transform=reshape_transform(model, reshape))

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """Maps for a normalised float ``(B, C, H, W)`` batch, one CAM call for the whole batch."""
        targets = [LogOddsTarget(self.target_class)] * images.shape[0]
        params = [p for p in self.model.parameters() if p.requires_grad]
        try:
            for p in params:
                p.requires_grad_(False)
            maps = self._cam(input_tensor=images, targets=targets)
        finally:
            for p in params:
                p.requires_grad_(True)
        self.last_logits = self._cam.outputs.detach()
        self._cam.activations_and_grads.clear()
        self._cam.outputs = None
        return np.asarray(maps, np.float32)

    def close(self) -> None:
        if self._cut is not None:
            self._cut.remove()
            self._cut = None
        if self._cam is not None:
            self._cam.activations_and_grads.release()
            self._cam = None

    def __enter__(self) -> CamExplainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cam_maps(model, model_name: str, images: torch.Tensor, method: str = "gradcam",
             batch_size: int = 16, layer: str | None = None,
             target_class: int | None = None) -> np.ndarray:
    """``(N, h, w)`` float16 maps for normalised ``images``, computed ``batch_size`` at a time."""
    out = [m for m, _ in iter_cam_batches(model, model_name, images, method, batch_size, layer,
                                          target_class)]
    return np.concatenate(out) if out else np.zeros((0, 0, 0), np.float16)


def iter_cam_batches(model, model_name: str, images: torch.Tensor, method: str = "gradcam",
                     batch_size: int = 16, layer: str | None = None,
                     target_class: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(maps float16, AFF probability)`` per batch; the CAM is released at the end."""
    with CamExplainer(model, model_name, method, layer, target_class) as cam:
        for start in range(0, images.shape[0], batch_size):
            maps = cam(images[start:start + batch_size])
            prob = torch.softmax(cam.last_logits.float(), dim=1)[:, AFF_CLASS].cpu().numpy()
            yield maps.astype(np.float16), prob
