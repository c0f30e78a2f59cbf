"""Two parts in docks: the current patient's images and the label history.

Both are refreshed on the GUI thread from small indexed queries (one patient's
rows, one image's history: well under a millisecond on a 4,300-image project);
the patient panel only re-reads when the patient changes.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt

from affgui.session import ProjectSession
from affgui.shell import Shell
from affgui.thumbnails import thumbnail_image
from affgui.widgets.history_panel import HistoryPanelWidget
from affgui.widgets.patient_panel import ICON_SIDE, PatientPanelWidget
from engine.store import ImageRow, LabelChange


class PanelDocks(QObject):
    """Creates the patient and history docks and keeps them on the session's current image."""

    def __init__(self, session: ProjectSession, shell: Shell):
        super().__init__(session)
        self.session = session
        self.patient_panel = PatientPanelWidget()
        self.history_panel = HistoryPanelWidget()
        # Right of the viewer, one above the other: the grid keeps its full height.
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.patient_dock = shell.add_dock(self.patient_panel, "patientDock", "Patient", right)
        self.history_dock = shell.add_dock(self.history_panel, "historyDock", "Label History", right)
        self.patient_panel.sigImageActivated.connect(self._activate)
        session.sigCurrentImageChanged.connect(self.show_image)
        session.sigLabelsChanged.connect(self.labels_changed)
        session.sigProjectClosing.connect(lambda _project: self.clear())

    def show_image(self, image: ImageRow | None) -> None:
        """Follow the current image: its patient's images and its history."""
        project = self.session.project
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
            self.history_panel.set_changes(current, self.session.project.labels.history(current))

    def clear(self) -> None:
        self.show_image(None)

    def _activate(self, image_id: int) -> None:
        row = self.patient_panel.row(image_id)
        if row is not None:  # the browser selects it, or shows it outside the filter, marked so
            self.session.show_image(row)
