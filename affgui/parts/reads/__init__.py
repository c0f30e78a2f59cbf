"""Reader studies in the GUI: reading sessions (blind or open), the disagreement queue, adjudication.

``ReadsController(session, shell)`` adds *Label ▸ New Reading Session…*, *Continue Reading Session…* and
*Disagreement Queue…*. The part talks to the engine's :mod:`engine.reads` only; reads never
touch the project's current labels, adjudication does (source ``adjudication``). See
docs/reader_study.md.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

from affgui.parts.reads._common import READ_ERRORS, blind_row
from affgui.parts.reads.adjudication_window import AdjudicationWindow
from affgui.parts.reads.new_session_dialog import NewReadingSessionDialog
from affgui.parts.reads.reading_window import ReadingWindow
from affgui.session import ProjectSession
from affgui.shell import Shell
from engine.reads import ReadingSession, get_session, list_sessions, progress

__all__ = ["AdjudicationWindow", "NewReadingSessionDialog", "ReadingWindow", "ReadsController",
           "blind_row"]


class ReadsController(QObject):
    """The Label menu's reader-study actions and the windows they open."""

    def __init__(self, session: ProjectSession, shell: Shell):
        super().__init__(session)
        self.session, self.shell = session, shell
        registry = shell.registry
        self.reading: ReadingWindow | None = None
        self.adjudication: AdjudicationWindow | None = None
        self.dialog: NewReadingSessionDialog | None = None
        self.new_action = registry.action("reads.new")
        self.continue_action = registry.action("reads.continue")
        self.queue_action = registry.action("reads.queue")
        self.new_action.triggered.connect(self.new_session)
        self.continue_action.triggered.connect(self.choose_session)
        self.queue_action.triggered.connect(self.open_queue)
        menu = shell.add_menu("label", "&Label")
        menu.addSeparator()
        menu.addActions([self.new_action, self.continue_action, self.queue_action])
        session.sigProjectChanged.connect(self.set_project)
        self.set_project(session.project)

    def set_project(self, project) -> None:
        for a in (self.new_action, self.continue_action, self.queue_action):
            a.setEnabled(project is not None)
        for w in (self.reading, self.adjudication, self.dialog):
            if w is not None:
                w.close()
                w.deleteLater()
        self.reading = self.adjudication = self.dialog = None

    def new_session(self) -> NewReadingSessionDialog | None:
        s = self.session
        if s.project is None:
            return None
        self.dialog = NewReadingSessionDialog(s.project, s.settings.reader, s.listing.image_filter,
                                              self.shell.dialog_parent())
        self.dialog.accepted.connect(lambda: self.open_session(self.dialog.created))
        self.dialog.open()
        return self.dialog

    def choose_session(self) -> ReadingWindow | None:
        project = self.session.project
        if project is None:
            return None
        sessions = [s for s in list_sessions(project) if s.source == "reader"]
        if not sessions:
            self.shell.show_message("No reading session yet: Label > New Reading Session…", 5000)
            return None
        names = [f"{s.name} ({s.reader}, {s.mode}, {progress(project, s)[0]}/{s.n_images} read)"
                 for s in sessions]
        choice, ok = QInputDialog.getItem(self.shell.dialog_parent(), "Continue Reading Session",
                                          "Session:", names, 0, False)
        if not ok:
            return None
        return self.open_session(sessions[names.index(choice)])

    def open_session(self, session: ReadingSession | str | None) -> ReadingWindow | None:
        """Open the reading window; a blind session hides the main window until it closes."""
        project, shell = self.session.project, self.shell
        if session is None or project is None:
            return None
        try:
            if isinstance(session, str):
                session = get_session(project, session)
            reading = ReadingWindow(project, session, registry=shell.registry)
        except READ_ERRORS as exc:
            shell.show_error("The reading session could not be opened", exc)
            return None
        if self.reading is not None:
            self.reading.close()
        self.reading = reading
        reading.sigClosed.connect(self.reading_closed)
        if session.blind:
            shell.set_window_visible(False)  # its grid, badges, panels and docks show labels and predictions
        reading.show()
        reading.activateWindow()
        return reading

    def open_queue(self) -> AdjudicationWindow | None:
        s = self.session
        if s.project is None:
            return None
        if self.adjudication is not None:
            self.adjudication.close()
        self.adjudication = AdjudicationWindow(s.project, s.settings.reader, registry=self.shell.registry)
        self.adjudication.sigAdjudicated.connect(lambda _done: s.reload_rows())
        self.adjudication.show()
        return self.adjudication

    def reading_closed(self) -> None:
        if not self.shell.window_visible():
            self.shell.set_window_visible(True)
        self.shell.show_message("Reading session closed; its reads are saved", 4000)

