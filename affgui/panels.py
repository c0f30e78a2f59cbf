"""The main window's dock panels: the current patient's images and the label history.

Both are refreshed on the GUI thread from small indexed queries (one patient's
rows, one image's history: well under a millisecond on a 4,300-image project);
the patient panel only re-reads when the patient changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from affgui.thumbnails import thumbnail_image
from affgui.widgets.history_panel import HistoryPanelWidget
from affgui.widgets.patient_panel import ICON_SIDE, PatientPanelWidget
from engine.store import ImageRow, LabelChange

if TYPE_CHECKING:
    from affgui.main_window import MainWindow


class PanelDocks(QObject):
    """Creates the patient and history docks of ``window`` and keeps them current."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.patient_panel = PatientPanelWidget()
        self.history_panel = HistoryPanelWidget()
        # Right of the viewer, one above the other: the grid keeps its full height.
        self.patient_dock = self._dock("Patient", "patientDock", self.patient_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.history_dock = self._dock("Label History", "historyDock", self.history_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        window.resizeDocks([self.patient_dock], [300], Qt.Orientation.Horizontal)
        self.patient_panel.sigImageActivated.connect(self._activate)

    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)  # saveState/restoreState find docks by name
        dock.setWidget(widget)
        self.window.addDockWidget(area, dock)
        if self.window.menu_actions.view_menu is not None:
            self.window.menu_actions.view_menu.addAction(dock.toggleViewAction())
        return dock

    def show_image(self, image: ImageRow | None) -> None:
        """Follow the current image: its patient's images and its history."""
        project = self.window.project
        if image is None or project is None:
            self.patient_panel.set_patient(None, [], {})
            self.history_panel.set_changes(None, [])
            return
        if image.patient_key != self.patient_panel.patient_key:
            rows = project.images.patient_images(image.patient_key)
            thumbs = {}
            for r in rows:
                thumb = thumbnail_image(project.cache, r.id, r.thumb_height or 0,
                                        r.thumb_width or 0, ICON_SIDE)
                if thumb is not None:
                    thumbs[r.id] = thumb
            self.patient_panel.set_patient(image.patient_key, rows, thumbs, image.id)
        else:
            self.patient_panel.set_current(image.id)
        self.history_panel.set_changes(image.id, project.labels.history(image.id))

    def labels_changed(self, changes: list[LabelChange]) -> None:
        for c in changes:
            self.patient_panel.set_label(c.image_id, c.new_label)
        current = self.history_panel.image_id
        if current is not None and any(c.image_id == current for c in changes):
            self.history_panel.set_changes(current, self.window.project.labels.history(current))

    def clear(self) -> None:
        self.show_image(None)

    def _activate(self, image_id: int) -> None:
        if not self.window.grid.select_image(image_id):
            row = self.patient_panel.row(image_id)
            if row is not None:  # hidden by the filter: shown anyway, and marked so
                self.window.show_outside_filter(row)
