"""Feeds the "Final models" tab: lists final models, runs external evaluations, queues screening.

Reading (final models, provenance, stored evaluations, the cross-validation figures) runs on
the Results view's :class:`TaskRunner`. An external evaluation is ``affengine evaluate PROJECT
-e NAMES --on FOLDER`` in a :class:`QProcess`, as a user would type it, so the GUI process never
loads torch; what it would refuse at once (a folder that is not a project, no final model, no
labelled image there) is checked first on a worker and said in one line. Screening queues an
engine ``predict`` job (``engine.final.submit_predict``) that local workers run like any other
job; the window starts a worker and, when the job finished, re-lists the browser.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QProcess, Signal, Slot
from PySide6.QtWidgets import QFileDialog

from affgui.parts.results._final import (
    FinalModelsData,
    check_external,
    final_models_data,
    first_line,
    queue_screening,
)
from affgui.parts.results._final_page import FinalModelsWidget
from affgui.tasks import Cancelled, TaskRunner
from engine.jobs import engine_command

if TYPE_CHECKING:
    from collections.abc import Callable

    from affgui.session import ProjectSession

WRITTEN = re.compile(r"evaluation written to (.+?)\s*$", re.MULTILINE)
ENGINE_ERROR = "affengine: error: "
ENDED = ("finished", "failed", "cancelled")


def _error_line(stderr: str, code: int) -> str:
    """The engine's one-line error (``affengine: error: ...``), else its last line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith(ENGINE_ERROR):
            return line[len(ENGINE_ERROR):]
    return lines[-1] if lines else f"affengine evaluate exited with code {code}"


