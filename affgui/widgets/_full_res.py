"""Full resolution on demand: the source file is decoded in the background once the
view zooms beyond the cached copy's resolution, and drawn over it.

The cached copy shows at once; the full-resolution layer is a child of the
cached image item scaled by cached/source size, so it lines up exactly, and
window/level, invert, rotation and flips (all set on or above that item) apply
to both. It uses ``engine.io.read_image(...).to_uint8()``, the import's own
display chain, so its grey values match the cached copy's.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QTransform

from engine.io import ImageReadError, read_image
from engine.store import ImageRow


class _Signals(QObject):
    sigRead = Signal(int, object)  # image id, uint8 array or exception


class _ReadRunnable(QRunnable):
    def __init__(self, image_id: int, path: str, signals: _Signals):
        super().__init__()
        self.image_id, self.path, self.signals = image_id, path, signals

    def run(self) -> None:
        try:
            result = read_image(self.path).to_uint8()
        except (OSError, ValueError, ImageReadError) as exc:
            result = exc
        self.signals.sigRead.emit(self.image_id, result)


class FullResLayer(QObject):
    """The source pixels of the shown image, read when the zoom asks for them."""

    sigShown = Signal(int)  # image id, once its full-resolution pixels are drawn

    def __init__(self, parent_item: pg.ImageItem, view_box: pg.ViewBox,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setParentItem(parent_item)
        self.item.setZValue(1)  # over the cached copy, under boxes and ruler
        self._view_box = view_box
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals()
        self._signals.sigRead.connect(self._on_read)
        self._row: ImageRow | None = None
        self._reading: int | None = None
        self._ready = False  # the cached copy of the current row is shown
        self.shown_id: int | None = None
        self.error = ""
        self.levels: tuple[float, float] = (0.0, 255.0)
        self.lut = None
        view_box.sigRangeChanged.connect(self.check)

    def set_row(self, row: ImageRow | None) -> None:
        """Follow another image (the viewer calls :meth:`image_shown` once its pixels are)."""
        self._row = row
        self._ready = False
        self.item.clear()
        self.shown_id, self.error = None, ""

    def image_shown(self) -> None:
        """The current row's cached copy is on screen (and fitted): the zoom now means something."""
        self._ready = True
        self.check()

    @Slot()
    def check(self, *_args) -> None:
        """Start reading the source when the view is zoomed past the cached resolution."""
        r = self._row
        if (r is None or not self._ready or self._reading is not None or self.shown_id == r.id
                or self.error or not r.cache_width or r.width <= r.cache_width
                or self.zoom() <= 1.0):
            return
        self._reading = r.id
        self._pool.start(_ReadRunnable(r.id, r.path, self._signals))

    def zoom(self) -> float:
        """Screen pixels per cached pixel."""
        (x0, x1), _ = self._view_box.viewRange()
        return self._view_box.width() / max(x1 - x0, 1e-9)

    def set_levels(self, levels: tuple[float, float]) -> None:
        self.levels = levels
        if self.shown_id is not None:
            self.item.setLevels(levels)

    def set_lut(self, lut) -> None:
        self.lut = lut
        self.item.setLookupTable(lut)

    def wait(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, object)
    def _on_read(self, image_id: int, result: object) -> None:
        self._reading = None
        r = self._row
        if r is None or r.id != image_id:
            self.check()  # the reader moved on while the file was read
            return
        if isinstance(result, Exception):
            self.error = f"full resolution unavailable: {result}"
            return
        h, w = result.shape
        self.item.setImage(result, autoLevels=False, levels=self.levels)
        self.item.setLookupTable(self.lut)
        self.item.setTransform(QTransform.fromScale(r.cache_width / w, r.cache_height / h))
        self.shown_id = image_id
        self.sigShown.emit(image_id)
