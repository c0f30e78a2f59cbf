"""Stopping workers skips a pid that now belongs to another user's process instead of raising."""

from __future__ import annotations

import os
import signal
import socket

from affgui.parts.experiments import workers
from affgui.parts.experiments.job_monitor import WorkerRow


def test_a_pid_reused_by_someone_else_is_skipped(monkeypatch):
    host = socket.gethostname()
    rows = [WorkerRow("w1", host, 111, "cpu", "busy", 0.0, True),
            WorkerRow("w2", host, 222, "cpu", "idle", 0.0, True)]
    sent = []

    def kill(pid, sig):
        if pid == 111:
            raise PermissionError(1, "Operation not permitted")
        sent.append((pid, sig))

    monkeypatch.setattr(os, "kill", kill)
    assert workers.stop_workers(rows) == [222]
    assert sent == [(222, signal.SIGTERM)]
