"""The label history of one image: who changed what, when, and how (gui, import, undo)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from affgui import theme
from engine.store import LabelChange

COLUMNS = ("When (UTC)", "Reader", "Change", "Source")


def change_text(change: LabelChange) -> str:
    return f"{change.old_label or 'unlabelled'} → {change.new_label or 'unlabelled'}"


class HistoryPanelWidget(QTableWidget):
    """A read-only table of :class:`LabelChange` rows, newest first."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.image_id: int | None = None

    def set_changes(self, image_id: int | None, changes: list[LabelChange]) -> None:
        """Show the history of ``image_id`` (``changes`` oldest first, as the store gives it)."""
        self.image_id = image_id
        self.setRowCount(len(changes))
        for row, c in enumerate(reversed(changes)):
            cells = (c.at.replace("T", " ")[:19], c.reader, change_text(c), c.source)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 2 and c.new_label in theme.LABEL_COLORS:
                    item.setForeground(QColor(theme.LABEL_COLORS[c.new_label]))
                self.setItem(row, col, item)

    def row_texts(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (newest first)."""
        return [tuple(self.item(r, c).text() for c in range(self.columnCount()))
                for r in range(self.rowCount())]
