"""PNG, TIFF and JPEG: bit depth kept, colour made grey, windows for non-DICOM files."""

import numpy as np
import pytest
from PIL import Image

from engine.io import read_image
from tests.engine._dicom_factory import femur_like, write_raster


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_keeps_more_than_8_bits(tmp_path, suffix):
    source = femur_like(40, 30, 16)
    source[5, 5], source[5, 6] = 30001, 30002  # neighbours one code apart
    image = read_image(write_raster(tmp_path / f"a{suffix}", source))
    assert image.codes.dtype == np.uint16
    assert np.array_equal(image.codes, source)
    assert image.meta.bits_stored == 16
    assert image.window.source == "percentile"
    assert len(np.unique(image.codes)) > 256


def test_16_bit_png_opens_as_16_bit_in_pillow(tmp_path):
    path = write_raster(tmp_path / "a.png", femur_like(8, 8, 16))
    with Image.open(path) as im:
        assert im.mode in ("I;16", "I")  # Pillow keeps 16 bits; we rely on it


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
def test_8_bit_grey_uses_the_full_range(tmp_path, suffix):
    source = femur_like(40, 30, 8)
    image = read_image(write_raster(tmp_path / f"a{suffix}", source))
    assert np.array_equal(image.codes, source)
    assert (image.window.center, image.window.width, image.window.source) == (127.5, 255,
                                                                             "full_range")
    assert np.array_equal(image.to_uint8(), source)  # the identity for 8-bit files


def _rgb():
    rgb = np.zeros((20, 16, 3), np.uint8)
    rgb[..., 0] = np.arange(16) * 10
    rgb[..., 1] = 120
    rgb[..., 2] = 30
    return rgb


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_colour_png_becomes_grey(tmp_path, mode):
    rgb = _rgb()
    arr = rgb if mode == "RGB" else np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    image = read_image(write_raster(tmp_path / "c.png", arr))
    want = np.asarray(Image.fromarray(rgb).convert("L")).astype(int)
    assert image.codes.shape == (20, 16)
    assert np.abs(image.codes.astype(int) - want).max() <= 1
    assert image.meta.photometric == "RGB"
    assert any("grey" in n for n in image.notes)


def test_colour_tiff_becomes_grey(tmp_path):
    rgb = _rgb()
    image = read_image(write_raster(tmp_path / "c.tif", rgb, photometric="rgb"))
    want = np.rint(rgb @ np.array([0.299, 0.587, 0.114]))
    assert np.abs(image.codes - want).max() <= 1


def test_jpeg_grey_and_colour(tmp_path):
    source = femur_like(64, 48, 8)
    grey = read_image(write_raster(tmp_path / "g.jpg", source, quality=95))
    assert grey.meta.format == "jpeg" and grey.codes.dtype == np.uint8
    assert np.abs(grey.codes.astype(int) - source).mean() < 3
    colour = read_image(write_raster(tmp_path / "c.jpeg", np.dstack([source] * 3), quality=95))
    assert np.abs(colour.codes.astype(int) - source).mean() < 3


def test_tiff_min_is_white_is_inverted_like_monochrome1(tmp_path):
    source = femur_like(20, 20, 16)
    image = read_image(write_raster(tmp_path / "w.tif", source, photometric="miniswhite"))
    assert image.display.invert and image.meta.photometric == "MONOCHROME1"
    normal = read_image(write_raster(tmp_path / "b.tif", source))
    assert np.abs(image.to_uint8().astype(int) + normal.to_uint8() - 255).max() <= 1


def test_content_decides_the_format(tmp_path):
    source = femur_like(10, 10, 8)
    path = write_raster(tmp_path / "really_a.png", source)
    moved = path.rename(tmp_path / "named.tif")
    assert read_image(moved).meta.format == "png"
