"""Parts of the image viewer: its ViewBox, the pixel loader, ROI boxes and the ruler.

Both are children of the ImageItem, so they live in cached-pixel coordinates
and follow any display rotation or flip of the image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, QRunnable, Qt, Signal
from PySide6.QtGui import QColor, QPen

from engine.store import ImageCache

USER_COLOR = "#ffd400"  # boxes the readers draw (source 'gui')
IMPORT_COLOR = "#35c46a"  # boxes that came with the data (manifest import): read-only here


class RoiLayer:
    """The ROI boxes of the shown image; calls back when the reader edits one."""

    def __init__(self, parent: pg.ImageItem, changed: Callable[[int, tuple], None],
                 removed: Callable[[int], None]):
        self._parent = parent
        self._changed, self._removed = changed, removed
        self.items: dict[int, pg.RectROI] = {}
        self.sources: dict[int, str] = {}
        self.draft: pg.RectROI | None = None

    def set_boxes(self, boxes: list[tuple[int, tuple, str]], bounds: QRectF) -> None:
        """Show ``(roi_id, cached box, source)`` boxes; only 'gui' boxes can be edited."""
        self.clear()
        for roi_id, (x0, y0, x1, y1), source in boxes:
            editable = source == "gui"
            pen = pg.mkPen(USER_COLOR if editable else IMPORT_COLOR, width=2)
            if editable:
                item = pg.RectROI((x0, y0), (x1 - x0, y1 - y0), pen=pen, removable=True,
                                  maxBounds=bounds, rotatable=False)
            else:  # a plain ROI: no handles, cannot be dragged
                item = pg.ROI((x0, y0), (x1 - x0, y1 - y0), pen=pen, movable=False,
                              resizable=False, rotatable=False, removable=False)
            item.setParentItem(self._parent)
            item.setZValue(10)
            item.sigRegionChangeFinished.connect(lambda r, i=roi_id: self._changed(i, box_of(r)))
            item.sigRemoveRequested.connect(lambda _r, i=roi_id: self._removed(i))
            self.items[roi_id] = item
            self.sources[roi_id] = source

    def clear(self) -> None:
        for item in self.items.values():
            item.setParentItem(None)
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.items.clear()
        self.sources.clear()
        self.end_draft()

    def update_draft(self, start: QPointF, end: QPointF) -> None:
        """The box being drawn, from the press to the cursor (cached pixels)."""
        x0, x1 = sorted((start.x(), end.x()))
        y0, y1 = sorted((start.y(), end.y()))
        if self.draft is None:
            self.draft = pg.RectROI((x0, y0), (1, 1), pen=pg.mkPen(USER_COLOR, width=1,
                                                                   dash=[4, 3]), movable=False)
            self.draft.setParentItem(self._parent)
        self.draft.setPos((x0, y0), update=False, finish=False)
        self.draft.setSize((max(x1 - x0, 0.01), max(y1 - y0, 0.01)), update=True, finish=False)

    def end_draft(self) -> None:
        if self.draft is not None:
            self.draft.setParentItem(None)
            if self.draft.scene() is not None:
                self.draft.scene().removeItem(self.draft)
            self.draft = None


def box_of(item: pg.ROI) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of an ROI in its parent's (cached-pixel) coordinates."""
    pos, size = item.pos(), item.size()
    return pos.x(), pos.y(), pos.x() + size.x(), pos.y() + size.y()


class Ruler:
    """A two-handle line with its length written beside it."""

    def __init__(self, parent: pg.ImageItem, measure: Callable[[float, float], str]):
        self._parent = parent
        self._measure = measure
        self.line: pg.LineSegmentROI | None = None
        self.text = pg.TextItem("", color="#ffffff", fill=QColor(0, 0, 0, 160), anchor=(0, 1))
        self.text.setParentItem(parent)
        self.text.setZValue(12)  # over the full-resolution layer and the boxes
        self.text.hide()

    def show(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        self.hide()
        self.line = pg.LineSegmentROI([start, end], pen=QPen(QColor("#ff8c00"), 0))
        self.line.setParentItem(self._parent)
        self.line.setZValue(11)
        self.line.sigRegionChanged.connect(self.update)
        self.text.show()
        self.update()

    def hide(self) -> None:
        if self.line is not None:
            self.line.setParentItem(None)
            if self.line.scene() is not None:
                self.line.scene().removeItem(self.line)
            self.line = None
        self.text.hide()

    def ends(self) -> tuple[QPointF, QPointF]:
        h0, h1 = self.line.getHandles()
        return (self.line.mapToParent(h0.pos()), self.line.mapToParent(h1.pos()))

    def update(self) -> None:
        if self.line is None:
            return
        a, b = self.ends()
        self.text.setText(self._measure(b.x() - a.x(), b.y() - a.y()))
        self.text.setPos(b)

    def label(self) -> str:
        return self.text.toPlainText() if self.line is not None else ""


class WindowLevelViewBox(pg.ViewBox):
    """A ViewBox whose right-drag reports window/level moves instead of zooming."""

    sigWindowLevelDragged = Signal(float, float)  # dx, dy in screen pixels
    sigFitRequested = Signal()
    sigBoxDragged = Signal(QPointF, QPointF, bool)  # scene press, scene cursor, finished

    def __init__(self):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self.draw_mode = False

    def mouseDragEvent(self, ev, axis=None) -> None:
        if self.draw_mode and ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigBoxDragged.emit(ev.buttonDownScenePos(), ev.scenePos(), ev.isFinish())
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            self.sigWindowLevelDragged.emit(delta.x(), delta.y())
        else:
            super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and ev.double():
            ev.accept()
            self.sigFitRequested.emit()
        else:
            super().mouseClickEvent(ev)


class PixelLoadSignals(QObject):
    sigLoaded = Signal(str, object)  # sha256, array or exception


class PixelLoadRunnable(QRunnable):
    def __init__(self, cache: ImageCache, sha256: str, signals: PixelLoadSignals):
        super().__init__()
        self.cache, self.sha256, self.signals = cache, sha256, signals

    def run(self) -> None:
        try:
            result = np.array(self.cache.load_full(self.sha256))  # read the mmap here, not in paint
        except (OSError, ValueError) as exc:
            result = exc
        self.signals.sigLoaded.emit(self.sha256, result)
