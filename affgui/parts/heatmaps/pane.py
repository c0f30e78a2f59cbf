"""One pane of the heatmap comparison: a radiograph, one experiment's map over it, its ROI boxes.

The pane only draws what it is given (pixels, a map state, levels, colour map, opacity);
the comparison widget reads files and links the panes.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from affgui import theme
from affgui.parts.heatmaps.loading import FAILED, MISSING, PENDING, READY, ExperimentMaps
from affgui.parts.heatmaps.overlay import cache_box, colormap_lut, overlay_pixels
from affgui.widgets._viewer_items import IMPORT_COLOR, USER_COLOR, WindowLevelViewBox
from engine.runs import run_label
from engine.store import ImageRow

pg.setConfigOptions(imageAxisOrder="row-major")


class HeatmapPaneWidget(QWidget):
    """Shows ``experiment``'s map of the current image over the cached radiograph."""

    sigComputeRequested = Signal(str)  # experiment
    sigFinalMapRequested = Signal(str)  # experiment: the final model's map of the current image
    sigWindowLevelDragged = Signal(float, float)  # dx, dy in screen pixels
    sigFitRequested = Signal()

    def __init__(self, experiment: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.experiment = experiment
        self.row: ImageRow | None = None
        self.maps: ExperimentMaps | None = None
        self.probability: float | None = None
        self.fold: int | None = None
        self.empty_map = False  # the current image's map is all zero (nothing to overlay)
        self._smooth = True
        self._roi_items: list[pg.ROI] = []

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setObjectName("heatmapPaneTitle")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {theme.TEXT_DIM};")
        # two lines each, however long the text: the panes' images stay level side by side
        for label in (self.title, self.message):
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            label.setFixedHeight(2 * label.fontMetrics().lineSpacing() + 4)
        self.compute_button = QPushButton("Compute heatmaps")
        self.compute_button.setToolTip("Queue an explain job; a worker computes the maps")
        self.compute_button.clicked.connect(lambda: self.sigComputeRequested.emit(self.experiment))
        self.final_button = QPushButton("Final model's map")
        self.final_button.setObjectName("finalModelMap")
        self.final_button.setToolTip("This image has no out-of-fold map: queue a heatmap job on "
                                     "the experiment's final model for this image alone")
        self.final_button.clicked.connect(lambda: self.sigFinalMapRequested.emit(self.experiment))
        for widget in (self.message, self.compute_button, self.final_button):
            # hidden, they still hold their space
            policy = widget.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            widget.setSizePolicy(policy)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.message, 1)
        bar.addWidget(self.compute_button)
        bar.addWidget(self.final_button)

        self.view_box = WindowLevelViewBox()
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setParentItem(self.image_item)  # cached-pixel coordinates
        self.overlay_item.setZValue(1)
        self.view_box.addItem(self.image_item)
        self.view = pg.GraphicsView(self, background=theme.VIEWER_BACKGROUND)
        self.view.setCentralItem(self.view_box)
        self.view_box.sigWindowLevelDragged.connect(self.sigWindowLevelDragged)
        self.view_box.sigFitRequested.connect(self.sigFitRequested)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.set_colormap("inferno")
        self.set_opacity(0.5)
        self._update_text()

    # -- what to show -----------------------------------------------------------------
    def set_image(self, row: ImageRow | None, pixels: np.ndarray | None,
                  levels: tuple[float, float], rois: list | None = None) -> None:
        """Show ``row``; ``pixels`` may come later (``None`` keeps the pane empty meanwhile)."""
        self.row = row
        if pixels is None:
            self.image_item.clear()
        else:
            first = self.image_item.image is None or self.image_item.image.shape != pixels.shape
            self.image_item.setImage(pixels, autoLevels=False, levels=levels)
            if first:
                self.fit()
        self._set_rois(rois or [])
        self._refresh_overlay()

    def set_maps(self, maps: ExperimentMaps | None) -> None:
        """The experiment's maps of the chosen method (``None`` while they are read)."""
        self.maps = maps
        self._refresh_overlay()

    def set_levels(self, levels: tuple[float, float]) -> None:
        if self.image_item.image is not None:
            self.image_item.setLevels(levels)

    def set_colormap(self, name: str) -> None:
        self.overlay_item.setLookupTable(colormap_lut(name))

    def set_opacity(self, opacity: float) -> None:
        self.overlay_item.setOpacity(float(opacity))

    def set_smooth(self, smooth: bool) -> None:
        self._smooth = bool(smooth)
        self._refresh_overlay()

    def fit(self) -> None:
        if self.image_item.image is not None:
            self.view_box.autoRange(padding=0.0)

    def overlay_image(self) -> np.ndarray | None:
        """The overlay as drawn (cached-image rectangle), or ``None`` when there is none."""
        return self.overlay_item.image if self.overlay_item.isVisible() else None

    # -- internals ----------------------------------------------------------------------
    def _set_rois(self, rois: list) -> None:
        for item in self._roi_items:
            item.setParentItem(None)
            if item.scene() is not None:
                item.scene().removeItem(item)
        self._roi_items = []
        r = self.row
        if r is None or not r.cache_width:
            return
        for roi in rois:
            x0, y0, x1, y1 = cache_box((roi.x0, roi.y0, roi.x1, roi.y1), (r.width, r.height),
                                       (r.cache_width, r.cache_height))
            pen = pg.mkPen(USER_COLOR if roi.source == "gui" else IMPORT_COLOR, width=2)
            item = pg.ROI((x0, y0), (x1 - x0, y1 - y0), pen=pen, movable=False, resizable=False,
                          rotatable=False, removable=False)
            item.setParentItem(self.image_item)
            item.setZValue(10)  # over the map
            self._roi_items.append(item)

    def _refresh_overlay(self) -> None:
        self.probability, self.fold = None, None
        grid = self._grid()
        self.empty_map = grid is not None and not np.any(grid > 0)
        r = self.row
        if grid is None or r is None:
            self.overlay_item.clear()
            self.overlay_item.hide()
        else:
            cache_wh = (r.cache_width or r.width, r.cache_height or r.height)
            pixels = overlay_pixels(grid, cache_wh, self.maps.input_size, self._smooth)
            self.overlay_item.setImage(pixels, autoLevels=False, levels=(0.0, 1.0))
            self.overlay_item.setRect(QRectF(0, 0, cache_wh[0], cache_wh[1]))
            self.overlay_item.show()
        self._update_text()

    def _grid(self) -> np.ndarray | None:
        m, r = self.maps, self.row
        if m is None or r is None or m.state != READY:
            return None
        k = m.row_of(r.id)
        if k is None:
            return None
        h = m.heatmaps
        self.probability = float(h.probability[k])
        self.fold = int(h.fold[k])
        return np.asarray(h.maps[k], np.float32)

    def _update_text(self) -> None:
        m, r = self.maps, self.row
        parts = [f"<b>{html.escape(str(self.experiment))}</b>"]
        if m is not None:
            parts.append(html.escape(m.method))
        if self.probability is not None and not math.isnan(self.probability):
            parts.append(f"P(AFF) {self.probability:.3f}")
        if r is not None:
            color = theme.LABEL_COLORS.get(r.label or "", theme.TEXT_DIM)
            parts.append(f"label <span style='color:{color}'>{r.label or 'unlabelled'}</span>")
        if m is not None and m.final_model and m.state == READY:
            model = m.heatmaps.info.get("final_model_id")
            parts.append("final model" + (f" #{model}" if model is not None else ""))
        elif self.fold is not None and self.fold >= 0:
            parts.append(run_label(None, self.fold, None))
        self.title.setText(" · ".join(parts))
        message, compute = "", False
        if m is None:
            message = "Reading maps…" if r is not None else ""
        elif m.state in (MISSING, FAILED):
            message, compute = m.message, not m.final_model
        elif m.state == PENDING:
            message = m.message + "; the pane reloads when it finishes"
        elif r is not None and m.row_of(r.id) is None:
            message = (f"no {m.method} map for image #{r.id} (not among {self.experiment}'s "
                       "out-of-fold predictions); its final model can compute one")
        elif self.empty_map:
            message = (f"the {m.method} map is zero everywhere for this image: no region raises the "
                       "predicted class's score at this layer (common for Grad-CAM on transformers); "
                       "try eigencam or rollout")
        if (m is not None and not m.final_model and m.state in (MISSING, FAILED)
                and r is not None and r.label is None):
            message += "; an unlabelled image has no out-of-fold map: its final model can compute one"
        self.message.setText(message)
        self.message.setVisible(bool(message))
        self.compute_button.setVisible(compute)
        self.final_button.setVisible(self._offers_final_map())

    def _offers_final_map(self) -> bool:
        """An image no fold model validated (unlabelled, or held out) and no final map under way."""
        m, r = self.maps, self.row
        if r is None or m is None:
            return False
        if m.final_model:
            return m.state == FAILED  # ask again
        if m.state == READY:
            return m.row_of(r.id) is None
        return r.label is None and m.state in (MISSING, FAILED)
