"""The cached copy equals 'window every pixel, then area-average', within a grey level or two."""

import numpy as np
import pytest
from PIL import Image

from engine.io import (
    DecodedImage,
    Display,
    ImageMeta,
    Modality,
    Window,
    cache_pixels,
    target_shape,
    thumbnail,
)
from engine.io._resample import _summed, _sums_then_linear, block_sum, blocks_then_box, spans


def _image(codes, window, code_range, invert=False, rescale=(1.0, 0.0)):
    meta = ImageMeta(format="dicom", width=codes.shape[1], height=codes.shape[0])
    display = Display(Modality(*rescale), window, invert)
    return DecodedImage(codes, display, meta, code_range)


def _reference(image, shape):
    """Window at full resolution in float, then an exact area average (Pillow's BOX on F)."""
    grey = (image.display.fraction(image.codes) * 255).astype(np.float32)
    out = Image.fromarray(grey, mode="F").resize((shape[1], shape[0]), Image.Resampling.BOX)
    return np.asarray(out)


@pytest.mark.parametrize(("h", "w"), [(2100, 1501), (3301, 2000), (1500, 1100), (1024, 700)])
def test_cache_matches_the_reference(h, w):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    codes = (1500 + 1000 * np.sin(x / 90.0) * np.cos(y / 70.0) + rng.normal(0, 10, (h, w)))
    image = _image(np.clip(codes, 0, 4095).astype(np.uint16), Window(1600, 2400), (0, 4095),
                   invert=True, rescale=(1.0, -24.0))
    shape = target_shape(h, w, 1024)
    cached = cache_pixels(image)
    assert cached.shape == shape and cached.dtype == np.uint8
    diff = np.abs(cached.astype(np.float32) - _reference(image, shape))
    # Block alignment (and the ragged edge of < k pixels, dropped) only moves pixel-scale
    # noise around: on a radiograph-like picture the copies agree within a grey level or two.
    assert diff.mean() < 0.8 and np.percentile(diff, 99.9) <= 3


def test_float_and_8_bit_data():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:2300, 0:1200]
    floats = (np.sin(x / 80.0) + np.cos(y / 60.0) + rng.normal(0, 0.02, x.shape))
    image = _image(floats.astype(np.float32), Window(0, 5, "LINEAR_EXACT"), None)
    diff = np.abs(cache_pixels(image) - _reference(image, target_shape(2300, 1200, 1024)))
    assert diff.mean() < 0.8 and np.percentile(diff, 99.9) <= 3
    u8 = rng.integers(0, 256, (2048, 2048), dtype=np.uint8)
    image = _image(u8, Window(127.5, 255, "LINEAR_EXACT"), (0, 255))
    assert np.abs(cache_pixels(image) - _reference(image, (1024, 1024))).max() <= 1


def test_never_upscales_and_thumbnail_sizes():
    assert target_shape(300, 200, 1024) == (300, 200)
    assert target_shape(2500, 2000, 1024) == (1024, 819)
    assert target_shape(2000, 2500, 256) == (205, 256)
    small = np.full((30, 20), 7, np.uint8)
    assert thumbnail(small).shape == (30, 20)
    assert thumbnail(np.zeros((1024, 819), np.uint8)).shape == (256, 205)


def test_block_sum():
    codes = np.arange(7 * 9, dtype=np.uint16).reshape(7, 9)
    want = codes[:6, :9].reshape(2, 3, 3, 3).sum(axis=(1, 3))
    assert np.array_equal(block_sum(codes, 3, np.uint32), want)


