"""The browser part: the filter bar and thumbnail grid beside the image viewer, labelled by keys.

:class:`Browser` is built from ``(session, shell)`` like every other part. It owns the
widgets of the labelling view (:attr:`grid`, :attr:`viewer`, :attr:`filter_bar` in
:attr:`widget`, the page the shell shows while a project is open) and their two sub-parts,
:class:`~affgui.parts.browser.compare.CompareMode` (the second, linked viewer) and
:class:`~affgui.parts.browser.prediction_info.PredictionInfo` (experiments' scores in the filter bar
and tooltips). What the other parts need of it goes through the session: the listing
(:attr:`~affgui.session.ProjectSession.listing`, :meth:`~affgui.session.ProjectSession.reload_rows`),
the current image (``sigCurrentImageChanged``), a request to show an image
(:meth:`~affgui.session.ProjectSession.show_image`) and the viewer's window
(:attr:`~affgui.session.ProjectSession.window_level`).

A label key writes through the session at once (one small SQLite transaction); the browser
follows the session's signals to update the badge and the counts, and moves to the next image.
"""

from __future__ import annotations

import dataclasses
from functools import partial

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from affgui import theme
from affgui.display import esc
from affgui.listing import Listing
from affgui.parts.browser.compare import CompareMode
from affgui.parts.browser.prediction_info import PredictionInfo
from affgui.session import ProjectSession
from affgui.settings import save_settings
from affgui.shell import Shell
from affgui.widgets.filter_bar import FilterBarWidget
from affgui.widgets.image_viewer import ImageViewerWidget
from affgui.widgets.thumbnail_grid import ThumbnailGridView
from engine.store import LABELS, UNLABELLED, ImageRow, Project

__all__ = ["Browser", "CompareMode", "PredictionInfo"]


