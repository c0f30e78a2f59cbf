"""The image viewer: the cached 1024-px copy of one radiograph with window/level.

Mouse: left-drag pans (or draws a fracture box in box mode), the wheel zooms
about the cursor, right-drag sets the window (horizontal: width) and level
(vertical: centre), double-click fits. Presets, invert, 1:1, rotate and flip
(display only), the metadata overlay and a mm ruler are on the toolbar.
Pixels are read on a worker thread and the last few images are kept, so the
next image in a labelling run usually shows at once (see :meth:`prefetch`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QToolBar, QToolButton, QVBoxLayout, QWidget

from affgui import display, theme
from affgui.widgets._full_res import FullResLayer
from affgui.widgets._viewer_items import (
    PixelLoadRunnable,
    PixelLoadSignals,
    RoiLayer,
    Ruler,
    WindowLevelViewBox,
)
from affgui.widgets._viewer_tools import ViewerToolsMixin
from engine.store import ImageCache, ImageRow

pg.setConfigOptions(imageAxisOrder="row-major")

FULL_RANGE = display.FILE_WINDOW  # (centre, width) that shows the cached uint8 copy as stored
_PLATE = "background: rgba(0, 0, 0, 150); padding: 3px 6px; border-radius: 4px;"

ActionSource = Callable[[str, QObject], QAction]
"""``(command name, viewer) -> QAction``: where a viewer gets its toolbar actions.