def _radiograph(h, w, seed=0, noise=40):
    """Smooth 12-bit picture plus pixel noise, as the import benchmark writes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    codes = 1500 + 1000 * np.sin(x / 90.0) * np.cos(y / 70.0) + rng.normal(0, noise, (h, w))
    return np.clip(codes, 0, 4095).astype(np.uint16)


@pytest.mark.parametrize(("h", "w"), [(2500, 2000), (2000, 2500), (2101, 1501), (3301, 2000),
                                      (4000, 3000), (5000, 17)])
def test_summed_route_keeps_the_older_results(h, w):
    """Sums of stored values, then one table: the older route's output within rounding.

    The older route windowed the k x k block sums, then box-filtered grey
    levels; the summed route rounds once instead of three times, so grey
    levels move by at most 2 (mostly 0) inside the window, and the copy is
    as close (within 0.05 grey levels on average) to 'window every pixel,
    then area-average' everywhere, window edges included.
    """
    codes = _radiograph(h, w)
    shape = target_shape(h, w, 1024)
    k = max(h, w) // 1024
    linear = h % k == 0 and w % k == 0  # whole blocks: the bilinear route (tested below)
    for window, clips in ((Window(2048, 4096), False), (Window(1500, 3200), False),
                          (Window(1500, 800, "SIGMOID"), False), (Window(1600, 2400), True),
                          (Window(1500, 600, "LINEAR_EXACT"), True)):
        image = _image(codes, window, (0, 4095), invert=True, rescale=(1.0, -24.0))
        new = _summed(image, shape, k) if linear else cache_pixels(image)
        old = blocks_then_box(image, shape, k)
        assert new.shape == old.shape == shape and new.dtype == np.uint8
        moved = np.abs(new.astype(int) - old)
        if not clips:
            assert moved.max() <= 2 and moved.mean() < 0.25, (window, moved.max(), moved.mean())
        else:  # only where 2 x 2 blocks straddle a window edge
            assert np.percentile(moved, 99) <= 1 and moved.mean() < 0.2
        ref = _reference(image, shape)
        err_new, err_old = np.abs(new - ref), np.abs(old - ref)
        assert err_new.mean() <= err_old.mean() + 0.05
        assert np.percentile(err_new, 99.9) <= np.percentile(err_old, 99.9) + 0.25


@pytest.mark.parametrize(("h", "w"), [(2500, 2000), (2000, 2500), (3000, 2400), (4096, 3072)])
def test_bilinear_route_is_closer_to_the_reference(h, w):
    """Whole k x k blocks: block sums, then a bilinear step on the sums, then one table.

    Where the remaining factor is fractional, bilinear weights follow each
    output pixel's area better than the summed route's one-or-two whole
    blocks, so the copy is closer to 'window every pixel, then
    area-average' for every window, on a noise-free picture (steep
    gradients under a narrow window) as with pixel noise (which the two
    routes average differently, so their grey levels move by about the
    noise of a block mean).
    """
    shape = target_shape(h, w, 1024)
    k = max(h, w) // 1024
    noisy, smooth = _radiograph(h, w), _radiograph(h, w, noise=0)
    for window in (Window(2048, 4096), Window(1500, 3200), Window(1500, 800, "SIGMOID"),
                   Window(1600, 2400), Window(1500, 600, "LINEAR_EXACT")):
        image = _image(noisy, window, (0, 4095), invert=True, rescale=(1.0, -24.0))
        fast, summed = _sums_then_linear(image, shape, k), _summed(image, shape, k)
        assert fast is not None and fast.shape == shape and fast.dtype == np.uint8
        assert np.array_equal(cache_pixels(image), fast)  # the route cache_pixels takes
        ref = _reference(image, shape)
        err_fast, err_summed = np.abs(fast - ref), np.abs(summed - ref)
        assert err_fast.mean() <= err_summed.mean() + 0.02, window
        assert np.percentile(err_fast, 99.9) <= np.percentile(err_summed, 99.9) + 0.25
        image = _image(smooth, window, (0, 4095), invert=True, rescale=(1.0, -24.0))
        ref = _reference(image, shape)
        err_fast = np.abs(_sums_then_linear(image, shape, k) - ref)
        err_summed = np.abs(_summed(image, shape, k) - ref)
        assert err_fast.max() <= min(4.0, err_summed.max() + 0.01), window
        assert err_fast.mean() <= err_summed.mean() + 0.01, window


def test_bilinear_route_signed_and_declines():
    """Signed 12-bit data take the bilinear route too; a ragged edge or 16-bit sums do not."""
    codes = _radiograph(2500, 2000).astype(np.int16) - 2048
    image = _image(codes, Window(-500, 2400), (-2048, 2047), rescale=(1.0, 0.0))
    fast = _sums_then_linear(image, (1024, 819), 2)
    assert fast is not None
    ref = _reference(image, (1024, 819))
    assert np.abs(fast - ref).mean() < np.abs(_summed(image, (1024, 819), 2) - ref).mean()
    unsigned = _image(codes.view(np.uint16) & 4095, Window(1500, 2400), (0, 4095))
    signed_as_unsigned = cache_pixels(unsigned)
    assert signed_as_unsigned.shape == (1024, 819)
    ragged = _image(_radiograph(2501, 2000), Window(1500, 2400), (0, 4095))
    assert _sums_then_linear(ragged, (1024, 819), 2) is None
    wide = _image(_radiograph(2500, 2000), Window(1500, 2400), (0, 65535))
    assert _sums_then_linear(wide, (1024, 819), 2) is None  # 4 x 65535 needs 32 bits


def test_spans_are_the_pixels_pillow_averages():
    """Pillow's box filter on a float ramp averages exactly the inputs spans() names."""
    for n_in, n_out, extent in ((1250, 1024, None), (1000, 819, None), (1051, 1024, 1050.5),
                                (751, 683, 750.333), (820, 819, None), (819, 820, None)):
        first, last = spans(n_in, n_out, extent)
        ramp = np.arange(n_in, dtype=np.float32)[None, :].repeat(2, 0)
        box = (0.0, 0.0, float(extent or n_in), 2.0)
        out = np.asarray(Image.fromarray(ramp, mode="F").resize(
            (n_out, 2), Image.Resampling.BOX, box=box))[0]
        assert np.allclose(out, (first + last) / 2, atol=1e-3), (n_in, n_out)
    assert spans(3000, 1024) is None  # a factor of 2 or more is the block sums' job


