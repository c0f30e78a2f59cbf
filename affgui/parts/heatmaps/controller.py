"""The heatmaps part: View > Compare Heatmaps… (Ctrl+H) opens the heatmap comparison window.

Built from ``(session, shell)``. The comparison is its own top-level window. It opens on the
session's current image, follows it while open, and its keyboard steps move through the
session's current (filtered) listing by asking the session to show the next image, so the
browser and the comparison always show the same image.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt

from affgui.parts.heatmaps.compare_widget import HeatmapCompareWidget
from affgui.session import ProjectSession
from affgui.shell import Shell
from engine.store import ImageRow, Project


class HeatmapController(QObject):
    """Owns the View menu action and the comparison window."""

    def __init__(self, session: ProjectSession, shell: Shell):
        super().__init__(session)
        self.session, self.shell = session, shell
        self.widget: HeatmapCompareWidget | None = None
        self.action = shell.registry.action("view.compareHeatmaps")
        self.action.setEnabled(session.project is not None)
        self.action.triggered.connect(self.open)
        shell.add_action(self.action, "view")
        session.sigProjectChanged.connect(self._on_project)
        session.sigProjectClosing.connect(lambda _project: self.detach())
        session.sigCurrentImageChanged.connect(self._follow)

    def open(self) -> HeatmapCompareWidget | None:
        """Show the comparison for the session's current image."""
        s = self.session
        project = s.project
        if project is None:
            return None
        if self.widget is None:
            self.widget = HeatmapCompareWidget(self.shell.dialog_parent())
            self.widget.setWindowFlag(Qt.WindowType.Window)  # its own window, owned by the main one
            self.widget.set_rows_provider(self.rows)
            self.widget.sigCurrentImageChanged.connect(self.step_to)
            # a final-model map queued here needs a worker: the experiments part starts one
            self.widget.on_demand.sigQueued.connect(lambda *_job: self.session.sigWorkQueued.emit())
        w = self.widget
        if w.project is not project:
            w.set_project(project)
            if s.window_level is not None:
                w.set_window_level(*s.window_level)
        w.refresh_experiments()
        w.show_row(s.current_image)
        if w.isVisible():
            w.raise_()  # already open behind the main window: bring it forward
        w.show()
        w.activateWindow()
        return w

    def rows(self) -> list[ImageRow]:
        """The session's current image list (the browser's filter and order)."""
        return list(self.session.rows)

    def detach(self) -> None:
        """Stop reading the closing project (call before it closes)."""
        if self.widget is not None:
            self.widget.set_project(None)
            self.widget.hide()

    def step_to(self, image_id: int) -> None:
        """The comparison stepped to ``image_id``: the browser shows it too."""
        row = self.session.row(image_id)
        if row is not None:
            self.session.show_image(row)

    def _on_project(self, project: Project | None) -> None:
        self.action.setEnabled(project is not None)
        if project is None or (self.widget is not None and self.widget.project is not project):
            self.detach()

    def _follow(self, row: ImageRow | None) -> None:
        w = self.widget
        if w is None or not w.isVisible() or w.project is None:
            return
        if self.session.outside_filter:  # shown from the patient panel: the window stays in the list
            return
        if row != w.row:
            w.show_row(row)
