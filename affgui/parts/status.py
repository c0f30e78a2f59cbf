"""Status bar extras: import errors on record and whether background work is running."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QLabel

from affgui import theme
from affgui.session import ProjectSession
from affgui.shell import Shell

POLL_MS = 400


class StatusExtras(QObject):
    """Two permanent status-bar labels kept current without blocking the GUI thread."""

    def __init__(self, session: ProjectSession, shell: Shell):
        super().__init__(session)
        self.session = session
        self.errors_label = QLabel()
        self.errors_label.setTextFormat(Qt.TextFormat.RichText)
        self.worker_label = QLabel()
        shell.add_status_widget(self.errors_label)
        shell.add_status_widget(self.worker_label)
        self.import_errors: int | None = None
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self.update_worker_state)
        self._timer.start()
        session.sigRowsChanged.connect(self.refresh_errors)
        session.sigProjectChanged.connect(lambda _p: self.refresh_errors())

    def refresh_errors(self, *_args) -> None:
        """Count the project's recorded import errors on a worker."""
        project = self.session.project
        if project is None:
            self._show_errors(None)
            return
        self.session.tasks.submit(lambda _progress: len(project.images.errors()),
                                 done=self._show_errors)

    def update_worker_state(self) -> None:
        busy = self.session.tasks.is_running()
        self.worker_label.setText("working…" if busy else "idle")
        self.worker_label.setStyleSheet(f"color: {theme.TEXT if busy else theme.TEXT_DIM};")

    def _show_errors(self, n: int | None) -> None:
        self.import_errors = n
        self.errors_label.setVisible(bool(n))
        if n:
            color = theme.LABEL_COLORS["uncertain"]
            self.errors_label.setText(f"<span style='color:{color}'>{n} import error"
                                      f"{'s' if n != 1 else ''}</span>")
