"""The image viewer: the cached 1024-px copy of one radiograph with window/level.

Mouse: left-drag pans, the wheel zooms about the cursor, right-drag sets the
window (horizontal: width) and level (vertical: centre), double-click fits.
Pixels are read on a worker thread and the last few images are kept, so the
next image in a labelling run usually shows at once (see :meth:`prefetch`).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QToolBar, QVBoxLayout, QWidget

from affgui import theme
from engine.store import ImageCache, ImageRow

pg.setConfigOptions(imageAxisOrder="row-major")

FULL_RANGE = (127.5, 255.0)  # (centre, width) that shows the cached uint8 copy as stored
_PLATE = "background: rgba(0, 0, 0, 150); padding: 3px 6px; border-radius: 4px;"


class WindowLevelViewBox(pg.ViewBox):
    """A ViewBox whose right-drag reports window/level moves instead of zooming."""

    sigWindowLevelDragged = Signal(float, float)  # dx, dy in screen pixels
    sigFitRequested = Signal()

    def __init__(self):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.RightButton:
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


class _LoadSignals(QObject):
    sigLoaded = Signal(str, object)  # sha256, array or exception


class _LoadRunnable(QRunnable):
    def __init__(self, cache: ImageCache, sha256: str, signals: _LoadSignals):
        super().__init__()
        self.cache, self.sha256, self.signals = cache, sha256, signals

    def run(self) -> None:
        try:
            result = np.array(self.cache.load_full(self.sha256))  # read the mmap here, not in paint
        except (OSError, ValueError) as exc:
            result = exc
        self.signals.sigLoaded.emit(self.sha256, result)


class ImageViewerWidget(QWidget):
    """Shows one image row's cached pixels with a patient/view/label overlay."""

    sigLevelsChanged = Signal(float, float)  # window centre, width
    sigImageShown = Signal(int)  # image id, once its pixels are on screen

    def __init__(self, parent: QWidget | None = None, keep: int = 8):
        super().__init__(parent)
        self._cache: ImageCache | None = None
        self._row: ImageRow | None = None
        self._shown_sha: str | None = None
        self._loading: set[str] = set()
        self._arrays: OrderedDict[str, np.ndarray] = OrderedDict()
        self._keep = keep
        self._center, self._width = FULL_RANGE
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _LoadSignals()
        self._signals.sigLoaded.connect(self._on_loaded)

        self.view_box = WindowLevelViewBox()
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image_item)
        self._view = pg.GraphicsView(self, background=theme.VIEWER_BACKGROUND)
        self._view.setCentralItem(self.view_box)
        self.view_box.sigWindowLevelDragged.connect(self._on_wl_drag)
        self.view_box.sigFitRequested.connect(self.fit)

        self.fit_action = QAction("Fit to Window", self, shortcut=QKeySequence("F"))
        self.fit_action.triggered.connect(self.fit)
        self.reset_action = QAction("Reset View", self, shortcut=QKeySequence("R"))
        self.reset_action.setToolTip("Reset window/level and fit the image (R)")
        self.reset_action.triggered.connect(self.reset)
        toolbar = QToolBar(self)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addAction(self.fit_action)
        toolbar.addAction(self.reset_action)

        self._info = self._overlay_label(_PLATE)
        self._badge = self._overlay_label("")
        self._wl = self._overlay_label(_PLATE)
        self._message = self._overlay_label(f"color: {theme.TEXT_DIM}; font-size: 11pt;")
        self._view.installEventFilter(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(toolbar)
        layout.addWidget(self._view, 1)
        self._update_overlay()
        self._show_message("No image")

    # -- public API ---------------------------------------------------------------
    def set_cache(self, cache: ImageCache | None) -> None:
        """Read pixels from another project's cache (forgets kept images)."""
        self._cache = cache
        self._arrays.clear()
        self._loading.clear()
        self.show_image(None)

    def show_image(self, row: ImageRow | None) -> None:
        """Show ``row`` (its overlay at once, its pixels when read); ``None`` clears."""
        self._row = row
        self._update_overlay()
        if row is None:
            self._shown_sha = None
            self.image_item.clear()
            self._show_message("No image")
            return
        if row.sha256 == self._shown_sha:
            return
        pixels = self._arrays.get(row.sha256)
        if pixels is not None:
            self._display(pixels)
        else:
            self._show_message("Loading…")
            self._request(row.sha256)

    def prefetch(self, sha256: str) -> None:
        """Read an image that is likely to be shown next."""
        if sha256 not in self._arrays:
            self._request(sha256)

    def window_level(self) -> tuple[float, float]:
        """The display window as (centre, width) in cached pixel values."""
        return self._center, self._width

    def set_window_level(self, center: float, width: float) -> None:
        self._center, self._width = float(center), max(float(width), 1.0)
        self.image_item.setLevels(self.levels())
        self._update_wl_text()
        self.sigLevelsChanged.emit(self._center, self._width)

    def levels(self) -> tuple[float, float]:
        """The (low, high) pixel values mapped to black and white."""
        return self._center - self._width / 2, self._center + self._width / 2

    @Slot()
    def fit(self) -> None:
        if self.image_item.image is not None:
            self.view_box.autoRange(padding=0.0)

    @Slot()
    def reset(self) -> None:
        """Full-range window/level and the whole image in view."""
        self.set_window_level(*FULL_RANGE)
        self.fit()

    def wait(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms)

    # -- internals ----------------------------------------------------------------
    def _request(self, sha256: str) -> None:
        if self._cache is None or sha256 in self._loading:
            return
        self._loading.add(sha256)
        self._pool.start(_LoadRunnable(self._cache, sha256, self._signals))

    @Slot(str, object)
    def _on_loaded(self, sha256: str, result: object) -> None:
        if sha256 not in self._loading:  # the cache changed while it was read
            return
        self._loading.discard(sha256)
        wanted = self._row is not None and self._row.sha256 == sha256
        if isinstance(result, Exception):
            if wanted:
                self.image_item.clear()
                self._shown_sha = None
                self._show_message(f"Cannot show this image:\n{result}")
            return
        self._arrays[sha256] = result
        while len(self._arrays) > self._keep:
            self._arrays.popitem(last=False)
        if wanted:
            self._display(result)

    def _display(self, pixels: np.ndarray) -> None:
        self._arrays.move_to_end(self._row.sha256)
        previous = self.image_item.image
        self.image_item.setImage(pixels, autoLevels=False, levels=self.levels())
        if previous is None or previous.shape != pixels.shape:
            self.fit()
        self._shown_sha = self._row.sha256
        self._show_message(None)
        self.sigImageShown.emit(self._row.id)

    @Slot(float, float)
    def _on_wl_drag(self, dx: float, dy: float) -> None:
        self.set_window_level(self._center + dy, self._width + dx)

    def _overlay_label(self, style: str) -> QLabel:
        label = QLabel(self._view)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.setStyleSheet(f"color: {theme.TEXT}; background: transparent; {style}")
        label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        label.setTextFormat(Qt.TextFormat.RichText)
        return label

    def _show_message(self, text: str | None) -> None:
        self._message.setVisible(text is not None)
        self._message.setText((text or "").replace("\n", "<br>"))
        self._place_overlays()

    def _update_overlay(self) -> None:
        r = self._row
        if r is None:
            self._info.setText("")
            self._badge.hide()
        else:
            side = {"L": "left", "R": "right"}.get(r.laterality or "", "side ?")
            self._info.setText(
                f"<b>{r.patient_key}</b><br>{r.view or 'view ?'} · {side}<br>"
                f"<span style='color:{theme.TEXT_DIM}'>#{r.id} · source {r.width}×{r.height}</span>")
            color = theme.LABEL_COLORS.get(r.label or "")
            self._badge.setText(r.label or "unlabelled")
            self._badge.setStyleSheet(
                "font-weight: 600; padding: 3px 8px; border-radius: 4px; "
                + (f"color: white; background: {color};" if color else
                   f"color: {theme.TEXT_DIM}; background: rgba(255,255,255,20);"))
            self._badge.show()
        self._update_wl_text()

    def _update_wl_text(self) -> None:
        self._wl.setText(f"W {self._width:.0f}  L {self._center:.0f}")
        self._place_overlays()

    def _place_overlays(self) -> None:
        rect, m = self._view.rect(), 10
        for label in (self._info, self._badge, self._wl, self._message):
            label.ensurePolished()  # the style sheet's padding and font count in the size
            label.adjustSize()
        self._info.move(m, m)
        self._badge.move(rect.width() - self._badge.width() - m, m)
        self._wl.move(m, rect.height() - self._wl.height() - m)
        self._message.move((rect.width() - self._message.width()) // 2,
                           (rect.height() - self._message.height()) // 2)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._view and event.type() == QEvent.Type.Resize:
            self._place_overlays()
        return super().eventFilter(watched, event)