class FinalModelsController(QObject):
    """The tab's worker-side: one listing, one evaluation process and the queued screening jobs."""

    sigShown = Signal(object)  # the FinalModelsData now on screen
    sigEvaluationFinished = Signal(str)  # the new evaluation folder
    sigEvaluationFailed = Signal(str)  # one line
    sigScreeningQueued = Signal(int)  # job id of the predict job just queued
    sigScreeningFinished = Signal(int)  # a predict job queued here finished: its predictions are stored

    def __init__(self, session: ProjectSession, widget: FinalModelsWidget, tasks: TaskRunner,
                 level: Callable[[], str], how: Callable[[], str]):
        super().__init__(session)
        self.session, self.widget, self.tasks = session, widget, tasks
        self._level, self._how = level, how
        self.data: FinalModelsData | None = None
        self._proc: QProcess | None = None
        self._stderr = ""
        self._cancelled = False
        self.pending: set[int] = set()  # predict jobs queued here, not yet ended
        self._key = ("final-models", id(self))
        widget.sigAddExternal.connect(self.add_external)
        widget.sigScreen.connect(self.screen)
        widget.sigCancel.connect(self.cancel)

    # -- listing ---------------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        project = self.session.project
        if project is None:
            self.tasks.supersede(self._key)
            self.data = None
            self.widget.clear()
            return
        level, how = self._level(), self._how()

        def done(data: FinalModelsData) -> None:
            if project is self.session.project:
                self.data = data
                self.widget.show_data(data)
                if data.notes:
                    self.widget.set_message("\n".join(data.notes))
                self.sigShown.emit(data)

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, Cancelled) and project is self.session.project:
                self.widget.set_message(f"Cannot list the final models: {first_line(exc)}")

        self.tasks.submit(lambda _progress: final_models_data(project, level, how), done=done,
                          failed=failed, key=self._key)

    def on_project(self, project) -> None:
        """Another project (or none): the old one's evaluation stops; its listing follows the
        experiments' listing (``refresh``)."""
        self.cancel()
        self.pending.clear()
        self.widget.set_message("")
        if project is None:
            self.refresh()

    # -- external evaluation -------------------------------------------------------------------
    @Slot()
    def add_external(self, folder: str | None = None) -> None:
        """Evaluate the selected experiments' final models (all, when none is selected) on ``folder``.

        Without ``folder`` a folder dialog asks for it.
        """
        project = self.session.project
        if project is None or self._proc is not None:
            return
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.widget, "External project (another .affproj "
                                                                   "folder)", str(project.path.parent))
            if not folder:
                return
        names = list(dict.fromkeys(f.experiment for f in self.widget.selected()))
        self.widget.set_running(True)
        self.widget.set_message(f"Checking {folder}…")

        def done(checked: list[str]) -> None:
            if project is self.session.project:
                self._start(project.path, checked, folder)
            else:
                self.widget.set_running(False)

        def failed(exc: BaseException) -> None:
            self.widget.set_running(False)
            if not isinstance(exc, Cancelled):
                self._fail(first_line(exc))

        self.tasks.submit(lambda _progress: check_external(project, folder, names), done=done, failed=failed)

    def _start(self, project_path, names: list[str], folder: str) -> None:
        cmd = engine_command(["evaluate", str(project_path), "-e", *names, "--on", str(folder),
                              "--level", self._level(), "--patient-score", self._how(), "--device", "auto"])
        proc = QProcess(self)
        proc.setProgram(cmd[0])
        proc.setArguments(cmd[1:])
        proc.readyReadStandardError.connect(self._on_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        self._proc, self._stderr, self._cancelled = proc, "", False
        self.widget.set_message(f"Evaluating {', '.join(names)} on {folder} (affengine evaluate)…")
        proc.start()

    @Slot()
    def cancel(self) -> None:
        """Kill the running evaluation (the engine writes its folder only at the end)."""
        if self._proc is not None:
            self._cancelled = True
            self._proc.kill()
            self._proc.waitForFinished(5_000)

    def is_running(self) -> bool:
        return self._proc is not None

    def wait(self, timeout_ms: int = 60_000) -> bool:
        return self._proc is None or self._proc.waitForFinished(timeout_ms)

    def _on_stderr(self) -> None:
        if self._proc is None:
            return
        text = bytes(self._proc.readAllStandardError().data()).decode("utf-8", "replace")
        self._stderr += text
        last = [ln for ln in text.splitlines() if ln.strip()]
        if last and not last[-1].startswith(ENGINE_ERROR):
            self.widget.set_message(last[-1].strip())

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._proc is not None:
            program = self._proc.program()
            self._end()
            self._fail(f"could not start the engine ({program})")

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._proc is None:
            return
        self._stderr += bytes(self._proc.readAllStandardError().data()).decode("utf-8", "replace")
        cancelled, stderr = self._cancelled, self._stderr
        self._end()
        if cancelled:
            self._fail("external evaluation cancelled")
            return
        found = WRITTEN.findall(stderr)
        if status != QProcess.ExitStatus.NormalExit or code != 0 or not found:
            self._fail(_error_line(stderr, code))
            return
        page = found[-1]
        self.widget.set_message(f"External evaluation written to {page}")
        self.refresh()
        self.sigEvaluationFinished.emit(str(Path(page).parent))

    def _end(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.deleteLater()
        self.widget.set_running(False)

    def _fail(self, message: str) -> None:
        self.widget.set_message(f"No external evaluation: {message}")
        self.sigEvaluationFailed.emit(message)

    # -- screening -----------------------------------------------------------------------------
    @Slot()
    def screen(self) -> None:
        """Queue a predict job for the unlabelled images with the selected final model's experiment."""
        project = self.session.project
        chosen = {f.experiment for f in self.widget.selected()}
        if project is None or len(chosen) != 1:
            self.widget.set_message("Select the final model of one experiment to screen with.")
            return
        (name,) = chosen

        def done(result: tuple[int, int]) -> None:
            job_id, n = result
            if project is not self.session.project:
                return
            self.pending.add(job_id)
            self.widget.set_message(f"Queued predict job {job_id}: {name}'s final model scores {n} "
                                    "unlabelled image(s); the browser lists them when it finished "
                                    "(Show: Unlabelled, predictions: likely AFF, not yet labelled)")
            self.sigScreeningQueued.emit(job_id)

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, Cancelled):
                self.widget.set_message(f"No screening: {first_line(exc)}")

        self.tasks.submit(lambda _progress: queue_screening(project, name), done=done, failed=failed)

    @Slot(list)
    def on_jobs(self, jobs: list) -> None:
        """The job monitor's latest poll: announce the predict jobs queued here that ended."""
        for job in jobs:
            if job.id in self.pending and job.state in ENDED:
                self.pending.discard(job.id)
                if job.state == "finished":
                    self.widget.set_message(f"Predict job {job.id} finished: P(AFF) stored for its images")
                    self.sigScreeningFinished.emit(job.id)
                else:
                    self.widget.set_message(f"Predict job {job.id} {job.state}"
                                            + (f": {first_line(Exception(job.error))}" if job.error else ""))
