"""Compare mode: a second viewer beside the first with linked zoom and pan.

*View > Compare* (``C``) pins the current image in the second viewer; the first
keeps following the grid, so a reader can step to the other side or view of the
same patient and read both at the same place and scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from affgui.widgets.image_viewer import ImageViewerWidget

if TYPE_CHECKING:
    from affgui.main_window import MainWindow


class CompareMode(QObject):
    """Owns the second viewer and the Compare action of ``window``."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.viewer = ImageViewerWidget()
        self.viewer.setObjectName("compareViewer")
        self.viewer.hide()
        self.pinned_id: int | None = None
        window.splitter.addWidget(self.viewer)
        for action in self.viewer.actions_for_menu():  # the main viewer owns the window's keys
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        sync = window.roi_sync  # boxes edited here are stored like the main viewer's
        self.viewer.sigRoiDrawn.connect(sync.add)
        self.viewer.sigRoiChanged.connect(sync.update)
        self.viewer.sigRoiDeleted.connect(sync.delete)
        sync.sigRoisWritten.connect(self.refresh_rois)
        self.action = QAction("&Compare (Pin Current Image)", window, checkable=True,
                              shortcut=QKeySequence("C"))
        self.action.setObjectName("compare")
        self.action.setStatusTip("Show the current image beside the next one you choose, "
                                 "with linked zoom and pan")
        self.action.toggled.connect(self.set_enabled)
        window.sigProjectChanged.connect(self._on_project)

    def set_enabled(self, on: bool) -> None:
        """Pin the current image in the second viewer (on) or hide it (off)."""
        self.action.setChecked(on)
        main = self.window.viewer
        row = self.window.current_row()
        if not on or row is None or self.window.project is None:
            self.viewer.hide()
            self.viewer.view_box.setXLink(None)
            self.viewer.view_box.setYLink(None)
            self.viewer.show_image(None)
            self.pinned_id = None
            self.action.setChecked(False)
            return
        self.pinned_id = row.id
        self.viewer.set_window_level(*main.window_level())
        self.viewer.show_image(row)
        self.viewer.set_rois(self.window.project.rois.for_image(row.id))
        self.viewer.show()
        sizes = self.window.splitter.sizes()
        half = (sizes[1] + sizes[2]) // 2
        self.window.splitter.setSizes([sizes[0], half, half])
        self.viewer.view_box.setXLink(main.view_box)
        self.viewer.view_box.setYLink(main.view_box)

    def refresh_rois(self) -> None:
        if self.pinned_id is not None and self.window.project is not None:
            self.viewer.set_rois(self.window.project.rois.for_image(self.pinned_id))

    def detach(self) -> None:
        """Forget the closing project's cache (called before the project closes)."""
        self.set_enabled(False)
        self.viewer.set_cache(None)
        self.viewer.wait(10_000)

    def _on_project(self, project) -> None:
        if project is not None:
            self.viewer.set_cache(project.cache)