class Browser(QObject):
    """The grid, viewer and filter bar of the open project, and the label keys that act on them."""

    def __init__(self, session: ProjectSession, shell: Shell):
        super().__init__(session)
        self.session, self.shell = session, shell
        registry = shell.registry
        self.grid = ThumbnailGridView()
        self.viewer = ImageViewerWidget(actions=lambda name, _viewer: registry.action(name))
        self.filter_bar = FilterBarWidget()
        left = QWidget()
        box = QVBoxLayout(left)
        box.setContentsMargins(6, 6, 0, 0)
        box.addWidget(self.filter_bar)
        box.addWidget(self.grid, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.viewer)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([520, 880])
        self.widget = self.splitter  # the page the shell shows while a project is open
        session.sigProjectOpening.connect(self._attach)
        session.sigProjectClosing.connect(self._detach)  # before the compare viewer's own
        self.compare = CompareMode(session, shell, self.viewer, self.splitter)

        self.info_label = QLabel()
        self.info_label.setTextFormat(Qt.TextFormat.RichText)
        self.counts_label = QLabel()
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        shell.add_status_widget(self.info_label, permanent=False, stretch=1)
        shell.add_status_widget(self.counts_label)

        action = registry.action
        for label in LABELS:
            action(f"label.{label}").triggered.connect(partial(self.set_label, label))
        action("label.clear").triggered.connect(partial(self.set_label, None))
        for label in LABELS:
            action(f"patient.{label}").triggered.connect(partial(self.set_patient_label, label))
        action("next").triggered.connect(partial(self.grid.select_next, 1))
        action("previous").triggered.connect(partial(self.grid.select_next, -1))
        auto = action("label.autoAdvance")
        auto.setChecked(session.settings.auto_advance)
        auto.toggled.connect(self._set_auto_advance)
        action("view.refresh").triggered.connect(session.reload_rows)

        session.listing = self.listing()  # the filter bar's first choices, before any listing
        session.sigRowsChanged.connect(self._show_rows)
        session.sigLabelsChanged.connect(self._on_labels_changed)
        session.sigHistoryStep.connect(self._on_history_step)
        session.sigRoisChanged.connect(self._show_rois)
        session.sigCurrentImageChanged.connect(self._show_rois)  # the boxes of each image shown
        session.sigImageRequested.connect(self._show_requested)
        session.sigProjectChanged.connect(self._on_project_changed)
        self.viewer.sigRoiDrawn.connect(session.add_roi)
        self.viewer.sigRoiChanged.connect(
            lambda roi_id, box: session.update_roi(roi_id, box, self.current_image_id()))
        self.viewer.sigRoiDeleted.connect(lambda roi_id: session.delete_roi(roi_id, self.current_image_id()))
        session.set_window_level(*self.viewer.window_level())  # views that open later start from it
        self.viewer.sigLevelsChanged.connect(session.set_window_level)
        self.grid.sigCurrentImageChanged.connect(self._on_current_image_changed)
        self.grid.pressed.connect(self._back_to_the_list)  # a click on the current tile, too
        self.filter_bar.sigFilterChanged.connect(lambda: session.set_listing(self.listing()))
        self.filter_bar.setEnabled(False)
        self.update_status()
        # after the grid's own connections: it follows a listing once the grid shows it
        self.predictions = PredictionInfo(session, self.grid, self.filter_bar)

    # -- listing ------------------------------------------------------------------------
    def listing(self) -> Listing:
        """What the filter bar asks for."""
        bar = self.filter_bar
        return Listing(bar.image_filter(), bar.order(), bar.prediction(), bar.reviewed())

    def _attach(self, project: Project) -> None:
        self.grid.set_cache(project.cache)
        self.viewer.set_cache(project.cache)
        self.filter_bar.setEnabled(True)

    def _show_rows(self, _count: int = 0) -> None:
        s = self.session
        self.filter_bar.set_folders(s.folders)  # a folder the project lacks goes back to "Any folder"
        self.grid.set_rows(s.rows, current=self.grid.current_image_id())
        self.update_status()
        if s.project is not None and self.listing() != s.listing:
            # the bar changed without a filter signal (that folder reset, or choices made while
            # a project was opening): list what it shows, so the session never lists stale choices
            s.set_listing(self.listing())

    def _detach(self, _project: Project) -> None:
        self.grid.set_rows([])
        self.grid.set_cache(None)
        self.viewer.set_cache(None)
        self.grid.wait(10_000)
        self.viewer.wait(10_000)

    def _on_project_changed(self, project: Project | None) -> None:
        if project is None:
            self.filter_bar.setEnabled(False)
            self.update_status()
        else:
            self.grid.setFocus()

    # -- current image -------------------------------------------------------------------
    @property
    def outside_image(self) -> ImageRow | None:
        """The image shown from the patient panel although the filter hides it."""
        return self.session.current_image if self.session.outside_filter else None

    def current_image_id(self) -> int | None:
        """The image shown and labelled: the grid's, or one outside the filter (patient panel)."""
        return self.outside_image.id if self.outside_image is not None else self.grid.current_image_id()

    def current_row(self) -> ImageRow | None:
        if self.outside_image is not None:
            return self.outside_image
        model = self.grid.model()
        row = model.row_of(self.grid.current_image_id() or -1)
        return model.image_row(row) if row is not None else None

    def show_outside_filter(self, image: ImageRow) -> None:
        """Show ``image`` although the filter hides it (another view of the current patient)."""
        self.viewer.show_image(image)
        self.session.set_current_image(image, outside_filter=True)
        self.info_label.setText(self._info_text(image, f"<span style='color:{theme.WARNING}'>"
                                                       "outside the current filter</span>"))

    def _back_to_the_list(self, *_args) -> None:
        if self.outside_image is not None and self.grid.current_image_id() is not None:
            self._on_current_image_changed(self.grid.current_image_id())

    @Slot(int)
    def _on_current_image_changed(self, image_id: int) -> None:
        model = self.grid.model()
        row = model.row_of(image_id)
        image = model.image_row(row) if row is not None else None
        self.viewer.show_image(image)
        self.session.set_current_image(image)
        if row is not None and row + 1 < model.rowCount():
            self.viewer.prefetch(model.image_row(row + 1).sha256)
        if image is None:
            self.info_label.setText("")
        else:
            self.info_label.setText(self._info_text(image, f"{row + 1} of {model.rowCount()}"))

    @staticmethod
    def _info_text(image: ImageRow, where: str) -> str:
        return (f"#{image.id} · <b>{esc(image.patient_key)}</b> · {esc(image.view or '?')} "
                f"{esc(image.laterality or '?')} · {theme.badge_html(image.label)} · {where} · "
                f"<span style='color:{theme.TEXT_DIM}'>{esc(image.path)}</span>")

    def update_status(self) -> None:
        s = self.session
        if s.project is None:
            self.counts_label.setText("")
            self.info_label.setText("No project open: File > Open Project or Open Demo Project")
            return
        parts = [f"{theme.badge_html(label)} {s.counts.get(label, 0)}" for label in LABELS]
        parts.append(f"{theme.badge_html(None)} {s.counts.get(UNLABELLED, 0)}")
        total = sum(s.counts.values())
        self.counts_label.setText("  ·  ".join(parts) + f"  ·  {total} images"
                                  f"  ·  {len(s.reviewed)} reviewed")

    # -- labels (written by the session; the browser follows) ----------------------------
    def set_label(self, label: str | None) -> None:
        """Store ``label`` (``None`` clears) for the current image; label keys advance."""
        image_id = self.current_image_id()
        if self.session.project is None or image_id is None:
            return
        self.session.set_label(image_id, label)
        if label is not None and self.session.settings.auto_advance and self.outside_image is None:
            self.grid.select_next()

    def set_patient_label(self, label: str | None) -> None:
        """Store ``label`` for every image of the current image's patient (one undo step)."""
        row = self.current_row()
        if self.session.project is not None and row is not None:
            self.session.set_patient_label(row.patient_key, label)

    def _set_auto_advance(self, on: bool) -> None:
        self.session.settings.auto_advance = on
        save_settings(self.session.settings)

    def _on_labels_changed(self, changes: list) -> None:
        current = self.grid.current_image_id()
        outside = self.outside_image
        for change in changes:
            self.grid.set_label(change.image_id, change.new_label)
        if outside is not None and any(c.image_id == outside.id for c in changes):
            label = next(c.new_label for c in reversed(changes) if c.image_id == outside.id)
            self.show_outside_filter(dataclasses.replace(outside, label=label))
        elif any(c.image_id == current for c in changes):
            self._on_current_image_changed(current)
        self.update_status()

    def _on_history_step(self, changes: list, _text: str) -> None:
        if changes and not any(c.image_id == self.grid.current_image_id() for c in changes):
            self.grid.select_image(changes[0].image_id)

    def _show_rois(self, _image_id: int | None = None) -> None:
        image_id = self.current_image_id()
        if self.session.project is not None and image_id is not None:
            self.viewer.set_rois(self.session.rois(image_id))

    def _show_requested(self, image: ImageRow) -> None:
        """A part asked for ``image`` (the patient panel, the heatmap window): selected, or
        shown outside the filter."""
        if not self.grid.select_image(image.id):
            self.show_outside_filter(image)
