"""Reader studies in the GUI: reading sessions (blind or open), the disagreement queue, adjudication.

``install(window)`` adds *Label ▸ New Reading Session…*, *Continue Reading Session…* and
*Disagreement Queue…*. The part talks to the engine's :mod:`engine.reads` only; reads never
touch the project's current labels, adjudication does (source ``adjudication``). See
docs/reader_study.md.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QMenu

from affgui.reads._common import READ_ERRORS, blind_row
from affgui.reads.adjudication_window import AdjudicationWindow
from affgui.reads.new_session_dialog import NewReadingSessionDialog
from affgui.reads.reading_window import ReadingWindow
from engine.reads import ReadingSession, get_session, list_sessions, progress

__all__ = ["AdjudicationWindow", "NewReadingSessionDialog", "ReadingWindow", "ReadsController",
           "blind_row", "install"]


class ReadsController(QObject):
    """The Label menu's reader-study actions for ``window`` and the windows they open."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.reading: ReadingWindow | None = None
        self.adjudication: AdjudicationWindow | None = None
        self.dialog: NewReadingSessionDialog | None = None
        self.new_action = window.registry.action("reads.new")
        self.continue_action = window.registry.action("reads.continue")
        self.queue_action = window.registry.action("reads.queue")
        self.new_action.triggered.connect(self.new_session)
        self.continue_action.triggered.connect(self.choose_session)
        self.queue_action.triggered.connect(self.open_queue)
        menu = _label_menu(window)
        menu.addSeparator()
        menu.addActions([self.new_action, self.continue_action, self.queue_action])
        window.sigProjectChanged.connect(self.set_project)
        self.set_project(window.project)

    def set_project(self, project) -> None:
        for a in (self.new_action, self.continue_action, self.queue_action):
            a.setEnabled(project is not None)
        for w in (self.reading, self.adjudication, self.dialog):
            if w is not None:
                w.close()
                w.deleteLater()
        self.reading = self.adjudication = self.dialog = None

    def new_session(self) -> NewReadingSessionDialog | None:
        w = self.window
        if w.project is None:
            return None
        self.dialog = NewReadingSessionDialog(w.project, w.settings.reader, w.filter_bar.image_filter(), w)
        self.dialog.accepted.connect(lambda: self.open_session(self.dialog.created))
        self.dialog.open()
        return self.dialog

    def choose_session(self) -> ReadingWindow | None:
        w = self.window
        if w.project is None:
            return None
        sessions = [s for s in list_sessions(w.project) if s.source == "reader"]
        if not sessions:
            w.statusBar().showMessage("No reading session yet: Label > New Reading Session…", 5000)
            return None
        names = [f"{s.name} ({s.reader}, {s.mode}, {progress(w.project, s)[0]}/{s.n_images} read)"
                 for s in sessions]
        choice, ok = QInputDialog.getItem(w, "Continue Reading Session", "Session:", names, 0, False)
        if not ok:
            return None
        return self.open_session(sessions[names.index(choice)])

    def open_session(self, session: ReadingSession | str | None) -> ReadingWindow | None:
        """Open the reading window; a blind session hides the main window until it closes."""
        w = self.window
        if session is None or w.project is None:
            return None
        try:
            if isinstance(session, str):
                session = get_session(w.project, session)
            reading = ReadingWindow(w.project, session, registry=w.registry)
        except READ_ERRORS as exc:
            w.show_error("The reading session could not be opened", exc)
            return None
        if self.reading is not None:
            self.reading.close()
        self.reading = reading
        reading.sigClosed.connect(self._reading_closed)
        if session.blind:
            w.hide()  # its grid, badges, panels and docks show labels and predictions
        reading.show()
        reading.activateWindow()
        return reading

    def open_queue(self) -> AdjudicationWindow | None:
        w = self.window
        if w.project is None:
            return None
        if self.adjudication is not None:
            self.adjudication.close()
        self.adjudication = AdjudicationWindow(w.project, w.settings.reader, registry=w.registry)
        self.adjudication.sigAdjudicated.connect(lambda _done: w.reload_rows())
        self.adjudication.show()
        return self.adjudication

    def _reading_closed(self) -> None:
        if not self.window.isVisible():
            self.window.show()
        self.window.statusBar().showMessage("Reading session closed; its reads are saved", 4000)


def _label_menu(window) -> QMenu:
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == "Label":
            return action.menu()
    return window.menuBar().addMenu("&Label")


def install(window) -> ReadsController:
    return ReadsController(window)
