"""``WorkerTable``: the only writer of the ``workers`` rows (who runs where, and whether it lives)."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from engine.store import utc_now

if TYPE_CHECKING:
    from engine.store import Project

# idle, busy: alive; stopped: left cleanly; killed: by `jobs cancel`; dead: found gone
WORKER_STATES = ("idle", "busy", "stopped", "killed", "dead")
LIVE = ("idle", "busy")


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    device: str
    started_at: str
    heartbeat_at: float
    state: str


def started_after(pid: int, when: float) -> bool:
    """Whether process ``pid`` started after ``when`` (so it is not the worker that registered then).

    Read from ``/proc``; False where that cannot tell (no such process, not Linux).
    """
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return False
    return boot + ticks / os.sysconf("SC_CLK_TCK") > when + 2.0  # btime has whole seconds


def _pid_gone(pid: int, started_at: str) -> bool:
    """A worker on this host whose process has ended (or whose pid now belongs to another)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # someone else's process: alive as far as we can tell
    try:
        return started_after(pid, datetime.fromisoformat(started_at).timestamp())
    except ValueError:
        return False


class WorkerTable:
    """The ``workers`` table of a project."""

    def __init__(self, project: Project):
        self._p = project

    def register(self, worker_id: str, device: str) -> None:
        with self._p.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO workers(id, host, pid, device, started_at, heartbeat_at, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'idle')",
                (worker_id, socket.gethostname(), os.getpid(), device, utc_now(), time.time()))

    def beat(self, worker_id: str, state: str) -> None:
        self.set_state(worker_id, state)

    def set_state(self, worker_id: str, state: str) -> None:
        if state not in WORKER_STATES:
            raise ValueError(f"unknown worker state {state!r}")
        with self._p.transaction() as conn:
            conn.execute("UPDATE workers SET state = ?, heartbeat_at = ? WHERE id = ?",
                         (state, time.time(), worker_id))

    def get(self, worker_id: str | None) -> WorkerRow | None:
        rows = self._p.query("SELECT * FROM workers WHERE id = ?", (worker_id,))
        return WorkerRow(**dict(rows[0])) if rows else None

    def list(self) -> list[WorkerRow]:
        return [WorkerRow(**dict(r)) for r in self._p.query("SELECT * FROM workers ORDER BY started_at")]

    def reap_dead(self, stale_after_s: float) -> list[str]:
        """Mark live-looking workers that are gone as ``dead``; returns their ids.

        Gone: on this host with no process behind the pid (or a newer process under it), or
        silent for ``stale_after_s`` on any host.
        """
        host, cutoff = socket.gethostname(), time.time() - stale_after_s
        dead = [w.id for w in self.list() if w.state in LIVE and (
            w.heartbeat_at < cutoff or (w.host == host and _pid_gone(w.pid, w.started_at)))]
        if dead:
            with self._p.transaction() as conn:
                conn.executemany("UPDATE workers SET state = 'dead' WHERE id = ? "
                                 "AND state IN ('idle', 'busy')",
                                 [(d,) for d in dead])
        return dead
