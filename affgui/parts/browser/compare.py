"""Compare mode: a second viewer beside the first with linked zoom and pan.

*View > Compare* (``C``) pins the current image in the second viewer; the first
keeps following the grid, so a reader can step to the other side or view of the
same patient and read both at the same place and scale.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QSplitter

from affgui.session import ProjectSession
from affgui.shell import Shell
from affgui.widgets.image_viewer import ImageViewerWidget


class CompareMode(QObject):
    """Owns the second viewer (beside ``main`` in ``splitter``) and the Compare action."""

    def __init__(self, session: ProjectSession, shell: Shell, main: ImageViewerWidget,
                 splitter: QSplitter):
        super().__init__(session)
        self.session = session
        self.main, self.splitter = main, splitter
        self.viewer = ImageViewerWidget(actions=shell.registry.make)  # its own copies, default keys
        self.viewer.setObjectName("compareViewer")
        self.viewer.hide()
        self.pinned_id: int | None = None
        splitter.addWidget(self.viewer)
        for action in self.viewer.actions_for_menu():  # the main viewer owns the window's keys
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        # boxes edited here are stored like the main viewer's: through the session
        self.viewer.sigRoiDrawn.connect(session.add_roi)
        self.viewer.sigRoiChanged.connect(lambda roi_id, box: session.update_roi(roi_id, box, self.pinned_id))
        self.viewer.sigRoiDeleted.connect(lambda roi_id: session.delete_roi(roi_id, self.pinned_id))
        session.sigRoisChanged.connect(self.refresh_rois)
        self.action = shell.registry.action("view.compare")
        self.action.toggled.connect(self.set_enabled)
        shell.add_action(self.action, "view")
        session.sigProjectChanged.connect(self._on_project)
        session.sigProjectClosing.connect(lambda _project: self.detach())

    def set_enabled(self, on: bool) -> None:
        """Pin the current image in the second viewer (on) or hide it (off)."""
        self.action.setChecked(on)
        main = self.main
        row = self.session.current_image
        if not on or row is None or self.session.project is None:
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
        self.viewer.set_rois(self.session.rois(row.id))
        self.viewer.show()
        sizes = self.splitter.sizes()
        half = (sizes[1] + sizes[2]) // 2
        self.splitter.setSizes([sizes[0], half, half])
        self.viewer.view_box.setXLink(main.view_box)
        self.viewer.view_box.setYLink(main.view_box)

    def refresh_rois(self, _image_id: int | None = None) -> None:
        if self.pinned_id is not None and self.session.project is not None:
            self.viewer.set_rois(self.session.rois(self.pinned_id))

    def detach(self) -> None:
        """Forget the closing project's cache (on the session's sigProjectClosing)."""
        self.set_enabled(False)
        self.viewer.set_cache(None)
        self.viewer.wait(10_000)

    def _on_project(self, project) -> None:
        if project is not None:
            self.viewer.set_cache(project.cache)
