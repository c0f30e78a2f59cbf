"""Heatmaps for every registered model: right grid, not constant, hooks released."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from engine.explain import CAM_METHODS, CamExplainer, cam_maps, reshape_transform
from engine.models import get_entry, list_models, resolve_layer
from tests.engine._explain_factory import input_size_for, phantom_batch, random_model

TINY = ["resnet10t", "vit_tiny_patch16_224"]  # one CNN, one ViT; every model is in the test above


def _expected_grid(model, name: str, size: int) -> tuple[int, int] | None:
    if get_entry(name).reshape == "vit":
        return tuple(int(v) for v in model.patch_embed.grid_size)
    return None


def _assert_varies(maps: np.ndarray, what: str) -> None:
    assert maps.dtype == np.float16
    m = maps.astype(np.float32)
    assert np.isfinite(m).all(), what
    spread = m.reshape(len(m), -1).std(axis=1)
    assert (spread > 0.05).all(), f"{what}: constant or all-zero map (std {spread})"
    assert m.min() >= 0 and m.max() <= 1


@pytest.mark.parametrize("name", list_models())
def test_gradcam_varies_for_every_registered_model(name):
    size = input_size_for(name)
    model = random_model(name)
    maps = cam_maps(model, name, phantom_batch(size, 1), "gradcam")
    _assert_varies(maps, name)
    assert maps.shape[0] == 1 and min(maps.shape[1:]) >= 3
    grid = _expected_grid(model, name, size)
    if grid is not None:
        assert maps.shape[1:] == grid


@pytest.mark.parametrize("method", CAM_METHODS)
@pytest.mark.parametrize("name", TINY)
def test_every_method_on_tiny_models_batched(name, method):
    size = input_size_for(name)
    model = random_model(name)
    batch = phantom_batch(size, 3)
    maps = cam_maps(model, name, batch, method, batch_size=2)
    assert maps.shape[0] == 3
    _assert_varies(maps, f"{name} {method}")
    if method in ("gradcam", "eigencam"):
        # One image at a time gives the batch's maps (no cross-talk inside a batch).
        single = np.concatenate([cam_maps(model, name, batch[i:i + 1], method) for i in range(3)])
        np.testing.assert_allclose(single.astype(np.float32), maps.astype(np.float32), atol=2e-2)


def test_vit_block_output_gives_empty_map_and_norm1_does_not():
    # The last block's patch tokens reach the head only through the class token,
    # so gradients there are zero: the classic empty ViT Grad-CAM.
    name = "vit_tiny_patch16_224"
    model = random_model(name)
    batch = phantom_batch(input_size_for(name), 2)
    wrong = cam_maps(model, name, batch, "gradcam", layer="blocks.-1").astype(np.float32)
    assert np.abs(wrong).max() == 0
    right = cam_maps(model, name, batch, "gradcam")
    _assert_varies(right, "blocks.-1.norm1")


def test_prefix_tokens_are_dropped_for_distilled_deit():
    name = "deit_tiny_distilled_patch16_224"
    model = random_model(name)
    assert model.num_prefix_tokens == 2
    gh, gw = model.patch_embed.grid_size
    tokens = torch.arange(2 + gh * gw, dtype=torch.float32)[None, :, None].repeat(1, 1, 3)
    grid = reshape_transform(model, "vit")(tokens)
    assert grid.shape == (1, 3, gh, gw)
    assert grid[0, 0, 0, 0] == 2  # the first patch token, not the class or distillation token
    assert grid[0, 0, -1, -1] == 1 + gh * gw


def test_swin_reshape_is_channels_last_permute():
    t = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)  # (B, H, W, C)
    out = reshape_transform(None, "swin")(t)
    assert out.shape == (2, 5, 3, 4)
    assert out[1, 2, 0, 3] == t[1, 0, 3, 2]


def _live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor))


def test_cam_hooks_are_removed_after_use_and_memory_stays_flat():
    name = "resnet10t"
    model = random_model(name)
    layer = resolve_layer(model, get_entry(name).target_layer)
    batch = phantom_batch(input_size_for(name), 2)
    with CamExplainer(model, name, "gradcam") as cam:
        assert len(layer._forward_hooks) == 3  # graph cut + activation + gradient
        cam(batch)
        before = _live_tensors()
        for _ in range(12):
            cam(batch)
            # Nothing from earlier batches is kept alive between calls.
            assert cam._cam.activations_and_grads.activations == []
            assert cam._cam.outputs is None
        assert _live_tensors() <= before
    assert len(layer._forward_hooks) == 0
    with pytest.raises(ValueError, match="unknown CAM method"):
        CamExplainer(model, name, "nope")
    assert len(layer._forward_hooks) == 0


@pytest.mark.parametrize("name", TINY)
def test_graph_cut_gives_the_maps_of_plain_pytorch_grad_cam(name):
    from engine.explain import LogOddsTarget, target_layer_of
    from engine.explain._cam import _cam_class

    model = random_model(name)
    x = phantom_batch(input_size_for(name), 2)
    for method in ("gradcam", "gradcam++"):
        ours = cam_maps(model, name, x, method).astype(np.float32)
        layer, rule = target_layer_of(model, name)
        with _cam_class(method)(model=model, target_layers=[layer],
                                reshape_transform=reshape_transform(model, rule)) as cam:
            plain = cam(input_tensor=x, targets=[LogOddsTarget()] * 2)
        np.testing.assert_allclose(ours, plain, atol=1e-3)  # float16 storage
    assert all(p.requires_grad for p in model.parameters())  # weights unfrozen again
