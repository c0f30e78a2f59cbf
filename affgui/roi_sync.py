"""Fracture ROI boxes between the viewer and ``project.rois`` (source-pixel coordinates).

Boxes the reader draws are stored at once with source ``gui`` and the reader's
name; moving, resizing or removing one updates the store at once. Boxes from
an import keep their own source and are shown read-only in another colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from affgui.labelling import STORE_ERRORS

if TYPE_CHECKING:
    from affgui.main_window import MainWindow


class RoiSync(QObject):
    """Writes the viewer's box edits to the open project and shows an image's boxes."""

    sigRoisWritten = Signal()  # after any box edit (other views re-read their boxes)

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        viewer = window.viewer
        viewer.sigRoiDrawn.connect(self.add)
        viewer.sigRoiChanged.connect(self.update)
        viewer.sigRoiDeleted.connect(self.delete)

    def show(self, image_id: int | None) -> None:
        project = self.window.project
        if project is not None and image_id is not None:
            self.window.viewer.set_rois(project.rois.for_image(image_id))

    def add(self, image_id: int, box: tuple) -> None:
        self._write(lambda p: p.rois.add(image_id, box, self.window.settings.reader, source="gui"),
                    image_id, "The box was not saved")

    def update(self, roi_id: int, box: tuple) -> None:
        self._write(lambda p: p.rois.update(roi_id, box), self._image(), "The box was not moved")

    def delete(self, roi_id: int) -> None:
        self._write(lambda p: p.rois.delete(roi_id), self._image(), "The box was not deleted")

    def _image(self) -> int | None:
        return self.window.grid.current_image_id()

    def _write(self, change, image_id: int | None, error: str) -> None:
        project = self.window.project
        if project is None:
            return
        try:
            change(project)
        except STORE_ERRORS as exc:
            self.window.show_error(error, exc)
        self.show(self._image())  # the store's copy, so the screen never shows an unsaved box
        self.sigRoisWritten.emit()
