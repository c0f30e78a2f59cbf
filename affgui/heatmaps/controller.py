"""Installs the heatmap comparison in the main window: View > Compare Heatmaps… (Ctrl+H).

The comparison is its own top-level window. It opens on the main window's current image,
follows it while open, and its keyboard steps move the main window's selection through
the current (filtered) image list, so both always show the same image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

from affgui.heatmaps.compare_widget import HeatmapCompareWidget
from engine.store import ImageRow, Project

if TYPE_CHECKING:
    from affgui.shell import WindowShell


class HeatmapController(QObject):
    """Owns the View menu action and the comparison window of ``window``."""

    def __init__(self, window: WindowShell):
        super().__init__(window)
        self.window = window
        self.widget: HeatmapCompareWidget | None = None
        self.action = window.registry.action("view.compareHeatmaps")
        self.action.setEnabled(window.project is not None)
        self.action.triggered.connect(self.open)
        menu = window.menu_actions.view_menu
        if menu is not None:
            menu.addAction(self.action)
        else:
            window.addAction(self.action)
        window.sigProjectChanged.connect(self._on_project)
        window.session.sigProjectClosing.connect(lambda _project: self.detach())
        window.grid.sigCurrentImageChanged.connect(self._follow)

    def open(self) -> HeatmapCompareWidget | None:
        """Show the comparison for the main window's current image."""
        project = self.window.project
        if project is None:
            return None
        if self.widget is None:
            self.widget = HeatmapCompareWidget(self.window)
            self.widget.setWindowFlag(Qt.WindowType.Window)  # its own window, owned by the main one
            self.widget.set_rows_provider(self.rows)
            self.widget.sigCurrentImageChanged.connect(self.window.grid.select_image)
        w = self.widget
        if w.project is not project:
            w.set_project(project)
            w.set_window_level(*self.window.viewer.window_level())
        w.refresh_experiments()
        w.show_row(self.window.current_row())
        if w.isVisible():
            w.raise_()  # already open behind the main window: bring it forward
        w.show()
        w.activateWindow()
        return w

    def rows(self) -> list[ImageRow]:
        """The main window's current image list (its filter and order)."""
        model = self.window.grid.model()
        return [model.image_row(k) for k in range(model.rowCount())]

    def detach(self) -> None:
        """Stop reading the closing project (call before it closes)."""
        if self.widget is not None:
            self.widget.set_project(None)
            self.widget.hide()

    def _on_project(self, project: Project | None) -> None:
        self.action.setEnabled(project is not None)
        if project is None or (self.widget is not None and self.widget.project is not project):
            self.detach()

    def _follow(self, image_id: int) -> None:
        w = self.widget
        if w is None or not w.isVisible() or w.project is None:
            return
        row = self.window.current_row() if image_id >= 0 else None
        if row != w.row:
            w.show_row(row)
