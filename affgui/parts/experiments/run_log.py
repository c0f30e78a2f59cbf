"""A job's log on demand: its run's events as text, ``error.txt`` when it failed, the Slurm log."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPlainTextEdit, QPushButton, QVBoxLayout
from shiboken6 import isValid

if TYPE_CHECKING:
    from affgui.parts.experiments.job_monitor import JobRow
    from affgui.tasks import TaskRunner
    from engine.store import Project

_SKIP = ("seq", "t", "type", "spec", "traceback")


def format_event(e: dict) -> str:
    """One event as a log line: time, type, then its payload (``log`` events: the message)."""
    stamp = time.strftime("%H:%M:%S", time.localtime(e.get("t", 0)))
    if e.get("type") == "log":
        body = str(e.get("message", ""))
    else:
        body = "  ".join(f"{k}={_short(v)}" for k, v in e.items() if k not in _SKIP)
    return f"{stamp}  {e.get('type', '?'):9} {body}"


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def read_log(run_dir: Path, slurm_log: str | None = None) -> str:
    """The run's events as text, its traceback (``error.txt``) if there is one, then ``slurm_log``."""
    from engine.runs import read_events

    events = read_events(run_dir / "events.jsonl")
    parts = ["\n".join(format_event(e) for e in events) if events else "(no events yet)"]
    for e in events:
        if e.get("type") == "failed" and e.get("traceback"):
            parts.append(e["traceback"].rstrip())
    error = run_dir / "error.txt"
    if error.is_file():
        parts.append("error.txt:\n" + error.read_text(encoding="utf-8", errors="replace").rstrip())
    if slurm_log is not None:
        parts.append("Slurm:\n" + slurm_log.rstrip())
    return "\n\n".join(parts)


def job_log(project: Project, job: JobRow) -> str:
    """:func:`read_log` of ``job``'s run folder, with the Slurm log of its last submission."""
    slurm = None
    if job.backend == "slurm":
        from engine.slurm import slurm_log

        try:
            slurm = slurm_log(project, job.id)
        except LookupError as exc:  # never submitted yet
            slurm = str(exc)
    return read_log(project.runs_dir / job.run_id, slurm)


class RunLogDialog(QDialog):
    """Shows :func:`job_log` of one job, read off the GUI thread; Refresh reads it again."""

    def __init__(self, project: Project, job: JobRow, tasks: TaskRunner, parent=None):
        super().__init__(parent)
        self.project = project
        self.job = job
        self.tasks = tasks
        self.setWindowTitle(f"Job {job.id} ({job.title}): {job.run_id}")
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlainText("Reading…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        refresh = QPushButton("Refresh")
        buttons.addButton(refresh, QDialogButtonBox.ButtonRole.ActionRole)
        refresh.clicked.connect(self.refresh)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(820, 480)
        self.loaded = False
        self.refresh()

    def refresh(self) -> None:
        project, job = self.project, self.job
        self.tasks.submit(lambda _p: job_log(project, job), done=self._show,
                          failed=lambda exc: self._show(f"Cannot read the log of job {job.id}: {exc}"))

    def _show(self, text: str) -> None:
        if not isValid(self.text):
            return  # closed (and deleted) while the log was read
        self.text.setPlainText(text)
        self.loaded = True
