"""Heatmap geometry (grid back onto the cached image) and the comparison's torch-free reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from affgui.parts.heatmaps.overlay import (
    COLORMAPS,
    METHODS,
    cache_box,
    colormap_lut,
    image_in_input,
    overlay_pixels,
    resample,
)

ROOT = Path(__file__).resolve().parents[2]


def test_methods_are_the_engines():
    from engine.explain import methods

    assert METHODS == methods()


@pytest.mark.parametrize(("cache_wh", "size", "expected"), [
    ((160, 200), 64, (6, 0, 51, 64)),  # portrait: padding left and right
    ((300, 100), 224, (0, 74, 224, 75)),  # landscape: padding above and below
    ((128, 128), 96, (0, 0, 96, 96)),  # square: no padding
])
def test_image_in_input_is_the_training_letterbox(cache_wh, size, expected):
    assert image_in_input(cache_wh, size) == expected
    # The same rectangle that engine.train.letterbox fills with the image.
    from engine.train import letterbox

    cw, ch = cache_wh
    boxed = letterbox(np.full((ch, cw), 255, np.uint8), size)
    left, top, w, h = expected
    assert boxed[top:top + h, left:left + w].min() == 255
    assert boxed.sum() == 255 * w * h


def test_nearest_overlay_keeps_cells_and_drops_the_padding():
    grid = np.arange(16, dtype=np.float32).reshape(4, 4) / 16
    out = overlay_pixels(grid, (160, 200), 64, smooth=False)
    assert out.shape == (64, 51)
    # Input columns 6..56: cells of 16 px, so 10 columns of cell 0, 16 each of 1 and 2, 9 of 3.
    assert [int(np.sum(out[0] == grid[0, j])) for j in range(4)] == [10, 16, 16, 9]
    np.testing.assert_array_equal(out[:, 0], np.repeat(grid[:, 0], 16))


def test_smooth_resample_is_torch_bilinear():
    import torch
    import torch.nn.functional as F

    grid = np.random.default_rng(0).random((7, 5)).astype(np.float32)
    ours = resample(grid, 48, smooth=True)
    ref = F.interpolate(torch.from_numpy(grid)[None, None], size=(48, 48), mode="bilinear",
                        align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_overlay_rejects_a_bad_input_size():
    with pytest.raises(ValueError, match="input size"):
        overlay_pixels(np.zeros((2, 2)), (10, 10), 0)


def test_cache_box_scales_source_pixels():
    assert cache_box((500, 1000, 1500, 2000), (2000, 2500), (160, 200)) == pytest.approx((40, 80, 120, 160))


def test_colormaps_give_rgba_tables():
    for name in COLORMAPS:
        lut = colormap_lut(name)
        assert lut.shape == (256, 4) and lut.dtype == np.uint8
    with pytest.raises(ValueError, match="unknown colour map 'jet'"):
        colormap_lut("jet")


def test_reading_heatmaps_does_not_load_torch(tmp_path):
    # A fresh interpreter: what the comparison reads in the GUI process must not pull torch in.
    code = f"""
import sys
import numpy as np
from affgui.parts.heatmaps import HeatmapController, overlay_pixels
from affgui.parts.heatmaps.loading import available_methods, load_maps
from engine.explain import read_heatmaps, write_heatmaps
write_heatmaps({str(tmp_path)!r}, "gradcam", [1, 2], np.zeros((2, 3, 3)), [0.1, 0.9], [0, 1],
               {{"input_size": 32}})
h = read_heatmaps({str(tmp_path)!r}, "gradcam")
overlay_pixels(h.maps[0], (40, 50), 32)
print(len(h), 'torch' in sys.modules, 'timm' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["2", "False", "False"]


def test_maps_without_an_input_size_are_refused_with_a_reason(tmp_path):
    from affgui.parts.heatmaps.loading import FAILED, load_maps
    from engine.experiments import create_experiment, experiment_jobs
    from engine.explain import write_heatmaps
    from engine.store import Project
    from tests.engine._train_factory import make_project, tiny_spec

    path = make_project(tmp_path / "Study", patients=4, per_patient=1, k=2)
    with Project.open(path) as project:
        create_experiment(project, "cnn", tiny_spec(path))
        assert load_maps(project, "cnn", "gradcam").state == "missing"
        for job in experiment_jobs(project, "cnn"):
            write_heatmaps(project.runs_dir / job.run_id, "gradcam", [job.fold + 1], np.zeros((1, 2, 2)),
                           [0.5], [1], {"grid": [2, 2]})
        maps = load_maps(project, "cnn", "gradcam")
        assert maps.state == FAILED and "input size" in maps.message
