"""Watches queued explain jobs: one small state query a second, on a worker, while any is pending."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from affgui.parts.heatmaps import loading
from engine.jobs import TERMINAL_STATES

POLL_MS = 1000


class ExplainJobWatcher(QObject):
    """Says when a watched job ends; ``submit(fn, done, what, always)`` runs a read on a worker."""

    sigJobEnded = Signal(int, str, str, str, str)  # job id, experiment, method, state, error

    def __init__(self, submit: Callable, project: Callable[[], object], parent: QObject | None = None,
                 interval_ms: int = POLL_MS):
        super().__init__(parent)
        self._submit, self._project = submit, project
        self.jobs: dict[int, tuple[str, str]] = {}  # job id -> (experiment, method)
        self._polling = False
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll)

    def watch(self, job_id: int, experiment: str, method: str) -> None:
        self.jobs[int(job_id)] = (experiment, method)
        if not self._timer.isActive():
            self._timer.start()

    def clear(self) -> None:
        """Forget every job (another project); a read still running is dropped by its caller."""
        self.jobs.clear()
        self._timer.stop()
        self._polling = False

    def poll(self) -> None:
        project = self._project()
        if project is None or not self.jobs:
            self._timer.stop()
            return
        if self._polling:  # the last read has not come back yet
            return
        self._polling, ids = True, list(self.jobs)
        self._submit(lambda: loading.job_states(project, ids), self._on_states, "read the job states",
                     lambda: setattr(self, "_polling", False))

    def _on_states(self, states: dict[int, tuple[str, str]]) -> None:
        for job_id, (state, error) in states.items():
            key = self.jobs.get(job_id)
            if key is not None and state in TERMINAL_STATES:
                del self.jobs[job_id]
                self.sigJobEnded.emit(job_id, *key, state, error)
        if not self.jobs:
            self._timer.stop()
