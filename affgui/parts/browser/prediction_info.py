"""The prediction-info part: experiments offered in the filter bar, the current image's scores shown.

The rows are filtered and sorted by :mod:`affgui.predictions` inside the session's listing
(a worker thread, :func:`affgui.listing.load_rows`), which hands the session its
:class:`~affgui.predictions.Annotations` with the rows. :class:`PredictionInfo` offers the
project's experiments in the filter bar and shows the current image's probabilities (and
its review rank and reason) in the filter bar and in the grid's tooltips, from those
annotations: no file or database reads on the GUI thread. It is the browser's: built from
the session and the browser's grid and filter bar.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QToolTip

from affgui.display import plain_tooltip
from affgui.predictions import Annotations, PredictionQuery, experiment_names
from affgui.session import ProjectSession
from affgui.thumbnails import ThumbnailModel
from affgui.widgets.filter_bar import FilterBarWidget
from affgui.widgets.thumbnail_grid import ThumbnailGridView
from engine.store import Project


class PredictionInfo(QObject):
    """Offers the open project's experiments in the filter bar and shows the current image's scores."""

    def __init__(self, session: ProjectSession, grid: ThumbnailGridView, filter_bar: FilterBarWidget):
        super().__init__(session)
        self.session, self.grid, self.filter_bar = session, grid, filter_bar
        self.annotations: Annotations | None = None
        self._ordering_shown: tuple | None = None
        session.sigProjectChanged.connect(self._on_project_changed)
        session.sigRowsChanged.connect(self._on_rows_changed)
        grid.sigCurrentImageChanged.connect(self._show_current)
        grid.model().dataChanged.connect(self._on_tile_changed)  # e.g. relabelled in place
        grid.viewport().installEventFilter(self)

    def refresh(self, project: Project | None = None) -> None:
        """List the experiments of ``project`` on a worker (the filter keeps its choice)."""
        if project is None:
            self.filter_bar.set_experiments([])
            return
        self.session.tasks.submit(lambda _progress: experiment_names(project),
                                 done=lambda names: self._set_names(project, names),
                                 failed=lambda _exc: self._set_names(project, []))

    def describe(self, image_id: int, long: bool = False) -> str | None:
        """What the latest listing knows about ``image_id``'s predictions, or ``None``."""
        a = self.annotations
        if a is None:
            return None
        if not long:
            return a.short(image_id)
        model = self.grid.model()
        row = model.row_of(image_id)
        return a.long(image_id, model.image_row(row).label if row is not None else None)

    # -- internals ------------------------------------------------------------------
    def _set_names(self, project: Project, names: list[str]) -> None:
        if project is self.session.project:  # not a listing of a project closed since
            self.filter_bar.set_experiments(names)

    def _on_project_changed(self, project: Project | None) -> None:
        if project is None:  # an opened project is listed (sigRowsChanged) before this signal
            self.annotations = None
            self.grid.model().set_scores({})
            self.refresh(None)

    def _on_rows_changed(self, _count: int = 0) -> None:
        s, grid = self.session, self.grid
        query = s.listing.prediction if s.project is not None else None
        self.annotations = s.annotations if query is not None else None
        grid.model().set_scores(self.annotations.shown_scores() if self.annotations is not None else {})
        ordering = self._ordering(query)
        if ordering is not None and ordering != self._ordering_shown:
            grid.select_row(0)  # a new review queue or probability order starts at its top
        self._ordering_shown = ordering
        self._show_current(grid.current_image_id())
        self.refresh(s.project)  # experiments may have finished since the last listing

    @staticmethod
    def _ordering(query: PredictionQuery | None) -> tuple | None:
        """What orders the listing, when predictions do: the review queue's models or a P(AFF) sort."""
        if query is None:
            return None
        if query.mode == "review":
            return ("review", query.experiments)
        return ("sort", query.experiment, query.sort) if query.sort else None

    def _on_tile_changed(self, top, bottom, _roles=()) -> None:
        grid = self.grid
        if self.annotations is not None and top.row() <= grid.currentIndex().row() <= bottom.row():
            self._show_current(grid.current_image_id())

    def _show_current(self, image_id: int | None) -> None:
        bar = self.filter_bar
        if image_id is None or image_id < 0 or self.annotations is None:
            bar.set_prediction_info("", "")
            return
        bar.set_prediction_info(self.describe(image_id), self.describe(image_id, long=True))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.annotations is not None:
            grid = self.grid
            index = grid.indexAt(event.pos())
            if index.isValid():
                row = grid.model().image_row(index.row())
                base = grid.model().data(index, ThumbnailModel.TipTextRole)
                QToolTip.showText(event.globalPos(),
                                  plain_tooltip(f"{base}\n{self.describe(row.id, long=True)}"),
                                  grid.viewport())
                return True
        return super().eventFilter(watched, event)
