"""What the reading and adjudication windows share: blinded rows and thumbnails (keys: affgui.menus)."""

from __future__ import annotations

import dataclasses
import sqlite3

from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QToolButton

from affgui.thumbnails import thumbnail_image
from engine.errors import EngineError
from engine.reads import ReadItem
from engine.store import ImageRow, Project

# The errors a read, a session or an adjudication can raise: shown as one line, never a traceback.
READ_ERRORS = (EngineError, sqlite3.Error, KeyError, ValueError)


def blind_row(row: ImageRow, item: ReadItem) -> ImageRow:
    """``row`` with everything a blind reader must not see removed.

    The label, the file path and folder (folders are often named AFF/NFF), the patient key
    (replaced by the session's "patient N"), and the DICOM UIDs and study date that identify
    the patient. What a radiologist needs to read remains: pixels, view, side, pixel spacing.
    """
    return dataclasses.replace(row, label=None, path="", source_folder="", patient_key=item.patient,
                               study_uid=None, series_uid=None, sop_uid=None, study_date=None)


def view_button(project: Project, row: ImageRow, text: str, side: int = 72) -> QToolButton:
    """A thumbnail button for one of the patient's views."""
    button = QToolButton()
    button.setToolButtonStyle(button.toolButtonStyle().ToolButtonTextUnderIcon)
    button.setText(text)
    image = None
    if row.thumb_height and row.thumb_width:
        image = thumbnail_image(project.cache, row.id, row.thumb_height, row.thumb_width, side)
    if image is not None:
        button.setIcon(QIcon(QPixmap.fromImage(image)))
        button.setIconSize(image.size())
    button.setCheckable(True)
    button.setAutoRaise(True)
    return button