@pytest.mark.parametrize(("shape", "exact"), [
    ((819, 1024), True), ((1024, 1024), True), ((1000, 700), True), ((1024, 819), False),
    ((1024, 1023), False), ((2048, 1000), False), ((1024, 3), False)])
def test_thumbnail_is_pillows_box_filter(shape, exact):
    """Pillow's box filter; within one grey level where Pillow takes the axes the other way."""
    rng = np.random.default_rng(3)
    cached = rng.integers(0, 256, shape, dtype=np.uint8)
    thumb = thumbnail(cached)
    want = target_shape(*shape, 256)
    pillow = np.asarray(Image.fromarray(cached).resize((want[1], want[0]),
                                                       Image.Resampling.BOX))
    assert thumb.shape == want and thumb.dtype == np.uint8
    moved = np.abs(thumb.astype(int) - pillow)
    assert moved.max() <= (0 if exact else 1) and moved.mean() < 0.2


def test_reused_tables_follow_each_files_window():
    """The display table kept between files is keyed by the window: a new window, a new table."""
    codes = _radiograph(2500, 2000)
    first = cache_pixels(_image(codes, Window(2048, 4096), (0, 4095)))
    other = _image(codes, Window(1200, 900), (0, 4095), invert=True, rescale=(2.0, -10.0))
    from engine.io import _resample

    _resample._plain_table.cache_clear()
    alone = cache_pixels(other)  # built afresh
    cache_pixels(_image(codes, Window(2048, 4096), (0, 4095)))  # another key in between
    again = cache_pixels(other)  # reused
    assert np.array_equal(alone, again)
    assert not np.array_equal(first, again)
    assert np.array_equal(cache_pixels(_image(codes, Window(2048, 4096), (0, 4095))), first)


def test_cache_file_is_what_np_save_writes(tmp_path):
    """The one-writev cache write gives byte-for-byte the file np.save gives (and loads back)."""
    import io

    from engine.store import ImageCache

    cache = ImageCache(tmp_path)
    for shape in [(1024, 819), (7, 3), (1024, 1024)]:
        pixels = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
        path = cache.write_full("ab" * 16, pixels)
        reference = io.BytesIO()
        np.save(reference, pixels)
        assert path.read_bytes() == reference.getvalue()
        assert np.array_equal(cache.load_full("ab" * 16), pixels)


@pytest.mark.parametrize(("k", "rows"), [(2, 30), (2, 137), (2, 128), (3, 30), (4, 30)])
def test_block_sum_16_equals_block_sum(k, rows):
    """The OpenCV rows plus 32-bit-word column pairs give numpy's block sums, signed or not.

    137 and 128 block rows: more than one stripe, the last one partial or whole.
    """
    from engine.io._resample import _block_sum_16

    rng = np.random.default_rng(k)
    codes = rng.integers(0, 4096, (rows * k, 24 * k)).astype(np.uint16)
    assert np.array_equal(_block_sum_16(codes, k, np.uint16), block_sum(codes, k, np.uint16))
    signed = (codes.astype(np.int16) - 2048)
    assert np.array_equal(_block_sum_16(signed, k, np.int16), block_sum(signed, k, np.int16))
    assert _block_sum_16(signed, k, np.int16).dtype == np.int16


@pytest.mark.parametrize(("window", "invert", "rescale"), [
    (Window(2048, 4096), False, (1.0, 0.0)), (Window(1600, 2400), True, (1.0, -24.0)),
    (Window(1500, 600, "LINEAR_EXACT"), False, (2.0, -10.0)),
    (Window(-300, 900), True, (0.5, -1024.0)), (Window(100, 1), False, (1.0, 0.0))])
def test_affine_window_equals_the_table(window, invert, rescale):
    """The one-pass affine map of LINEAR windows gives the table's grey levels (ties aside)."""
    from engine.io._resample import _affine

    display = Display(Modality(*rescale), window, invert)
    every = np.arange(0, 4 * 4095 + 1, dtype=np.uint16).reshape(1, -1)
    table = display.table(0, 4 * 4095, scale=4)
    affine = _affine(display, 4)
    if window.width <= 1:
        assert affine is None  # a threshold: the table
        return
    import cv2

    grey = cv2.addWeighted(every, affine[0], every, 0.0, affine[1], dtype=cv2.CV_8U)[0]
    moved = np.abs(grey.astype(int) - table)
    assert moved.max() <= 1 and (moved > 0).mean() < 0.002
    assert _affine(Display(Modality(), Window(0, 5, "SIGMOID")), 4) is None
