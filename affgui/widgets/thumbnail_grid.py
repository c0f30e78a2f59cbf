"""The thumbnail grid: a virtualised icon view over a project's image rows.

Only rows the view paints ask for their thumbnail; they load on worker threads
(:class:`affgui.thumbnails.ThumbnailModel`) and a placeholder is painted until
they arrive. Each tile shows the label as a coloured badge, view/laterality and
the patient.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from affgui import theme
from affgui.thumbnails import MISSING, ThumbnailModel
from engine.store import ImageCache, ImageRow

__all__ = ["ThumbnailDelegate", "ThumbnailGridView", "ThumbnailModel"]


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints one tile: thumbnail (or placeholder), label badge, view/side and patient."""

    THUMB_SIDE = 148
    PAD = 6
    TILE_WIDTH = THUMB_SIDE + 2 * PAD
    TILE_HEIGHT = THUMB_SIDE + 2 * PAD + 34

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        return QSize(self.TILE_WIDTH, self.TILE_HEIGHT)

    @classmethod
    def thumb_rect(cls, tile: QRect) -> QRect:
        return QRect(tile.x() + cls.PAD, tile.y() + cls.PAD, cls.THUMB_SIDE, cls.THUMB_SIDE)

    @classmethod
    def badge_rect(cls, tile: QRect) -> QRect:
        box = cls.thumb_rect(tile)
        return QRect(box.x() + 4, box.y() + 4, 34, 17)

    @staticmethod
    def starts_patient(model: ThumbnailModel, row: int) -> bool:
        """Whether ``row`` is the first of its patient's run of tiles."""
        return row == 0 or model.image_row(row - 1).patient_key != model.image_row(row).patient_key

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        # Ask the model directly: no QVariant round trip per role for each tile.
        model: ThumbnailModel = index.model()
        row: ImageRow = model.image_row(index.row())
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        tile = option.rect
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QColor(theme.TILE_SELECTED) if selected else Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#2c3f55" if selected else theme.TILE_BACKGROUND))
        painter.drawRoundedRect(tile.adjusted(1, 1, -1, -1), 5, 5)
        if self.starts_patient(model, index.row()):  # a bar marks each patient's first tile
            painter.fillRect(QRect(tile.x() + 1, tile.y() + 8, 3, tile.height() - 16),
                             QColor(theme.TILE_SELECTED))

        box = self.thumb_rect(tile)
        painter.fillRect(box, QColor("#000000"))
        pixmap = model.request_pixmap(row)
        if pixmap is not None:
            size = pixmap.size() / pixmap.devicePixelRatio()
            x = box.x() + (box.width() - size.width()) // 2
            y = box.y() + (box.height() - size.height()) // 2
            painter.drawPixmap(x, y, pixmap)
        else:
            missing = model.thumb_state(row.id) == MISSING
            painter.setPen(QColor(theme.TEXT_DIM))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "no thumbnail" if missing else "")

        color = theme.label_color(row.label)
        if color is not None:
            badge = self.badge_rect(tile)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(badge, 3, 3)
            font = QFont(option.font)
            font.setPointSizeF(max(font.pointSizeF() - 1.5, 6.5))
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, theme.LABEL_BADGES[row.label])
        score = model.score(row.id)
        if score is not None:  # P(AFF) of the experiment chosen in the filter bar, top right
            self._paint_score(painter, option, box, score)

        text_top = box.bottom() + 4
        line1 = QRect(box.x(), text_top, box.width(), 15)
        line2 = QRect(box.x(), text_top + 15, box.width(), 15)
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        text = option.palette.color(QPalette.ColorRole.Text)
        painter.setPen(QColor("#ffffff") if selected else text)
        painter.drawText(line1, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"{row.view or '—'}  {row.laterality or ''}".rstrip())
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(QColor(theme.TEXT_DIM))
        painter.drawText(line1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         f"#{row.id}")
        patient = painter.fontMetrics().elidedText(row.patient_key, Qt.TextElideMode.ElideMiddle,
                                                   line2.width())
        painter.drawText(line2, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, patient)
        painter.restore()


    @staticmethod
    def _paint_score(painter: QPainter, option: QStyleOptionViewItem, box: QRect, score: float) -> None:
        badge = QRect(box.right() - 41, box.y() + 4, 38, 17)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(badge, 3, 3)
        font = QFont(option.font)
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 6.5))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(theme.label_color("AFF") if score >= 0.5 else QColor("#ffffff"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, f"{score:.2f}")


class ThumbnailGridView(QListView):
    """Icon grid of the current image list; the current item is the image in the viewer."""

    sigCurrentImageChanged = Signal(int)  # image id, or -1 when the list is empty

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._model = ThumbnailModel(self, side=ThumbnailDelegate.THUMB_SIDE)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setUniformItemSizes(True)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWrapping(True)
        self.setSpacing(3)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # Always there: a scroll bar that appears when a long list arrives narrows the
        # viewport, and the narrower viewport lays out every row again (43,000 rows:
        # 0.1 s of the first paint, spent twice).
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.setItemDelegate(ThumbnailDelegate(self))
        self.verticalScrollBar().setSingleStep(ThumbnailDelegate.TILE_HEIGHT // 4)
        self.setModel(self._model)
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        self.verticalScrollBar().valueChanged.connect(self._update_visible_rows)

    def model(self) -> ThumbnailModel:
        return self._model

    def set_cache(self, cache: ImageCache | None) -> None:
        self._model.set_cache(cache)

    def set_rows(self, rows: list[ImageRow], current: int | None = None) -> None:
        """Show ``rows``; the image ``current`` (else the first) becomes current."""
        self._model.set_rows(rows)
        if not (current is not None and self.select_image(current)) and not self.select_row(0):
            self.sigCurrentImageChanged.emit(-1)

    def set_label(self, image_id: int, label: str | None) -> None:
        self._model.set_label(image_id, label)

    def current_image_id(self) -> int | None:
        index = self.currentIndex()
        return self._model.image_row(index.row()).id if index.isValid() else None

    def select_row(self, row: int) -> bool:
        if not 0 <= row < self._model.rowCount():
            return False
        index = self._model.index(row)
        self.setCurrentIndex(index)
        self.scrollTo(index)
        return True

    def select_image(self, image_id: int) -> bool:
        row = self._model.row_of(image_id)
        return row is not None and self.select_row(row)

    def select_next(self, step: int = 1) -> bool:
        """Move the current image ``step`` rows on; ``False`` at either end of the list."""
        return self.select_row(self.currentIndex().row() + step)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until queued thumbnail loads have finished (tests, shutdown)."""
        return self._model.wait(timeout_ms)

    # -- internals ----------------------------------------------------------------
    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.sigCurrentImageChanged.emit(self._model.image_row(current.row()).id)

    def doItemsLayout(self) -> None:
        super().doItemsLayout()
        self._update_visible_rows()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_visible_rows()

    @Slot()
    def _update_visible_rows(self) -> None:
        """Tell the model which rows are on screen (uniform tiles: plain arithmetic)."""
        n = self._model.rowCount()
        if n == 0:
            return
        first = self.visualRect(self._model.index(0))
        if first.isEmpty():
            return
        pitch_x = ThumbnailDelegate.TILE_WIDTH + self.spacing()
        cols = max(1, 1 + (self.viewport().width() - first.right() - 1) // pitch_x)
        below = self.visualRect(self._model.index(min(cols, n - 1)))
        pitch_y = below.top() - first.top() if cols < n else first.height() + self.spacing()
        pitch_y = max(pitch_y, 1)
        top_line = max(0, -first.top() // pitch_y)
        bottom_line = max(0, (self.viewport().height() - first.top()) // pitch_y)
        self._model.set_visible_rows(top_line * cols, min(n - 1, (bottom_line + 1) * cols - 1))
