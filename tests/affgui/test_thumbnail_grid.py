"""The thumbnail grid at study size: only what is on screen is loaded, and the LRU is bounded."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from affgui.thumbnails import LOADED, ThumbnailLoader, ThumbnailModel, thumbnail_image
from affgui.widgets.thumbnail_grid import ThumbnailGridView
from engine.store import ImageCache, ImageRow

N = 4300
SIDE = 40


def rows(n: int) -> list[ImageRow]:
    return [ImageRow(path=f"/d/{k}.png", source_folder="/d", sha256=f"{k:064x}", bytes=1,
                     format="png", width=100, height=100, patient_key=f"P{k // 4:04d}",
                     view="AP", laterality="L", thumb_height=SIDE, thumb_width=SIDE,
                     id=k + 1, patient_id=k // 4 + 1) for k in range(n)]


@pytest.fixture
def cache(tmp_path) -> ImageCache:
    cache = ImageCache(tmp_path / "cache")
    # Slots 1..N exist (a sparse file); the first and last few carry their id as grey level.
    for image_id in [*range(1, 30), *range(N - 30, N + 1)]:
        cache.write_thumb(image_id, np.full((SIDE, SIDE), image_id % 251, np.uint8))
    return cache


@pytest.fixture
def grid(qtbot, cache):
    view = ThumbnailGridView()
    qtbot.addWidget(view)
    view.resize(700, 600)
    view.show()
    qtbot.waitExposed(view)
    view.set_cache(cache)
    view.set_rows(rows(N))
    yield view
    view.wait()


def loaded(model: ThumbnailModel) -> list[int]:
    return [i for i in model.image_ids() if model.pixmap(i) is not None]


def test_only_rows_on_screen_are_loaded(qtbot, grid):
    model = grid.model()
    assert model.rowCount() == N
    qtbot.waitUntil(lambda: model.pixmap(1) is not None, timeout=5000)
    grid.wait()
    qtbot.wait(50)
    first_screen = loaded(model)
    assert 8 <= len(first_screen) <= 60, len(first_screen)
    assert max(first_screen) < 60
    assert model.pixmap(1).toImage().pixelColor(5, 5).red() == 1

    grid.scrollToBottom()
    qtbot.waitUntil(lambda: model.pixmap(N) is not None, timeout=5000)
    grid.wait()
    qtbot.wait(50)
    now = loaded(model)
    assert len(now) < 150  # the 4,200 rows scrolled past were never read
    assert model.pixmap(N).toImage().pixelColor(5, 5).red() == N % 251
    assert grid.current_image_id() == 1


def test_scrolling_end_to_end_drops_rows_scrolled_past(qtbot, grid):
    model = grid.model()
    bar = grid.verticalScrollBar()
    for value in range(0, bar.maximum() + 1, max(bar.maximum() // 40, 1)):
        bar.setValue(value)
        grid.viewport().repaint()  # paint each position, as fast scrolling would
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: model.pixmap(N) is not None, timeout=5000)
    grid.wait()
    qtbot.wait(50)
    assert len(loaded(model)) < 40 * 60  # far fewer than painted: stale loads were skipped
    assert not model._pending  # every request was answered (loaded or dropped)


def test_navigation_and_current_image_signal(qtbot, grid):
    with qtbot.waitSignal(grid.sigCurrentImageChanged) as blocker:
        assert grid.select_next()
    assert blocker.args == [2]
    assert grid.select_image(N) and grid.current_image_id() == N
    assert not grid.select_next()  # at the end
    assert grid.current_image_id() == N
    with qtbot.waitSignal(grid.sigCurrentImageChanged) as blocker:
        grid.set_rows([])
    assert blocker.args == [-1]


def test_lru_is_bounded(qtbot, cache):
    model = ThumbnailModel(capacity=10)
    model.set_cache(cache)
    model.set_rows(rows(40))
    for row in range(25):
        model.data(model.index(row), ThumbnailModel.PixmapRole)
    qtbot.waitUntil(lambda: not model._pending, timeout=5000)
    model.wait()
    assert len(loaded(model)) == 10
    # asking again for an evicted row loads it again
    evicted = next(r for r in range(25) if model.pixmap(r + 1) is None)
    model.data(model.index(evicted), ThumbnailModel.PixmapRole)
    qtbot.waitUntil(lambda: model.pixmap(evicted + 1) is not None, timeout=5000)
    assert len(loaded(model)) == 10
    model.wait()


def test_thumbnail_image_copies_and_scales(cache):
    image = thumbnail_image(cache, 3, SIDE, SIDE, side=20)
    assert (image.width(), image.height()) == (20, 20)
    assert image.pixelColor(10, 10).red() == 3
    assert thumbnail_image(cache, N + 50, SIDE, SIDE, side=20) is None



def test_the_visible_window_covers_every_row_on_screen(qtbot, grid):
    model = grid.model()
    bar = grid.verticalScrollBar()
    for value in (0, bar.maximum() // 3, bar.maximum() // 2 + 77, bar.maximum()):
        bar.setValue(value)
        viewport = grid.viewport().rect()
        on_screen = [r for r in range(model.rowCount())
                     if grid.visualRect(model.index(r)).intersects(viewport)]
        lo, hi = model._window
        assert lo <= on_screen[0] and on_screen[-1] <= hi
        assert hi - lo + 1 <= 4 * len(on_screen)  # one screen of margin either side


class _SlowCache:
    """A cache whose first read waits for the test: the batch is in flight when the project changes."""

    def __init__(self, grey: int):
        self.grey, self.reads = grey, []
        self.started, self.release = threading.Event(), threading.Event()

    def thumb(self, image_id: int, height: int, width: int) -> np.ndarray:
        self.reads.append(image_id)
        self.started.set()
        self.release.wait(5)
        return np.full((height, width), self.grey, np.uint8)


def test_another_cache_drops_the_batches_of_the_old_one(qtbot):
    loader = ThumbnailLoader(side=SIDE)
    got = []
    loader.sigLoaded.connect(got.extend)
    old, new = _SlowCache(10), _SlowCache(200)
    new.release.set()
    loader.reset(old)
    for image_id in (1, 2, 3):  # one batch
        loader.request(image_id, SIDE, SIDE)
    qtbot.waitUntil(old.started.is_set, timeout=5000)
    loader.reset(new)  # another project while the old batch reads its first image
    old.release.set()
    assert loader.wait(5000)
    qtbot.wait(50)
    assert got == [] and old.reads == [1]  # stopped at its next image, reported nothing
    loader.request(1, SIDE, SIDE)
    qtbot.waitUntil(lambda: len(got) == 1, timeout=5000)
    assert [(i, status) for i, status, _ in got] == [(1, LOADED)]
    assert got[0][2].pixel(0, 0) & 0xFF == 200  # from the new cache
    loader.wait()


def test_a_batch_read_before_the_switch_but_not_yet_delivered_is_dropped(qtbot):
    loader = ThumbnailLoader(side=SIDE)
    got = []
    loader.sigLoaded.connect(got.extend)
    old = _SlowCache(10)
    loader.reset(old)
    loader.request(1, SIDE, SIDE)
    qtbot.waitUntil(old.started.is_set, timeout=5000)
    old.release.set()
    assert loader.wait(5000)  # read to the end; its result waits in the GUI thread's queue
    loader.reset(_SlowCache(200))
    qtbot.wait(50)
    assert got == [] and old.reads == [1]
