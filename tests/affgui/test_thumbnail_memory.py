"""Scrolling the grid end to end keeps memory bounded: no slot file pages, a bounded pixmap cache.

The slot file is 64 KiB per image (2.8 GB at 43,000 images). Read through a memory
map, every slot the grid had shown stayed resident in the GUI process; read with
``pread``, the process holds only the decoded pixmaps of its bounded LRU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage, Qt

from affgui.thumbnails import thumbnail_image
from affgui.widgets.thumbnail_grid import ThumbnailDelegate, ThumbnailGridView
from engine.store import THUMB_SIDE, ImageCache, ImageRow

N = 1200
H, W = THUMB_SIDE, 205  # the importer's slot use for a 1024 x 820 cached copy
CAPACITY = 120


def rss_mb() -> dict[str, float]:
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs /proc/self/status")
    out = {}
    for line in status.read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("RssFile", "RssAnon"):
            out[key] = int(rest.split()[0]) / 1024
    return out


def rows(n: int) -> list[ImageRow]:
    return [ImageRow(path=f"/d/{k}.png", source_folder="/d", sha256=f"{k:064x}", bytes=1,
                     format="png", width=820, height=1024, patient_key=f"P{k // 3:04d}",
                     view="AP", laterality="L", thumb_height=H, thumb_width=W,
                     id=k + 1, patient_id=k // 3 + 1) for k in range(n)]


def pattern(image_id: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return ((x * 3 + y * 5 + image_id * 7) % 256).astype(np.uint8)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> ImageCache:
    cache = ImageCache(tmp_path_factory.mktemp("thumbs") / "cache")
    for image_id in range(1, N + 1):
        cache.write_thumb(image_id, pattern(image_id))
    return cache


def test_scrolling_end_to_end_keeps_memory_bounded(qtbot, cache):
    view = ThumbnailGridView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    qtbot.waitExposed(view)
    model = view.model()
    model._capacity = CAPACITY  # small, so an unbounded cache would show within N rows
    view.set_cache(cache)
    view.set_rows(rows(N))
    qtbot.waitUntil(lambda: model.pixmap(1) is not None, timeout=5000)
    view.wait()
    before = rss_mb()

    bar = view.verticalScrollBar()
    seen: set[int] = set()
    value = 0
    while True:
        bar.setValue(value)
        view.viewport().repaint()
        first, last = model._window
        on_screen = [model.image_row(r).id for r in range(max(first, 0), min(last, N - 1) + 1)
                     if view.visualRect(model.index(r)).intersects(view.viewport().rect())]
        qtbot.waitUntil(lambda ids=on_screen: all(model.pixmap(i) is not None for i in ids),
                        timeout=5000)
        seen.update(on_screen)
        assert len(model._pixmaps) <= CAPACITY
        if value >= bar.maximum():
            break
        value = min(bar.maximum(), value + bar.pageStep())
    view.wait()
    after = rss_mb()

    assert len(seen) == N  # every thumbnail was loaded and painted once
    slots_mb = N * THUMB_SIDE * THUMB_SIDE / 2**20  # 75 MB that a memory map would keep
    grown_file = after["RssFile"] - before["RssFile"]
    grown_anon = after["RssAnon"] - before["RssAnon"]
    assert grown_file < slots_mb / 3, (grown_file, slots_mb)
    # CAPACITY pixmaps of 148 px (RGB32) are ~8 MB; all N would be ~80 MB
    assert grown_anon < 40, grown_anon
    print(f'RssFile +{grown_file:.1f} MB, RssAnon +{grown_anon:.1f} MB')


def test_thumbnails_render_as_from_the_memory_map(qtbot, cache):
    """The pread copy gives the very pixels the former memory-map view gave, after scaling."""
    slots = np.memmap(cache.thumbs_path, np.uint8, "r").reshape(-1, THUMB_SIDE, THUMB_SIDE)
    side = ThumbnailDelegate.THUMB_SIDE
    for image_id in (1, 2, N // 2, N):
        old = np.ascontiguousarray(slots[image_id, :H, :W])
        ref = QImage(old.data, W, H, W, QImage.Format.Format_Grayscale8).copy().scaled(
            side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        got = thumbnail_image(cache, image_id, H, W, side)
        assert max(got.width(), got.height()) == side
        assert got == ref
        assert np.array_equal(cache.thumb(image_id, H, W), pattern(image_id))
    del slots
