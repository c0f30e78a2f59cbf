"""Model-agnostic attributions, deletion/insertion curves and the ROI occlusion test (issue 15).

Toy models whose answer is known: a model that reads only the mean of one region, so the
curves and drops can be worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.explain import (
    AttributionOptions,
    attribution_maps,
    bone_mask,
    box_drops,
    chance_level,
    check_method_for_model,
    curve_auc,
    deletion_insertion,
    faithfulness,
    fill_boxes,
    gradient_rollout,
    pixel_box,
    random_box_away,
    reliance,
    roi_energy,
)
from engine.explain._roi import chance_verdict
from tests.engine._explain_factory import input_size_for, phantom_batch, random_model

S = 32
REGION = (8, 4, 16, 12)  # x0, y0, x1, y1: 8 x 8 = 64 pixels
MARKER = (26, 26, 30, 30)


class RegionModel(torch.nn.Module):
    """Two logits ``[0, gain * (mean of x in a box - offset)]``: it reads nothing else."""

    def __init__(self, box=REGION, gain: float = 4.0, offset: float = 0.5):
        super().__init__()
        self.box, self.gain, self.offset = box, gain, offset
        self.scale = torch.nn.Parameter(torch.ones(()))  # a parameter, so freezing has work to do

    def forward(self, x):
        x0, y0, x1, y1 = self.box
        z = self.gain * self.scale * (x[:, :, y0:y1, x0:x1].mean(dim=(1, 2, 3)) - self.offset)
        return torch.stack([torch.zeros_like(z), z], 1)


def toy_images(n: int = 3) -> torch.Tensor:
    """A bright vertical 'bone' band (x 6..26) with the region brighter still; soft tissue 0.2."""
    x = torch.full((n, 1, S, S), 0.2)
    x[:, :, :, 6:26] = 0.6
    x0, y0, x1, y1 = REGION
    x[:, :, y0:y1, x0:x1] = 1.0
    return x


# -- attributions: shapes and batching ------------------------------------------------

@pytest.mark.parametrize("name", ["resnet10t", "vit_tiny_patch16_224"])
@pytest.mark.parametrize("method", ["occlusion", "ig"])
def test_attribution_shapes_and_batching_equivalence(name, method):
    model, size = random_model(name), input_size_for(name)
    x = phantom_batch(size, 3)
    options = AttributionOptions(patch_mm=16.0, stride_mm=16.0, mm_per_pixel=1.0, ig_steps=8)
    maps, prob = attribution_maps(model, x, method, options)
    grid = options.grid(size)
    assert grid == int(np.ceil(size / 16))
    assert maps.shape == (3, grid, grid) and prob.shape == (3,)
    assert maps.dtype == np.float32 and maps.min() >= 0 and maps.max() <= 1
    one = np.concatenate([attribution_maps(model, x[k:k + 1], method, options)[0] for k in range(3)])
    np.testing.assert_allclose(maps, one, atol=2e-3)
    with torch.no_grad():
        want = torch.softmax(model(x), 1)[:, 1].numpy()
    np.testing.assert_allclose(prob, want, atol=1e-5)
    assert all(p.requires_grad for p in model.parameters())  # weights unfrozen again


def test_patch_and_stride_in_mm_follow_the_pixel_spacing():
    from engine.explain import input_mm_per_pixel

    # A 3000-px long side at 0.1 mm is 300 mm; on a 100-px input one pixel is 3 mm.
    mm = input_mm_per_pixel([0.1, 0.1, None], [3000, 3000, 500], 100)
    assert mm == pytest.approx(3.0)
    o = AttributionOptions(patch_mm=21.0, stride_mm=9.0, mm_per_pixel=mm)
    assert o.patch_stride_px(100) == (7, 3) and o.grid(100) == 34
    assert AttributionOptions().patch_stride_px(64) == (8, 4)  # no spacing: input/8, half of it
    assert o.to_json(100)["patch_px"] == 7


def test_occlusion_finds_the_region_a_toy_model_reads():
    model = RegionModel()
    options = AttributionOptions(patch_mm=4.0, stride_mm=4.0, mm_per_pixel=1.0)
    maps, _ = attribution_maps(model, toy_images(2), "occlusion", options)
    assert maps.shape == (2, 8, 8)
    inside = np.zeros((8, 8), bool)
    inside[1:3, 2:4] = True  # REGION in 4-px cells
    assert (maps[:, inside] > 0).all() and (maps[:, ~inside] == 0).all()


def test_gradient_rollout_gives_maps_for_a_vit_and_refuses_a_cnn():
    model = random_model("vit_tiny_patch16_224")
    x = phantom_batch(64, 3)
    maps, prob = gradient_rollout(model, x)
    assert maps.shape == (3, 4, 4) and prob.shape == (3,)
    one = np.concatenate([gradient_rollout(model, x[k:k + 1])[0] for k in range(3)])
    np.testing.assert_allclose(maps, one, atol=1e-4)
    assert (maps.reshape(3, -1).max(1) > 0).all()  # not blank, unlike Grad-CAM on norm1
    for method in ("rollout", "gradrollout"):
        with pytest.raises(ValueError, match="class token"):
            check_method_for_model(method, "resnet10t")
        with pytest.raises(ValueError, match="class token"):
            check_method_for_model(method, "swin_tiny_patch4_window7_224")
        check_method_for_model(method, "vit_tiny_patch16_224")


# -- chance levels --------------------------------------------------------------------

def test_chance_levels_of_roi_energy_and_their_verdict():
    masks = np.zeros((2, S, S), bool)
    masks[:, 4:12, 8:16] = True
    chance = chance_level(masks)
    np.testing.assert_allclose(chance, 64 / S**2)
    uniform = np.ones((2, S, S))
    np.testing.assert_allclose(roi_energy(uniform, masks), chance)  # a flat map scores chance
    rng = np.random.default_rng(0)
    noise = rng.random((400, S, S))
    many = np.repeat(masks[:1], 400, 0)
    assert abs(roi_energy(noise, many).mean() - chance[0]) < 0.005
    at = {"mean": 0.06, "low": 0.05, "high": 0.07, "n": 10}
    assert chance_verdict(at, 0.0625) == "at chance"
    assert chance_verdict({**at, "high": 0.06}, 0.0625) == "below chance"
    assert chance_verdict({**at, "low": 0.07, "high": 0.08}, 0.0625) == "above chance"
    assert chance_verdict({**at, "n": 0}, 0.0625) == "not measured"


# -- deletion / insertion -------------------------------------------------------------

def test_deletion_curve_definition_on_a_model_whose_answer_is_known():
    model, x = RegionModel(), toy_images(1)
    steps = 8
    region = np.zeros((S, S))
    x0, y0, x1, y1 = REGION
    region[y0:y1, x0:x1] = 1
    # Order: the 64 region pixels first, then the rest.
    order = np.argsort(-region.ravel(), kind="stable")[None]
    out = deletion_insertion(model, x, order, black=0.0, steps=steps)
    expect = []
    for k in range(steps + 1):
        removed = min(int(round(k / steps * S * S)), 64)
        mean = (64 - removed) / 64  # the remaining region pixels are 1, the removed ones 0
        expect.append(1 / (1 + np.exp(-4.0 * (mean - 0.5))))
    np.testing.assert_allclose(out["deletion"][0], expect, atol=1e-6)
    assert out["classes"][0] == 1
    # The insertion curve ends on the intact image; the deletion curve starts there.
    np.testing.assert_allclose(out["insertion"][0, -1], expect[0], atol=1e-6)
    assert curve_auc(np.array([[1.0, 0.0]]))[0] == pytest.approx(0.5)
    assert curve_auc(np.array([expect]))[0] == pytest.approx(np.trapezoid(expect, dx=1 / steps))


def test_faithful_map_beats_the_random_order_and_blank_maps_do_not_count():
    model, x = RegionModel(), toy_images(3)
    good = np.zeros((3, 8, 8), np.float32)
    good[:, 1:3, 2:4] = 1.0
    good[2] = 0.0  # a blank map: no evidence
    f = faithfulness(model, x, good, black=0.0, steps=8, seed=1)
    assert f["deletion"].shape == (3, 9)
    assert (f["deletion_auc"][:2] < f["deletion_random_auc"][:2]).all()
    assert (f["insertion_auc"][:2] > f["insertion_random_auc"][:2]).all()
    assert np.isnan(f["deletion_auc"][2]) and np.isnan(f["insertion_auc"][2])
    assert not np.isnan(f["deletion_random_auc"][2])


# -- ROI occlusion ----------------------------------------------------------------------

def test_fill_is_the_ring_mean_and_boxes_follow_box_mask():
    x = toy_images(1)
    out = fill_boxes(x, [REGION])
    x0, y0, x1, y1 = REGION
    r = 4  # half the shorter side
    ring = x[0, 0, y0 - r:y1 + r, x0 - r:x1 + r].sum() - x[0, 0, y0:y1, x0:x1].sum()
    want = ring / ((16 * 16) - 64)
    torch.testing.assert_close(out[0, 0, y0:y1, x0:x1], torch.full((8, 8), float(want)))
    torch.testing.assert_close(out[0, 0, :, :x0], x[0, 0, :, :x0])  # outside the box unchanged
    assert pixel_box((7.6, 3.6, 16.4, 12.4), S) == REGION  # pixel centres inside
    from engine.explain import box_mask

    for box in ((7.6, 3.5, 16.4, 12.5), (0.2, 0.7, 5.5, 9.49)):
        bx0, by0, bx1, by1 = pixel_box(box, S)
        want_mask = np.zeros((S, S), bool)
        want_mask[by0:by1, bx0:bx1] = True
        np.testing.assert_array_equal(box_mask([box], S), want_mask)
    assert pixel_box((3.0, 3.0, 3.2, 3.2), S) is None


def test_random_control_box_lies_in_bone_away_from_the_roi():
    pixels = (toy_images(1)[0, 0].numpy() * 255).astype(np.uint8)
    bone = bone_mask(pixels)
    assert bone[:, 6:26].all() and not bone[:, :6].any()
    rng = np.random.default_rng(0)
    for _ in range(50):
        b = random_box_away(bone, [REGION], 8, 8, rng)
        x0, y0, x1, y1 = b
        assert bone[y0:y1, x0:x1].mean() >= 0.5
        assert not (x0 < REGION[2] + 4 and x1 > REGION[0] - 4 and y0 < REGION[3] + 4 and y1 > REGION[1] - 4)
    assert random_box_away(bone, [REGION], 40, 40, rng) is None


def test_roi_occlusion_on_a_model_that_reads_only_the_roi():
    model, x = RegionModel(), toy_images(4)
    pixels = (x[:, 0].numpy() * 255).astype(np.uint8)
    labels = np.array([1, 1, 1, 1])
    boxes = [REGION] * 3 + [None]
    r = reliance(model, pixels, x, labels, boxes, seed=0, regions={"marker": [MARKER] * 4})
    assert r["drop_roi"][:3].min() > 0.3 and np.isnan(r["drop_roi"][3])
    np.testing.assert_array_equal(r["drop_roi_control"][:3], 0.0)  # the model never reads there
    np.testing.assert_allclose(r["reliance_roi"][:3], r["drop_roi"][:3])
    np.testing.assert_allclose(r["area_roi"][:3], 64 / S**2)
    # The marker region is not read: its reliance is exactly at chance (0) where the control
    # box can avoid the ROI (image 3 has no ROI on record, so its control may land on it).
    np.testing.assert_array_equal(r["reliance_marker"][:3], 0.0)
    # A model that reads only the marker: the ROI test shows no reliance, the marker test does.
    marker_model = RegionModel(MARKER, offset=0.1)
    xm = x.clone()
    xm[:, :, 26:30, 26:30] = 1.0
    r2 = reliance(marker_model, pixels, xm, labels, boxes, seed=0, regions={"marker": [MARKER] * 4})
    np.testing.assert_array_equal(r2["reliance_roi"][:3], 0.0)
    assert (r2["reliance_marker"] > 0.2).all()
    drops = box_drops(model, x, labels, [REGION, None, REGION, REGION])
    assert np.isnan(drops[1]) and drops[0] > 0.3
