"""Local worker processes: start them on demand, show them in the status bar, stop them.

Workers run in their own session (``engine.jobs.start_worker``), so they keep training
when the GUI closes; the GUI knows them from the ``workers`` table (the monitor's poll),
which also shows workers started by an earlier GUI or by ``affengine worker``.
Stopping sends SIGTERM: the worker ends its job at the next step and leaves it
``interrupted``, so the next worker resumes it from its checkpoint.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from affgui import theme
from affgui.parts.experiments.job_monitor import JobMonitor, WorkerRow

if TYPE_CHECKING:
    from affgui.tasks import TaskRunner

LOG_FOLDER = "logs"


def worker_devices() -> list[str]:
    """One device per visible GPU, else ``["cpu"]`` (asks ``nvidia-smi``: call off the GUI thread)."""
    from engine.jobs import visible_gpus

    return visible_gpus() or ["cpu"]


def launch_workers(project_path: Path, devices: list[str], extra: list[str] | None = None
                   ) -> list[subprocess.Popen]:
    """Start one worker per device, each logging to ``<project>/logs/worker-<device>-<time>.log``."""
    from engine.jobs import start_worker

    logs = Path(project_path) / LOG_FOLDER
    logs.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return [start_worker(project_path, device,
                         log_path=logs / f"worker-{device.replace(':', '')}-{stamp}.log", extra=extra)
            for device in devices]


def stop_workers(workers: list[WorkerRow], sig: int = signal.SIGTERM) -> list[int]:
    """Signal the live workers on this host; returns the pids signalled."""
    host, sent = socket.gethostname(), []
    for w in workers:
        if w.alive and w.host == host:
            try:
                os.kill(w.pid, sig)
                sent.append(w.pid)
            except (ProcessLookupError, PermissionError):  # gone, or the pid now is another user's
                pass
    return sent


class WorkerManager(QObject):
    """Starts and stops this host's workers for the monitored project; a status-bar label."""

    sigMessage = Signal(str)  # what happened, for the status bar
    sigStarted = Signal(list)  # pids of workers just started

    def __init__(self, monitor: JobMonitor, tasks: TaskRunner, parent: QObject | None = None,
                 extra_args: list[str] | None = None):
        super().__init__(parent)
        self.monitor = monitor
        self.tasks = tasks
        self.extra_args = list(extra_args or [])
        self.auto_start = True
        self.label = QLabel()
        self.label.setObjectName("workersLabel")
        self._procs: list[tuple[Path, subprocess.Popen]] = []  # started here, with their project
        self._starting = False
        self._told_background: object = None  # the project whose background workers were announced
        monitor.sigWorkers.connect(self._show)
        self._show([])

    # -- public -----------------------------------------------------------------
    def alive(self) -> list[WorkerRow]:
        return [w for w in self.monitor.workers if w.alive]

    def start(self, devices: list[str] | None = None) -> None:
        """Start workers (one per GPU, else one CPU worker) off the GUI thread."""
        project = self.monitor.project
        if project is None or self._starting:
            return
        self._starting = True
        path, extra = project.path, self.extra_args

        def work(_progress):
            return launch_workers(path, devices or worker_devices(), extra)

        self.tasks.submit(work, done=lambda procs: self._started(path, procs), failed=self._start_failed)

    def start_requested(self) -> bool:
        """Experiments > Start Workers: start them unless this host already runs some."""
        host = socket.gethostname()
        here = [w for w in self.alive() if w.host == host] or self._running_procs()
        if here:
            self.sigMessage.emit(f"{len(here)} worker(s) already running here; stop them first to "
                                 "start one per device afresh")
            return False
        self.start()
        return True

    def ensure_running(self) -> bool:
        """With auto-start on, start workers when none is alive; True if it started some."""
        if not self.auto_start or self.alive() or self._running_procs() or self._starting:
            return False
        self.start()
        return True

    def stop(self) -> list[int]:
        """SIGTERM every live worker of this project on this host; returns their pids."""
        pids = stop_workers(self.alive())
        for p in self._running_procs():  # started here but not yet registered in the table
            if p.pid not in pids:
                p.send_signal(signal.SIGTERM)
                pids.append(p.pid)
        self.sigMessage.emit(f"Stopping {len(pids)} worker(s): each job stops at its next step "
                             "and resumes when a worker starts again" if pids else "No worker running")
        self.monitor.poll_now()
        return pids

    def started_here(self) -> tuple[list[WorkerRow], list[subprocess.Popen]]:
        """Live workers this GUI started (registered rows), and started ones not registered yet."""
        host = socket.gethostname()
        mine = {p.pid: p for _path, p in self._procs if p.poll() is None}
        rows = [w for w in self.alive() if w.host == host and w.pid in mine]
        unregistered = [p for pid, p in mine.items() if pid not in {w.pid for w in rows}]
        return rows, unregistered

    def stop_for_quit(self, stop_busy: bool, queued_work: bool = False) -> tuple[list[int], list[int]]:
        """On quit: SIGTERM the idle workers this GUI started (and the busy ones if ``stop_busy``).

        Workers started by an earlier GUI or by ``affengine worker`` are left alone. A busy worker
        that gets SIGTERM ends its job at the next step as ``interrupted``, so it resumes from its
        checkpoint when a worker runs again. With ``queued_work`` (local jobs still queued) a
        worker between two jobs is not idle: it claims the next one in a moment, so it is kept
        like a busy one. Returns (pids stopped, pids left running).
        """
        rows, unregistered = self.started_here()
        working = [w for w in rows if w.state == "busy" or queued_work]
        stop = [w for w in rows if w not in working or stop_busy]
        keep = [w.pid for w in working if not stop_busy]
        pids = stop_workers(stop)
        for p in unregistered:  # started a moment ago, no job claimed yet
            p.send_signal(signal.SIGTERM)
            pids.append(p.pid)
        return pids, keep

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Wait for the processes started here to exit (tests, shutdown); True when all did."""
        deadline = time.monotonic() + timeout_s
        for _path, p in self._procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        return True

    # -- internals ----------------------------------------------------------------
    def _running_procs(self) -> list[subprocess.Popen]:
        """Workers started here for the open project that are still running (reaps the others)."""
        self._procs = [(path, p) for path, p in self._procs if p.poll() is None]
        project = self.monitor.project
        return [p for path, p in self._procs if project is not None and path == project.path]

    def _started(self, path: Path, procs: list[subprocess.Popen]) -> None:
        self._starting = False
        self._procs += [(path, p) for p in procs]
        self.sigStarted.emit([p.pid for p in procs])
        self.sigMessage.emit(f"Started {len(procs)} worker(s)")
        self.monitor.poll_now()

    def _start_failed(self, exc: BaseException) -> None:
        self._starting = False
        self.sigMessage.emit(f"Could not start a worker: {exc}")

    def _show(self, workers: list[WorkerRow]) -> None:
        self._running_procs()  # reap exited children
        alive = [w for w in workers if w.alive]
        busy = sum(w.state == "busy" for w in alive)
        project = self.monitor.project
        mine = {p.pid for _path, p in self._procs}
        host = socket.gethostname()
        background = [w for w in alive if not (w.host == host and w.pid in mine)]
        if project is None:
            text = ""
        elif not alive:
            text = "Workers: none"
        else:
            text = f"Workers: {len(alive)} running" + (f" ({busy} busy)" if busy else "")
            if background:
                text += f", {len(background)} in the background"
        if project is not None and background and self._told_background is not project:
            self._told_background = project  # once per opened project: they outlived a GUI or a shell
            self.sigMessage.emit(
                f"{len(background)} worker(s) running in the background (started earlier or from "
                "the command line): " + ", ".join(f"{w.device} pid {w.pid} {w.state}"
                                                  for w in background[:4])
                + ("…" if len(background) > 4 else "") + "; Experiments > Stop Workers stops them")
        self.label.setText(text)
        self.label.setToolTip("\n".join(f"{w.device} on {w.host} (pid {w.pid}): {w.state}"
                                        for w in alive) or "No worker is running for this project")
        self.label.setStyleSheet(f"color: {theme.TEXT if alive else theme.TEXT_DIM};")

