"""The open project as the GUI's model: one :class:`ProjectSession` that every part is handed.

The window (the shell) and its parts never hold the project themselves: they read it from
the session and follow its signals, so a part needs neither the window nor another part.

* ``sigProjectOpening(project)``: a project was just opened, before its first listing
  arrives: the shell shows the browser and enables the project's actions, the browser
  attaches its views to the project's pixel cache.
* ``sigProjectChanged(project | None)``: a project was opened (after its first listing)
  or closed.
* ``sigProjectClosing(project)``: the project is about to close; a part that reads its
  files (a viewer's cache, the heatmap window) lets go of them now, on this one channel.
* ``sigRowsChanged(n)``: the browser's listing was (re)read: :attr:`rows`, :attr:`counts`,
  :attr:`reviewed` and :attr:`annotations` are new.
* ``sigCurrentImageChanged(row | None)``: the image shown and labelled.
* ``sigLabelsChanged(changes)``: labels were written (a key, a patient label, undo, redo).
* ``sigRoisChanged(image_id)``: a fracture box of that image was added, moved or removed.
* ``sigImageRequested(row)``: a part (the patient panel) asks the browser to show an image.
* ``sigExperimentFinished(name)``, ``sigJobsChanged(jobs)``, ``sigWorkQueued()``: the
  experiments part's news (an experiment's last job finished; the job list as polled) and
  a request to it (another part queued local jobs: start a worker, poll now), so that
  the Results view and the experiments part never hold each other.

The listing is the session's too: :attr:`listing` (what the browser's filter bar asks for),
:meth:`reload_rows` (a worker thread reads it) and :attr:`rows`, :attr:`counts`,
:attr:`folders`, :attr:`reviewed`, :attr:`annotations` (the last listing read). A label
written here is written into :attr:`rows` and :attr:`current_image` too, so a part that
reads them between two listings sees the label the reader gave.

Label edits, undo/redo and ROI edits are methods here; the :class:`~affgui.labelling.LabelEditor`
(the undo stack) is the session's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from affgui.labelling import STORE_ERRORS, LabelEditor
from affgui.listing import Listing, Rows, load_rows
from affgui.predictions import Annotations, PredictionReader
from affgui.settings import Settings, save_settings
from affgui.tasks import TaskRunner
from engine.store import UNLABELLED, ImageRow, LabelChange, NothingToUndo, Project


class ProjectSession(QObject):
    """The open project, its settings, its task runner, the listed rows and the current image."""

    sigProjectOpening = Signal(object)  # the Project just opened, before its first listing
    sigProjectChanged = Signal(object)  # the open Project, or None
    sigProjectClosing = Signal(object)  # the Project about to close
    sigRowsChanged = Signal(int)  # number of images listed after a (re)load
    sigCurrentImageChanged = Signal(object)  # ImageRow | None
    sigLabelsChanged = Signal(list)  # [LabelChange] written
    sigHistoryStep = Signal(list, str)  # [LabelChange] of an undo/redo step, its description
    sigRoisChanged = Signal(object)  # image id whose boxes changed (None: not known)
    sigImageRequested = Signal(object)  # ImageRow a part asks the browser to show
    sigMessage = Signal(str, int)  # a status line for the shell, milliseconds
    sigError = Signal(str, object)  # title, exception: the shell shows it
    sigExperimentFinished = Signal(str)  # an experiment's last job finished (its name)
    sigJobsChanged = Signal(list)  # the project's jobs, as the experiments part last polled them
    sigWorkQueued = Signal()  # a part queued local jobs: the experiments part starts a worker, polls

    def __init__(self, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self.project: Project | None = None
        self.tasks = TaskRunner(self)
        self.editor = LabelEditor(lambda: self.settings.reader, self)
        self.listing = Listing()  # what the browser lists (its filter bar's choices)
        self.rows: list[ImageRow] = []
        self.counts: dict[str, int] = {}
        self.folders: list[str] = []  # the project's import folders (the filter bar offers them)
        self.reviewed: set[int] = set()  # images labelled or confirmed in the GUI (label_history)
        self.annotations: Annotations | None = None  # the listing's predictions, when filtered by them
        self.predictions = PredictionReader()  # experiments' predictions, read once per run-folder state
        self.current_image: ImageRow | None = None
        self.outside_filter = False  # the current image is shown although the filter hides it
        self.window_level: tuple[float, float] | None = None  # the main viewer's (centre, width)
        self.editor.sigLabelsApplied.connect(self._on_history_step)
        self.editor.sigFailed.connect(self.sigError)

    # -- project ----------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        """Make ``project`` the open one (the previous one is closed first)."""
        self.close()
        self.project = project
        self.editor.set_project(project)
        self.settings.add_recent(project.path)
        save_settings(self.settings)
        self.sigProjectOpening.emit(project)

    def announce_project(self) -> None:
        """Tell the parts that the project set by :meth:`set_project` is open and listed."""
        self.sigProjectChanged.emit(self.project)

    def close(self) -> None:
        """Close the open project: ``sigProjectClosing``, then ``sigProjectChanged(None)``."""
        if self.project is None:
            return
        self.tasks.supersede("rows")
        self.tasks.wait(10_000)  # listings still reading the old project
        project = self.project
        self.sigProjectClosing.emit(project)
        self.editor.set_project(None)
        project.close()
        self.project = None
        self.rows, self.counts, self.reviewed, self.annotations, self.folders = [], {}, set(), None, []
        self.current_image, self.outside_filter = None, False
        self.sigProjectChanged.emit(None)

    # -- listing and current image -------------------------------------------------------
    def set_listing(self, listing: Listing) -> None:
        """The browser's new choices: list them (on a worker)."""
        self.listing = listing
        self.reload_rows()

    def reload_rows(self) -> None:
        """Re-read :attr:`listing` on a worker thread; a newer call supersedes an older one."""
        if self.project is None:
            return
        project, listing = self.project, self.listing
        self.tasks.submit(lambda _progress: load_rows(project, listing, self.predictions),
                          done=lambda rows: self.set_rows(rows) if project is self.project else None,
                          failed=lambda exc: self.sigError.emit("Cannot list the images", exc), key="rows")

    def set_rows(self, listed: Rows) -> None:
        """A new listing (GUI thread): rows in the browser's order, the label counts, the
        import folders, the reviewed ids and the rows' prediction annotations."""
        self.rows = list(listed.rows)
        self.counts = dict(listed.counts)
        self.folders = list(listed.folders)
        self.reviewed = set(listed.reviewed)
        self.annotations = listed.annotations
        self.sigRowsChanged.emit(len(self.rows))

    def open_listed(self, project: Project, listed: Rows) -> None:
        """Make ``project`` the open one with its first listing, then tell the parts."""
        self.set_project(project)
        self.set_rows(listed)
        self.announce_project()

    def row(self, image_id: int | None) -> ImageRow | None:
        """The listed row of ``image_id`` (with the latest label), or ``None``."""
        if image_id is None:
            return None
        if self.current_image is not None and self.current_image.id == image_id:
            return self.current_image
        return next((r for r in self.rows if r.id == image_id), None)

    def set_window_level(self, center: float, width: float) -> None:
        """The main viewer's window (views that open later start from it)."""
        self.window_level = (float(center), float(width))

    def set_current_image(self, image: ImageRow | None, outside_filter: bool = False) -> None:
        self.current_image = image
        self.outside_filter = outside_filter and image is not None
        self.sigCurrentImageChanged.emit(image)

    def show_image(self, image: ImageRow) -> None:
        """Ask the browser to show ``image`` (selected, or shown outside the filter)."""
        self.sigImageRequested.emit(image)

    def current_image_id(self) -> int | None:
        return self.current_image.id if self.current_image is not None else None

    # -- labels -------------------------------------------------------------------------
    def set_label(self, image_id: int, label: str | None) -> list[LabelChange]:
        """Store ``label`` (``None`` clears) for one image; its current label again is a ``confirm``."""
        if self.project is None:
            return []
        if label is not None and label == self.project.labels.get(image_id):
            confirmed = self.editor.confirm([image_id])  # "looked at, agrees": a history row
            if confirmed:
                self.reviewed.add(image_id)
                self.sigLabelsChanged.emit([])
                self.sigMessage.emit(f"#{image_id} {confirmed[0].new_label}: confirmed", 3000)
            return []
        changes = self.editor.label([image_id], label, f"#{image_id} {label or 'cleared'}")
        self._apply(changes)
        return changes

    def set_patient_label(self, patient_key: str, label: str | None) -> list[LabelChange]:
        """Store ``label`` for every image of the patient (one undo step)."""
        if self.project is None:
            return []
        ids = [r.id for r in self.project.images.patient_images(patient_key)]
        changes = self.editor.label(ids, label, f"patient {patient_key} {label}")
        self._apply(changes)
        self.sigMessage.emit(f"Patient {patient_key}: {len(changes)} of {len(ids)} images set to "
                             f"{label}", 4000)
        return changes

    def undo(self) -> None:
        """Revert the latest label step (this session's, then the reader's earlier ones)."""
        if self.editor.stack.canUndo():
            self.editor.stack.undo()
            return
        if self.project is None:
            return
        try:  # this session's stack is spent: go on through the reader's earlier changes
            change = self.editor.undo_earlier()
        except NothingToUndo:
            self.sigMessage.emit("Nothing to undo", 3000)
            return
        except STORE_ERRORS as exc:
            self.sigError.emit("Undo failed", exc)
            return
        self._on_history_step([change], f"Undone: #{change.image_id} (an earlier change)")

    def redo(self) -> None:
        if not self.editor.stack.canRedo():
            self.sigMessage.emit("Nothing to redo", 3000)
            return
        self.editor.stack.redo()

    def set_reader(self, name: str) -> None:
        if name.strip():
            self.settings.reader = name.strip()
            save_settings(self.settings)
            self.sigMessage.emit(f"Labels are now saved as reader '{name.strip()}'", 4000)

    def _on_history_step(self, changes: list, text: str) -> None:
        self._apply(changes)
        self.sigHistoryStep.emit(changes, text)
        self.sigMessage.emit(text, 3000)

    def _apply(self, changes: list[LabelChange]) -> None:
        self.reviewed.update(c.image_id for c in changes if c.source == "gui")
        labels = {}
        for change in changes:
            labels[change.image_id] = change.new_label
            for key, step in ((change.old_label or UNLABELLED, -1),
                              (change.new_label or UNLABELLED, 1)):
                self.counts[key] = self.counts.get(key, 0) + step
        if labels:  # the listed rows and the current image carry the label just written
            self.rows = [dataclasses.replace(r, label=labels[r.id]) if r.id in labels else r
                         for r in self.rows]
            current = self.current_image
            if current is not None and current.id in labels:
                self.current_image = dataclasses.replace(current, label=labels[current.id])
        self.sigLabelsChanged.emit(changes)

    # -- fracture boxes (source-pixel coordinates) ---------------------------------------
    def rois(self, image_id: int | None) -> list:
        if self.project is None or image_id is None:
            return []
        return self.project.rois.for_image(image_id)

    def add_roi(self, image_id: int, box: Sequence[float]) -> None:
        self._write_roi(lambda p: p.rois.add(image_id, tuple(box), self.settings.reader, source="gui"),
                        image_id, "The box was not saved")

    def update_roi(self, roi_id: int, box: Sequence[float], image_id: int | None = None) -> None:
        self._write_roi(lambda p: p.rois.update(roi_id, tuple(box)), image_id, "The box was not moved")

    def delete_roi(self, roi_id: int, image_id: int | None = None) -> None:
        self._write_roi(lambda p: p.rois.delete(roi_id), image_id, "The box was not deleted")

    def _write_roi(self, change, image_id: int | None, error: str) -> None:
        if self.project is None:
            return
        try:
            change(self.project)
        except STORE_ERRORS as exc:
            self.sigError.emit(error, exc)
        self.sigRoisChanged.emit(image_id)  # views re-read the store's copy, never an unsaved box
