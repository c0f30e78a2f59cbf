"""The thumbnail grid's model, and thumbnail loading off the GUI thread.

Thumbnails are read from the cache's one slot file (``pread``, never a memory
map: the pages of a map stay in this process's RSS). The grid asks
for a thumbnail when a row is painted; requests made in the same event-loop
pass are batched into tasks of the loader's own :class:`~affgui.tasks.TaskRunner`,
newest batches first, so the rows on screen load before rows scrolled past. A worker
skips ids the grid no longer shows (``wanted``) and reports them as dropped, so they are
asked for again if they come back into view. Switching to another project's cache
supersedes every batch in flight (``TaskRunner.supersede_all``): it stops at its next
image, and no thumbnail of the old cache reaches the grid.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QImage, QPixmap

from affgui.display import plain_tooltip
from affgui.tasks import Progress, TaskRunner
from engine.store import ImageCache, ImageRow

LOADED, DROPPED, MISSING = "loaded", "dropped", "missing"
BATCH = 8
Index = QModelIndex | QPersistentModelIndex


def thumbnail_image(cache: ImageCache, image_id: int, height: int, width: int,
                    side: int) -> QImage | None:
    """The thumbnail of ``image_id`` as a QImage that owns its pixels, scaled to fit ``side``."""
    pixels = cache.thumb(image_id, height, width)
    if pixels is None or pixels.size == 0:
        return None
    h, w = pixels.shape  # a copy read from the slot file, not a view of a memory map
    image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    if max(h, w) > side:
        image = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return image


def _load_batch(cache: ImageCache, side: int, items: list[tuple[int, int, int]],
                wanted: Callable[[int], bool] | None, progress: Progress) -> list:
    """Read one batch on a loader thread: ``[(image_id, status, QImage | None)]``.

    ``progress`` raises :class:`~affgui.tasks.Cancelled` once the batch was superseded
    (another cache), so a stale batch stops at its next image.
    """
    out = []
    for k, (image_id, h, w) in enumerate(items):
        progress("thumbnails", k, len(items))
        if wanted and not wanted(image_id):
            out.append((image_id, DROPPED, None))
            continue
        try:
            image = thumbnail_image(cache, image_id, h, w, side)
        except (OSError, ValueError):  # a truncated or rewritten thumbnail file
            image = None
        out.append((image_id, LOADED if image is not None else MISSING, image))
    return out


class ThumbnailLoader(QObject):
    """Loads thumbnails on its own thread pool; results arrive as :attr:`sigLoaded`."""

    sigLoaded = Signal(object)  # [(image_id, status, QImage | None)] of the current cache

    def __init__(self, side: int, parent: QObject | None = None, threads: int = 2):
        super().__init__(parent)
        self.side = side
        self.cache: ImageCache | None = None
        self.wanted: Callable[[int], bool] | None = None  # called from worker threads
        self.tasks = TaskRunner(self, max_threads=threads)  # batches of self.cache alone
        self._queue: dict[int, tuple[int, int]] = {}
        self._priority = itertools.count(0, 1000)
        self._flush_timer = QTimer(self, singleShot=True, interval=0)
        self._flush_timer.timeout.connect(self._flush)

    def reset(self, cache: ImageCache | None) -> None:
        """Switch to another project's cache; batches still in flight are superseded."""
        self.tasks.supersede_all()
        self.cache = cache
        self._queue.clear()

    def request(self, image_id: int, height: int, width: int) -> None:
        """Queue one thumbnail; the batch starts when control returns to the event loop."""
        if self.cache is None:
            return
        self._queue[image_id] = (height, width)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def wait(self, timeout_ms: int = -1) -> bool:
        return self.tasks.wait(timeout_ms)

    @Slot()
    def _flush(self) -> None:
        items = [(i, h, w) for i, (h, w) in self._queue.items()]
        self._queue.clear()
        cache, side, wanted = self.cache, self.side, self.wanted
        if cache is None:
            return
        base = next(self._priority) + len(items)  # later flushes outrank earlier ones
        for k in range(0, len(items), BATCH):
            batch = items[k:k + BATCH]
            self.tasks.submit(lambda progress, b=batch: _load_batch(cache, side, b, wanted, progress),
                              done=self.sigLoaded.emit, priority=base - k)


