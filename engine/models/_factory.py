"""``create_model``: every architecture through one call, never a class import."""

from __future__ import annotations

from pathlib import Path

from engine.models._registry import get_entry
from engine.models._weights import (
    WeightsNotFoundError,
    find_weights,
    hub_reachable,
    load_state_dict,
    missing_message,
)


def create_model(
    name: str,
    pretrained: bool = False,
    num_classes: int = 2,
    in_chans: int = 1,
    img_size: int | None = None,
    weights_file: str | Path | None = None,
    weights_folder: str | Path | None = None,
    allow_download: bool | None = None,
    **kwargs,
):
    """A timm model for a registered architecture.

    With ``pretrained=True`` the ImageNet weights come from ``weights_file``,
    the weights folder or the Hugging Face cache; when none has them and
    ``allow_download`` is set (default: when the Hub is reachable), timm fetches
    them into its cache with a progress bar.
    A one-channel input sums the first layer's RGB filters, as timm does, and
    the classifier is new. ``img_size`` (default: the registry's input size) sets a
    transformer's input size; position embeddings are resampled from the weights.
    """
    import timm

    entry = get_entry(name)
    if entry.family != "cnn":  # transformers are built for one input size
        kwargs["img_size"] = img_size or entry.input_size
    if not pretrained:
        return timm.create_model(entry.timm_name, pretrained=False, num_classes=num_classes,
                                 in_chans=in_chans, **kwargs)
    source = find_weights(name, weights_file, weights_folder)
    if source.available:
        state = load_state_dict(source.path)
        return timm.create_model(
            entry.timm_name, pretrained=True, num_classes=num_classes, in_chans=in_chans,
            pretrained_cfg_overlay={"state_dict": state}, **kwargs,
        )
    if allow_download is None:
        allow_download = hub_reachable()
    if not allow_download:
        raise WeightsNotFoundError(missing_message(source))
    try:
        return timm.create_model(entry.timm_name, pretrained=True, num_classes=num_classes,
                                 in_chans=in_chans, **kwargs)
    except Exception as exc:  # offline, hub refused, ...
        raise WeightsNotFoundError(f"{missing_message(source)} (download failed: {exc})") from None


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
