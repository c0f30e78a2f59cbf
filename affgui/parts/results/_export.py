"""Write the study report in an ``affengine report`` subprocess, so the GUI process never loads it.

The engine writes into a private ``.writing-*`` folder under the project's ``reports/``; only
a finished report is moved next to the others, so a cancelled or failed export leaves nothing
half-written behind.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from engine.jobs import engine_command

WRITTEN = re.compile(r"report written to (.+?)\s*$", re.MULTILINE)
TAIL_CHARS = 2000


def report_command(project_path: str | Path, names: Sequence[str], level: str, out_dir: str | Path,
                   reference: str | None = None, how: str = "mean", n_boot: int = 2000,
                   seed: int = 0, margin: float | None = None) -> list[str]:
    """``affengine report`` for ``names`` at ``level`` writing under ``out_dir``, with the page's settings."""
    args = ["report", str(project_path), "--experiments", *names, "--level", level, "--out", str(out_dir),
            "--patient-score", how, "--n-boot", str(n_boot), "--seed", str(seed)]
    if reference is not None:
        args += ["--reference", reference]
    if margin is not None:
        args += ["--margin", repr(float(margin))]
    return engine_command(args)


class ReportExport(QObject):
    """One report export at a time; ``sigFinished(html_path)`` or ``sigFailed(message)`` at the end."""

    sigFinished = Signal(str)
    sigFailed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._proc: QProcess | None = None
        self._staging: Path | None = None
        self._reports: Path | None = None
        self._cancelled = False

    def is_running(self) -> bool:
        return self._proc is not None

    def start(self, project_path: str | Path, reports_dir: str | Path, names: Sequence[str], level: str,
              reference: str | None = None, how: str = "mean", n_boot: int = 2000, seed: int = 0,
              margin: float | None = None) -> None:
        if self._proc is not None:
            raise RuntimeError("a report is being written already")
        if not names:
            raise ValueError("check at least one complete experiment to report on")
        self._reports = Path(reports_dir)
        self._reports.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=self._reports))
        self._cancelled = False
        cmd = report_command(project_path, names, level, self._staging, reference, how, n_boot, seed, margin)
        proc = QProcess(self)
        proc.setProgram(cmd[0])
        proc.setArguments(cmd[1:])
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        self._proc = proc
        proc.start()

    def cancel(self) -> None:
        """Kill the running export (and wait the few ms it takes to end); nothing is kept."""
        if self._proc is not None:
            self._cancelled = True
            self._proc.kill()
            self._proc.waitForFinished(5_000)  # runs _on_finished, which removes the staging folder

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the running export has ended (for closing and tests)."""
        return self._proc is None or self._proc.waitForFinished(timeout_ms)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._proc is not None:
            program = self._proc.program()
            self._end()
            self.sigFailed.emit(f"could not start the report writer ({program})")

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._proc is None:
            return
        err = bytes(self._proc.readAllStandardError().data()).decode("utf-8", "replace")
        ok = status == QProcess.ExitStatus.NormalExit and code == 0
        if self._cancelled:
            self._end()
            self.sigFailed.emit("report export cancelled")
            return
        if not ok:
            self._end()
            self.sigFailed.emit(err.strip()[-TAIL_CHARS:] or f"the report writer exited with code {code}")
            return
        try:
            html = self._publish(err)
        except (OSError, ValueError) as exc:
            self._end()
            self.sigFailed.emit(str(exc))
            return
        self._end()
        self.sigFinished.emit(str(html))

    def _publish(self, stderr: str) -> Path:
        """Move the finished report folder out of the staging folder; returns its ``report.html``."""
        found = WRITTEN.findall(stderr)
        if not found:
            raise ValueError("the report writer did not say where it wrote the report:\n"
                             + stderr[-TAIL_CHARS:])
        html = Path(found[-1])
        folder = html.parent
        if folder.parent != self._staging or not html.is_file():
            raise ValueError(f"the report writer wrote {html}, not a report under {self._staging}")
        dest = self._reports / folder.name
        n = 1
        while dest.exists():
            dest = self._reports / f"{folder.name}-{n}"
            n += 1
        folder.rename(dest)
        return dest / html.name

    def _end(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.deleteLater()
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