class ThumbnailModel(QAbstractListModel):
    """Image rows of the current filter, with thumbnails loaded on demand."""

    RowRole = Qt.ItemDataRole.UserRole + 1  # the ImageRow
    IdRole = Qt.ItemDataRole.UserRole + 2
    LabelRole = Qt.ItemDataRole.UserRole + 3
    PixmapRole = Qt.ItemDataRole.UserRole + 4  # QPixmap, or None while loading
    ThumbStateRole = Qt.ItemDataRole.UserRole + 5  # "loaded", "loading" or "missing"
    TipTextRole = Qt.ItemDataRole.UserRole + 6  # the tooltip as plain text (ToolTipRole: escaped)
    ScoreRole = Qt.ItemDataRole.UserRole + 7  # P(AFF) of the experiment the filter bar chose, or None

    def __init__(self, parent=None, side: int = 160, capacity: int = 800):
        super().__init__(parent)
        self._rows: list[ImageRow] = []
        self._row_of: dict[int, int] = {}
        self._scores: dict[int, float] = {}  # image id -> P(AFF) shown on its tile (set_scores)
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._capacity = capacity
        self._pending: set[int] = set()
        self._missing: set[int] = set()
        self._window: tuple[int, int] | None = None
        self._loader = ThumbnailLoader(side, self)
        self._loader.wanted = self._is_wanted
        self._loader.sigLoaded.connect(self._on_loaded)

    # -- contents ---------------------------------------------------------------
    def set_cache(self, cache: ImageCache | None) -> None:
        """Show thumbnails from another project's cache (drops every loaded pixmap)."""
        self._loader.reset(cache)
        self._pixmaps.clear()
        self._pending.clear()
        self._missing.clear()

    def set_rows(self, rows: list[ImageRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._row_of = {r.id: k for k, r in enumerate(self._rows)}
        self._window = None
        self.endResetModel()

    def set_label(self, image_id: int, label: str | None) -> None:
        """Show a new label on one row (the database was already written)."""
        row = self._row_of.get(image_id)
        if row is None:
            return
        self._rows[row] = dataclasses.replace(self._rows[row], label=label)
        index = self.index(row)
        self.dataChanged.emit(index, index, [self.LabelRole, self.RowRole,
                                             Qt.ItemDataRole.ToolTipRole])

    def set_scores(self, scores: dict[int, float]) -> None:
        """P(AFF) per image id to show on the tiles (empty: none shown)."""
        if scores == self._scores:
            return
        self._scores = dict(scores)
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1), [self.ScoreRole])

    def score(self, image_id: int) -> float | None:
        return self._scores.get(image_id)

    def image_row(self, row: int) -> ImageRow:
        return self._rows[row]

    def row_of(self, image_id: int) -> int | None:
        return self._row_of.get(image_id)

    def image_ids(self) -> list[int]:
        return [r.id for r in self._rows]

    def pixmap(self, image_id: int) -> QPixmap | None:
        """The loaded thumbnail of ``image_id`` (does not request a load)."""
        return self._pixmaps.get(image_id)

    def set_visible_rows(self, first: int, last: int) -> None:
        """Rows on screen: loads queued for rows far from them are dropped."""
        margin = max(last - first + 1, 1)
        self._window = (first - margin, last + margin)

    def wait(self, timeout_ms: int = -1) -> bool:
        return self._loader.wait(timeout_ms)

    # -- QAbstractListModel -----------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        r = self._rows[index.row()]
        if role == self.PixmapRole:
            return self.request_pixmap(r)
        if role == self.RowRole:
            return r
        if role == self.IdRole:
            return r.id
        if role == self.LabelRole:
            return r.label
        if role == self.ThumbStateRole:
            return self.thumb_state(r.id)
        if role == self.ScoreRole:
            return self._scores.get(r.id)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{r.patient_key} {r.view or ''} {r.laterality or ''}".strip()
        if role in (Qt.ItemDataRole.ToolTipRole, self.TipTextRole):
            text = (f"#{r.id}  {r.path}\nPatient {r.patient_key}  ·  {r.view or '?'} "
                    f"{r.laterality or '?'}  ·  {r.width}×{r.height}\nLabel: {r.label or 'unlabelled'}")
            return plain_tooltip(text) if role == Qt.ItemDataRole.ToolTipRole else text
        return None

    # -- thumbnails -------------------------------------------------------------
    def thumb_state(self, image_id: int) -> str:
        """``"loaded"``, ``"missing"`` (no thumbnail cached) or ``"loading"``."""
        return LOADED if image_id in self._pixmaps else MISSING if image_id in self._missing \
            else "loading"

    def request_pixmap(self, r: ImageRow) -> QPixmap | None:
        """The thumbnail of row ``r`` if loaded, else ``None`` and a load is queued."""
        pixmap = self._pixmaps.get(r.id)
        if pixmap is not None:
            self._pixmaps.move_to_end(r.id)
            return pixmap
        if r.id not in self._pending and r.id not in self._missing:
            if r.thumb_height and r.thumb_width:
                self._pending.add(r.id)
                self._loader.request(r.id, r.thumb_height, r.thumb_width)
            else:
                self._missing.add(r.id)
        return None

    def _is_wanted(self, image_id: int) -> bool:  # runs on loader threads
        window, row = self._window, self._row_of.get(image_id)
        return row is not None and (window is None or window[0] <= row <= window[1])

    @Slot(object)
    def _on_loaded(self, results: list) -> None:
        for image_id, status, image in results:
            self._pending.discard(image_id)
            if status == MISSING:
                self._missing.add(image_id)
            elif status == LOADED:
                self._pixmaps[image_id] = QPixmap.fromImage(image)
                if len(self._pixmaps) > self._capacity:
                    self._pixmaps.popitem(last=False)
            else:
                continue
            row = self._row_of.get(image_id)
            if row is not None:
                index = self.index(row)
                self.dataChanged.emit(index, index, [self.PixmapRole, self.ThumbStateRole])
