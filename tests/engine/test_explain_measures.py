"""ROI and agreement measures on hand-made arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.explain import (
    Heatmaps,
    agreement,
    bootstrap_mean,
    box_mask,
    chance_level,
    letterbox_box,
    paired_wilcoxon,
    pearson,
    pointing_game,
    roi_energy,
    roi_masks,
    roi_scores,
    spearman,
    top_iou,
    upsample,
)
from engine.store import ImageRecord, Project
from engine.train import letterbox


def test_roi_energy_pointing_and_chance():
    maps = np.zeros((3, 4, 4))
    maps[0, 0, 0] = 3.0
    maps[0, 3, 3] = 1.0  # 3/4 of the mass in the top-left box, maximum inside
    maps[1] = 1.0  # uniform: energy equals the chance level, no maximum
    maps[2, 3, 3] = 2.0
    maps[2, 0, 1] = 1.0  # 1/3 inside, maximum outside
    masks = np.zeros((3, 4, 4), bool)
    masks[:, :2, :2] = True
    np.testing.assert_allclose(roi_energy(maps, masks), [0.75, 0.25, 1 / 3])
    np.testing.assert_array_equal(pointing_game(maps, masks), [1.0, np.nan, 0.0])
    np.testing.assert_allclose(chance_level(masks), 0.25)
    assert np.isnan(roi_energy(np.zeros((1, 4, 4)), masks[:1]))[0]


def test_pointing_game_ties_need_a_majority_inside():
    m = np.zeros((2, 1, 4))
    m[0, 0, [0, 1, 3]] = 1  # two of three maxima inside
    m[1, 0, [0, 2]] = 1  # one of two: not a majority
    masks = np.array([[[True, True, False, False]]] * 2)
    np.testing.assert_array_equal(pointing_game(m, masks), [1.0, 0.0])


def test_correlations_and_top_iou():
    a = np.arange(16, dtype=float).reshape(1, 4, 4)
    np.testing.assert_allclose(pearson(a, 2 * a + 1), [1.0])
    np.testing.assert_allclose(pearson(a, -a), [-1.0])
    np.testing.assert_allclose(spearman(a, a ** 3), [1.0])  # monotone, not linear
    assert pearson(a, a ** 3)[0] < 1
    assert np.isnan(pearson(a, np.ones_like(a)))[0]
    # top 25% of 16 = 4 pixels: a's are 12..15, b shifted by 2 shares 2 of them.
    b = np.roll(a.reshape(1, -1), -2, axis=1).reshape(1, 4, 4)
    np.testing.assert_allclose(top_iou(a, b, 0.25), [2 / 6])
    np.testing.assert_allclose(top_iou(a, a, 0.1), [1.0])


def test_agreement_upsamples_different_grids():
    a = np.zeros((2, 2, 2), np.float32)
    a[:, 0, 0] = 1
    b = upsample(a, 4)  # the same map at a finer grid
    out = agreement(a, b)
    assert set(out) == {"pearson", "spearman", "iou_top10", "iou_top20"}
    np.testing.assert_allclose(out["pearson"], 1.0, atol=1e-6)
    np.testing.assert_allclose(out["iou_top10"], 1.0)


def test_upsample_keeps_constant_and_mass_location():
    np.testing.assert_allclose(upsample(np.full((3, 3), 0.5), 12), 0.5)
    m = np.zeros((2, 2))
    m[1, 1] = 1
    up = upsample(m, 8)
    assert up[4:, 4:].sum() > 0.7 * up.sum()


def test_paired_wilcoxon_and_bootstrap():
    a = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.65, 0.55, np.nan])
    b = a - np.array([0.1, 0.2, 0.05, 0.3, 0.15, 0.25, 0.12, 0.0])
    t = paired_wilcoxon(a, b)
    # all 7 differences positive: the exact two-sided p-value is 2 / 2**7
    assert t.n == 7 and t.statistic == 0 and t.p_value == pytest.approx(2 / 128)
    assert t.median_difference == pytest.approx(0.15)
    s = bootstrap_mean([1.0, 2.0, 3.0, 4.0, np.nan], n_boot=4000)
    assert s.mean == 2.5 and s.n == 4 and 1.0 <= s.low < 2.5 < s.high <= 4.0
    g = bootstrap_mean([1.0, 1.0, 5.0], groups=["p", "p", "q"])
    assert g.low == pytest.approx(1.0) and g.high == pytest.approx(5.0)


def test_letterbox_box_matches_the_training_transform():
    # A 100 x 50 (w x h) source cached at half size; the box marks a bright block.
    src = np.zeros((50, 100), np.uint8)
    src[10:20, 60:80] = 255
    cache = src[::2, ::2]
    x0, y0, x1, y1 = letterbox_box((60, 10, 80, 20), (100, 50), (50, 25), 64)
    sq = letterbox(cache, 64)
    assert (x0, y0, x1, y1) == pytest.approx((38.4, 22.4, 51.2, 28.8))
    bright = np.argwhere(sq > 128)
    assert bright[:, 1].min() >= int(x0) and bright[:, 1].max() <= int(x1)
    assert bright[:, 0].min() >= int(y0) and bright[:, 0].max() <= int(y1)
    mask = box_mask([(x0, y0, x1, y1)], 64)
    assert mask.sum() == 13 * 7 and sq[mask].mean() > 128


def test_roi_scores_from_project_rois(tmp_path):
    with Project.create(tmp_path / "P") as project:
        with project.transaction() as conn:
            ids = [project.images.insert(conn, ImageRecord(
                path=f"/d/{i}.png", source_folder="/d", sha256=f"{i:064x}", bytes=1, format="png",
                width=64, height=64, patient_key=f"P{i}", cache_height=32, cache_width=32))
                for i in range(2)]
        project.rois.add(ids[0], (0, 0, 32, 32), "tester", source="import")
        maps = np.zeros((2, 2, 2), np.float16)
        maps[:, 0, 0] = 1  # mass in the top-left quarter
        h = Heatmaps(np.array(ids), maps, np.array([0.9, 0.2], np.float32), np.array([1, 0]),
                     np.zeros(2, np.int64), {"input_size": 16})
        masks = roi_masks(project, ids, 16)
        assert masks[0, :8, :8].all() and masks[0].sum() == 64 and not masks[1].any()
        s = roi_scores(project, h)
        assert list(s.image_ids) == [ids[0]]
        # Bilinear 2 -> 16 spreads a corner along each axis as [1, 1, .875, .625, .375, .125, 0, 0]
        # (half-pixel aligned): 3.5 of 4 inside per axis, 0.875 ** 2 in the quarter.
        assert s.hit[0] == 1.0 and s.chance[0] == 0.25
        assert s.energy[0] == pytest.approx(0.875 ** 2)
        summary = s.summary(n_boot=100)
        assert summary["AFF"]["energy"].n == 1 and summary["NFF"]["energy"].n == 0
        assert roi_scores(project, h, source="gui").image_ids.size == 0
