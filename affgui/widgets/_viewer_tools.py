"""The viewer's display tools: presets, invert, orientation, 1:1, overlay, ruler, ROI boxes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Slot
from PySide6.QtGui import QTransform

from affgui import display
from engine.store import Roi


class ViewerToolsMixin:
    """Methods of :class:`~affgui.widgets.image_viewer.ImageViewerWidget` for its toolbar."""

    def apply_preset(self, name: str) -> None:
        """Set the window of the preset ``name`` (see :mod:`affgui.display`)."""
        self.set_window_level(*display.preset_window(name, self.image_item.image))
        self.preset_combo.setCurrentIndex(display.PRESETS.index(name))

    def set_inverted(self, on: bool) -> None:
        self._inverted = bool(on)
        self.invert_action.setChecked(self._inverted)
        lut = np.arange(255, -1, -1, dtype=np.uint8) if self._inverted else None
        self.image_item.setLookupTable(lut)
        self.full_res.set_lut(lut)

    def set_orientation(self, rotation: int | None = None, flip_h: bool | None = None,
                        flip_v: bool | None = None) -> None:
        """Rotate (multiples of 90°) and mirror the display; pixels and boxes stay as stored."""
        if rotation is not None:
            self._rotation = rotation % 360
        if flip_h is not None:
            self._flip_h = flip_h
        if flip_v is not None:
            self._flip_v = flip_v
        t = QTransform()
        t.rotate(self._rotation)  # Qt applies the later call first: mirror, then rotate
        t.scale(-1 if self._flip_h else 1, -1 if self._flip_v else 1)
        self.image_item.setTransform(t)
        self.fit()

    def orientation(self) -> tuple[int, bool, bool]:
        return self._rotation, self._flip_h, self._flip_v

    @Slot()
    def one_to_one(self) -> None:
        """Zoom so that one cached pixel is one screen pixel, about the view's centre."""
        rect = self.view_box.viewRect()
        size = self.view_box.size()
        cx, cy = rect.center().x(), rect.center().y()
        w, h = size.width(), size.height()
        self.view_box.setRange(QRectF(cx - w / 2, cy - h / 2, w, h), padding=0.0)

    def set_overlay_visible(self, on: bool) -> None:
        self.overlay_action.setChecked(bool(on))
        for label in (self._info, self._wl):
            label.setVisible(bool(on))
        self._badge.setVisible(bool(on) and self._row is not None and self.label_badge)

    def set_ruler_visible(self, on: bool) -> None:
        """Show a ruler across the middle of the image (drag its ends to measure)."""
        self.ruler_action.setChecked(bool(on))
        if not on or self._row is None:
            self.ruler.hide()
            return
        h, w = self._row.cache_height or 100, self._row.cache_width or 100
        self.ruler.show((w * 0.25, h * 0.5), (w * 0.75, h * 0.5))

    def set_draw_mode(self, on: bool) -> None:
        self.box_action.setChecked(bool(on))
        self.view_box.draw_mode = bool(on)

    def set_rois(self, rois: list[Roi]) -> None:
        """Show the boxes of the current image (stored in source pixels)."""
        if self._row is None:
            return
        bounds = QRectF(0, 0, self._row.cache_width or 0, self._row.cache_height or 0)
        self.rois.set_boxes([(r.id, display.box_to_cache(self._row, (r.x0, r.y0, r.x1, r.y1)),
                              r.source) for r in rois], bounds)

    def _measure(self, dx: float, dy: float) -> str:
        return display.length_text(self._row, dx, dy) if self._row is not None else ""

    def _roi_changed(self, roi_id: int, box: tuple) -> None:
        if self._row is not None:
            self.sigRoiChanged.emit(roi_id, display.box_to_source(self._row, box))

    @Slot(QPointF, QPointF, bool)
    def _on_box_drag(self, start: QPointF, pos: QPointF, finished: bool) -> None:
        if self._row is None:
            return
        a, b = self.image_item.mapFromScene(start), self.image_item.mapFromScene(pos)
        if not finished:
            self.rois.update_draft(a, b)
            return
        self.rois.end_draft()
        box = (min(a.x(), b.x()), min(a.y(), b.y()), max(a.x(), b.x()), max(a.y(), b.y()))
        x0, y0, x1, y1 = display.box_to_source(self._row, box)
        if x1 - x0 >= 2 and y1 - y0 >= 2:  # a click or a slip of the mouse draws nothing
            self.sigRoiDrawn.emit(self._row.id, (x0, y0, x1, y1))
