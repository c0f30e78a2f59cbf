"""All images of one patient side by side (AP and lateral, left and right)."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from affgui import theme
from engine.store import ImageRow

ICON_SIDE = 96


class PatientPanelWidget(QListWidget):
    """One tile per image of the current patient; clicking a tile asks to show it."""

    sigImageActivated = Signal(int)  # image id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(ICON_SIDE, ICON_SIDE))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSpacing(4)
        self.patient_key: str | None = None
        self._rows: dict[int, ImageRow] = {}
        self.itemClicked.connect(lambda item: self.sigImageActivated.emit(item.data(Qt.UserRole)))

    def set_patient(self, patient_key: str | None, rows: list[ImageRow],
                    thumbs: dict[int, QImage], current: int | None = None) -> None:
        """Show ``rows`` (one patient's images) with their thumbnails."""
        self.clear()
        self.patient_key = patient_key
        self._rows = {r.id: r for r in rows}
        for r in rows:
            item = QListWidgetItem(self._text(r))
            item.setData(Qt.UserRole, r.id)
            thumb = thumbs.get(r.id)
            if thumb is not None:
                item.setIcon(QIcon(QPixmap.fromImage(thumb)))
            self._paint_label(item, r.label)
            self.addItem(item)
        self.set_current(current)

    def row(self, image_id: int) -> ImageRow | None:
        """The shown patient's image ``image_id`` (``None``: not one of them)."""
        return self._rows.get(image_id)

    def set_label(self, image_id: int, label: str | None) -> None:
        item = self._item(image_id)
        if item is not None:
            self._rows[image_id] = dataclasses.replace(self._rows[image_id], label=label)
            item.setText(self._text(self._rows[image_id]))
            self._paint_label(item, label)

    def set_current(self, image_id: int | None) -> None:
        item = self._item(image_id) if image_id is not None else None
        self.setCurrentItem(item)

    def image_ids(self) -> list[int]:
        return [self.item(i).data(Qt.UserRole) for i in range(self.count())]

    def labels(self) -> dict[int, str | None]:
        return {i: r.label for i, r in self._rows.items()}

    # -- internals ----------------------------------------------------------------
    def _item(self, image_id: int) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.item(i).data(Qt.UserRole) == image_id:
                return self.item(i)
        return None

    @staticmethod
    def _text(r: ImageRow) -> str:
        return f"{r.view or '?'} {r.laterality or '?'} #{r.id}\n{r.label or 'unlabelled'}"

    @staticmethod
    def _paint_label(item: QListWidgetItem, label: str | None) -> None:
        color = theme.LABEL_COLORS.get(label or "", theme.TEXT_DIM)
        item.setForeground(QBrush(QColor(color)))
