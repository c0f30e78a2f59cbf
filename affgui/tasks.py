"""Run slow work (opening, listing, importing, building the demo) off the GUI thread.

A task is a plain function ``fn(progress)``; it reports with
``progress(stage, done, total)`` from its own thread. Reports reach the GUI
thread as queued signals, at most every :data:`PROGRESS_INTERVAL_S` (plus the
last one), so a fast loop cannot flood the event queue. Cancelling is
cooperative: the next ``progress`` call raises :class:`Cancelled` inside the
task.

``submit(..., key=k)`` supersedes the task still running under the same key ``k``: it is
cancelled, and its callbacks never run, so a slow read of the image (or project) shown a
moment ago cannot overwrite the current one. ``supersede(k)`` drops it without a new task.
``supersede_all()`` drops every task of the runner at once, keyed or not: a part that reads
one project on its own runner calls it when the project changes, so nothing read from the
old project reaches the new one's UI. These replace the per-part generation counters.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

PROGRESS_INTERVAL_S = 0.05
Progress = Callable[[str, int, int], None]


class Cancelled(Exception):
    """Raised inside a task by ``progress`` once the task was cancelled."""


class _TaskSignals(QObject):
    sigProgress = Signal(int, str, int, int)
    sigFinished = Signal(int, object)
    sigFailed = Signal(int, object)


class _Runnable(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[Progress], Any], signals: _TaskSignals,
                 report: bool = True):
        super().__init__()
        self.task_id = task_id
        self.fn = fn
        self.signals = signals  # a Python reference keeps the emitter alive while we run
        self.report = report  # False: nobody listens, ``progress`` only checks for a cancel
        self.cancelled = threading.Event()
        self._last_emit = 0.0

    def progress(self, stage: str, done: int, total: int) -> None:
        if self.cancelled.is_set():
            raise Cancelled()
        if not self.report:
            return
        now = time.monotonic()
        if done >= total or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self.signals.sigProgress.emit(self.task_id, stage, int(done), int(total))

    def run(self) -> None:
        try:
            result = self.fn(self.progress)
        except BaseException as exc:  # reported to the GUI thread, never lost in a thread
            self.signals.sigFailed.emit(self.task_id, exc)
        else:
            self.signals.sigFinished.emit(self.task_id, result)


@dataclass
class _Callbacks:
    done: Callable[[Any], None] | None
    failed: Callable[[BaseException], None] | None
    progress: Callable[[str, int, int], None] | None


class TaskRunner(QObject):
    """Runs tasks on its own thread pool and calls back on the GUI thread."""

    def __init__(self, parent: QObject | None = None, max_threads: int = 2):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._signals = _TaskSignals()
        self._signals.sigProgress.connect(self._on_progress)
        self._signals.sigFinished.connect(self._on_finished)
        self._signals.sigFailed.connect(self._on_failed)
        self._ids = itertools.count(1)
        self._running: dict[int, tuple[_Runnable, _Callbacks]] = {}
        self._keys: dict[Hashable, int] = {}  # key -> its newest task

    def submit(
        self,
        fn: Callable[[Progress], Any],
        done: Callable[[Any], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        key: Hashable | None = None,
        priority: int = 0,
    ) -> int:
        """Start ``fn(progress)`` on the pool; returns a task id for :meth:`cancel`.

        With ``key``, an older task of the same key is superseded (see :meth:`supersede`).
        Tasks still waiting for a thread start in order of ``priority``, highest first (the
        thumbnail grid loads the rows now on screen before those scrolled past).
        """
        if key is not None:
            self.supersede(key)
        task_id = next(self._ids)
        runnable = _Runnable(task_id, fn, self._signals, report=progress is not None)
        runnable.setAutoDelete(False)  # Python owns it, kept in _running until reported
        self._running[task_id] = (runnable, _Callbacks(done, failed, progress))
        if key is not None:
            self._keys[key] = task_id
        self._pool.start(runnable, priority)
        return task_id

    def supersede(self, key: Hashable) -> None:
        """Cancel the task running under ``key``, if any; none of its callbacks will run."""
        task_id = self._keys.pop(key, None)
        entry = self._running.get(task_id) if task_id is not None else None
        if entry is not None:
            entry[0].cancelled.set()
            self._running[task_id] = (entry[0], _Callbacks(None, _ignore, None))

    def supersede_all(self) -> None:
        """Cancel every task of this runner, keyed or not; none of their callbacks will run.

        For a part whose runner reads one project (the heatmap window, the thumbnail loader):
        on a project change, a result of the old project must never reach the UI, whichever
        request it answers. Tasks submitted afterwards run as usual.
        """
        for task_id, (runnable, _) in list(self._running.items()):
            runnable.cancelled.set()
            self._running[task_id] = (runnable, _Callbacks(None, _ignore, None))
        self._keys.clear()

    def current(self, key: Hashable) -> int | None:
        """The id of the task running under ``key`` (``None``: none)."""
        return self._keys.get(key)

    def cancel(self, task_id: int | None = None) -> None:
        """Ask one task (or, with ``None``, every task) to stop at its next progress report."""
        for tid, (runnable, _) in self._running.items():
            if task_id is None or tid == task_id:
                runnable.cancelled.set()

    def is_running(self, task_id: int | None = None) -> bool:
        return bool(self._running) if task_id is None else task_id in self._running

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every task has returned (their callbacks are dropped if not yet run)."""
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything, wait for the threads and forget pending callbacks."""
        self.cancel()
        ok = self.wait(timeout_ms)
        if ok:
            self._running.clear()
            self._keys.clear()
        return ok

    def _forget(self, task_id: int) -> tuple[_Runnable, _Callbacks] | None:
        entry = self._running.pop(task_id, None)
        for key in [k for k, tid in self._keys.items() if tid == task_id]:
            del self._keys[key]
        return entry

    # -- GUI thread ---------------------------------------------------------------
    @Slot(int, str, int, int)
    def _on_progress(self, task_id: int, stage: str, done: int, total: int) -> None:
        entry = self._running.get(task_id)
        if entry and entry[1].progress and not entry[0].cancelled.is_set():
            entry[1].progress(stage, done, total)

    @Slot(int, object)
    def _on_finished(self, task_id: int, result: object) -> None:
        entry = self._forget(task_id)
        if entry and entry[1].done:
            entry[1].done(result)

    @Slot(int, object)
    def _on_failed(self, task_id: int, exc: object) -> None:
        entry = self._forget(task_id)
        if entry is None:
            return
        if entry[1].failed:
            entry[1].failed(exc)
        elif not isinstance(exc, Cancelled):
            raise exc


def _ignore(_exc: BaseException) -> None:
    """The ``failed`` of a superseded task: its end, however it came, is nobody's news."""