:mod:`affgui.menus` declares them (``view.fit``, ``view.box``, …) with their keys: the main
viewer gets the window's own (``registry.action``), a second viewer fresh copies
(``registry.make`` or ``menus.make_action``). This module may not import the registry
(the layers contract), so it is handed in.
"""


def keyless_action(name: str, parent: QObject) -> QAction:
    """The action of a viewer built without an :data:`ActionSource`: no key, the bare name."""
    return QAction(name.removeprefix("view."), parent)


class ImageViewerWidget(ViewerToolsMixin, QWidget):
    """Shows one image row's cached pixels with a patient/view/label overlay."""

    sigLevelsChanged = Signal(float, float)  # window centre, width
    sigImageShown = Signal(int)  # image id, once its pixels are on screen
    sigRoiDrawn = Signal(int, object)  # image id, (x0, y0, x1, y1) in source pixels
    sigRoiChanged = Signal(int, object)  # roi id, box in source pixels
    sigRoiDeleted = Signal(int)  # roi id

    def __init__(self, parent: QWidget | None = None, keep: int = 8,
                 actions: ActionSource | None = None):
        super().__init__(parent)
        self._action_source = actions or keyless_action
        self._cache: ImageCache | None = None
        self._row: ImageRow | None = None
        self.label_badge = True  # False: never show the label badge (a blind reading session)
        self._shown_sha: str | None = None
        self._loading: set[str] = set()
        self._arrays: OrderedDict[str, np.ndarray] = OrderedDict()
        self._keep = keep
        self._center, self._width = FULL_RANGE
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = PixelLoadSignals()
        self._signals.sigLoaded.connect(self._on_loaded)

        self.view_box = WindowLevelViewBox()
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image_item)
        self._view = pg.GraphicsView(self, background=theme.VIEWER_BACKGROUND)
        self._view.setCentralItem(self.view_box)
        self.view_box.sigWindowLevelDragged.connect(self._on_wl_drag)
        self.view_box.sigFitRequested.connect(self.fit)
        self.view_box.sigBoxDragged.connect(self._on_box_drag)
        self.rois = RoiLayer(self.image_item, self._roi_changed, self.sigRoiDeleted.emit)
        self.ruler = Ruler(self.image_item, self._measure)
        self.full_res = FullResLayer(self.image_item, self.view_box, self)
        self._rotation, self._flip_h, self._flip_v, self._inverted = 0, False, False, False

        self.preset_combo = QComboBox()
        self.preset_combo.addItems(display.PRESETS)
        self.preset_combo.setToolTip("Window presets (see docs/gui.md)")
        self.preset_combo.activated.connect(lambda i: self.apply_preset(display.PRESETS[i]))
        toolbar = QToolBar(self)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        act = self._action
        self.fit_action = act(toolbar, "view.fit", self.fit)
        self.reset_action = act(toolbar, "view.reset", self.reset)
        toolbar.addWidget(self.preset_combo)
        self.one_to_one_action = act(toolbar, "view.1_1", self.one_to_one)
        orient = QMenu("Display", self)  # one toolbar button keeps the toolbar short
        self.invert_action = act(orient, "view.invert", self.set_inverted, checkable=True)
        self.rotate_action = act(orient, "view.rotate_90", lambda: self.set_orientation(
            (self._rotation + 90) % 360))
        self.flip_h_action = act(orient, "view.flip_horizontal", lambda: self.set_orientation(
            flip_h=not self._flip_h))
        self.flip_v_action = act(orient, "view.flip_vertical", lambda: self.set_orientation(
            flip_v=not self._flip_v))
        orient_button = QToolButton()
        orient_button.setText("Display")
        orient_button.setToolTip("Invert, rotate and flip (display only)")
        orient_button.setMenu(orient)
        orient_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        toolbar.addWidget(orient_button)
        self.overlay_action = act(toolbar, "view.info", self.set_overlay_visible, checkable=True)
        self.ruler_action = act(toolbar, "view.ruler", self.set_ruler_visible, checkable=True)
        self.box_action = act(toolbar, "view.box", self.set_draw_mode, checkable=True)

        self._info = self._overlay_label(_PLATE)
        self._badge = self._overlay_label("")
        self._wl = self._overlay_label(_PLATE)
        self._message = self._overlay_label(f"color: {theme.TEXT_DIM}; font-size: 11pt;")
        self._view.installEventFilter(self)
        self.overlay_action.setChecked(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(toolbar)
        layout.addWidget(self._view, 1)
        self._update_overlay()
        self._show_message("No image")

    # -- public API ---------------------------------------------------------------
    def actions_for_menu(self) -> list[QAction]:
        return [self.fit_action, self.reset_action, self.one_to_one_action, self.invert_action,
                self.rotate_action, self.flip_h_action, self.flip_v_action, self.overlay_action,
                self.ruler_action, self.box_action]

    def set_cache(self, cache: ImageCache | None) -> None:
        """Read pixels from another project's cache (forgets kept images)."""
        self._cache = cache
        self._arrays.clear()
        self._loading.clear()
        self.show_image(None)

    @property
    def row(self) -> ImageRow | None:
        """The image shown (``None``: none)."""
        return self._row

    def show_image(self, row: ImageRow | None) -> None:
        """Show ``row`` (its overlay at once, its pixels when read); ``None`` clears."""
        self._row = row
        self._update_overlay()
        self.rois.clear()
        self.ruler.update()
        self.full_res.set_row(row)
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
        self.full_res.set_levels(self.levels())
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
        """File window, upright and unmirrored, the whole image in view."""
        self.set_window_level(*FULL_RANGE)
        self.set_orientation(0, False, False)
        self.fit()

    def wait(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms) and self.full_res.wait(timeout_ms)

    def _action(self, toolbar: QToolBar | QMenu, name: str, slot, checkable: bool = False) -> QAction:
        """Command ``name``'s action from the :data:`ActionSource`, wired to ``slot``."""
        action = self._action_source(name, self)
        action.setCheckable(checkable)  # the slot takes the state (toggled) or nothing (triggered)
        (action.toggled if checkable else action.triggered).connect(slot)
        toolbar.addAction(action)
        return action

    # -- internals ----------------------------------------------------------------
    def _request(self, sha256: str) -> None:
        if self._cache is None or sha256 in self._loading:
            return
        self._loading.add(sha256)
        self._pool.start(PixelLoadRunnable(self._cache, sha256, self._signals))

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
        self.full_res.image_shown()  # only now is the view range the image's
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
        self._message.setText(display.esc(text or "").replace("\n", "<br>"))
        self._place_overlays()

    def _update_overlay(self) -> None:
        r = self._row
        if r is None:
            self._info.setText("")
            self._badge.hide()
        else:
            self._info.setText("<br>".join(display.metadata_lines(r)))
            color = theme.LABEL_COLORS.get(r.label or "")
            self._badge.setText(r.label or "unlabelled")
            self._badge.setStyleSheet(
                "font-weight: 600; padding: 3px 8px; border-radius: 4px; "
                + (f"color: white; background: {color};" if color else
                   f"color: {theme.TEXT_DIM}; background: rgba(255,255,255,20);"))
            self._badge.setVisible(self.overlay_action.isChecked() and self.label_badge)
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
