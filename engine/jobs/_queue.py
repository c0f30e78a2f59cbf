"""The job queue in ``project.sqlite``: submit, claim atomically, heartbeat, finish.

States: ``queued`` -> ``running`` -> ``finished`` | ``failed`` | ``cancelled``;
a running job whose heartbeat stops becomes ``interrupted`` and is claimed
again (resuming from its last checkpoint) like a queued one.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.store import utc_now

if TYPE_CHECKING:
    from engine.store import Project

STATES = ("queued", "running", "interrupted", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running", "interrupted")
# A job in one of these states never changes again (the one list; the GUI imports it).
TERMINAL_STATES = ("finished", "failed", "cancelled")
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0


@dataclass(frozen=True)
class Job:
    id: int
    experiment_id: int | None
    kind: str
    fold: int | None
    spec: dict
    run_id: str
    state: str
    priority: int
    attempts: int
    worker: str | None
    cancel_requested: bool
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    heartbeat_at: float | None
    backend: str = "local"
    repeat: int | None = None  # repeated cross-validation (issue 13); None for older and non-fold jobs
    seed: int | None = None

    @property
    def label(self) -> str:
        """``r<repeat>f<fold>s<seed>`` for a fold's job, ``""`` for a job outside the folds."""
        from engine.runs import run_label

        return run_label(self.repeat, self.fold, self.seed)


BACKENDS = ("local", "slurm")


def _job(row) -> Job:
    d = dict(row)
    d["spec"] = json.loads(d["spec"])
    d["cancel_requested"] = bool(d["cancel_requested"])
    return Job(**d)


def new_run_id(kind: str, label: str = "") -> str:
    """``<time>-<kind>[-<label>]-<random>``; ``label`` is a run's ``r<repeat>f<fold>s<seed>``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{label + '-' if label else ''}{uuid.uuid4().hex[:6]}"


class JobQueue:
    """The ``jobs`` table of a :class:`~engine.store.Project`."""

    def __init__(self, project: Project):
        self._p = project

    def submit(self, kind: str, spec: dict, *, experiment_id: int | None = None,
               fold: int | None = None, priority: int = 0, backend: str = "local", conn=None,
               repeat: int | None = None, seed: int | None = None) -> int:
        """Queue a job; ``spec`` must be JSON-serialisable. Returns the job id.

        ``backend`` says where it runs: ``local`` (claimed by a worker) or ``slurm``.
        ``repeat`` and ``seed`` name a fold's run (``r<repeat>f<fold>s<seed>``, also in its run id).
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (use one of {', '.join(BACKENDS)})")
        from engine.runs import run_label

        sql = ("INSERT INTO jobs(experiment_id, kind, fold, spec, run_id, priority, created_at, backend, "
               "repeat, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        label = run_label(repeat, fold, seed) if (repeat is not None or seed is not None) else ""
        params = (experiment_id, kind, fold, json.dumps(spec, sort_keys=True), new_run_id(kind, label),
                  priority, utc_now(), backend, repeat, seed)
        if conn is not None:
            return conn.execute(sql, params).lastrowid
        with self._p.transaction() as c:
            return c.execute(sql, params).lastrowid

    def get(self, job_id: int) -> Job:
        rows = self._p.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise KeyError(f"no job with id {job_id}")
        return _job(rows[0])

    def list(self, state: str | None = None, experiment_id: int | None = None,
             backend: str | None = None) -> list[Job]:
        sql, params = "SELECT * FROM jobs WHERE 1 = 1", []
        if backend is not None:
            sql += " AND backend = ?"
            params.append(backend)
        if state is not None:
            sql += " AND state = ?"
            params.append(state)
        if experiment_id is not None:
            sql += " AND experiment_id = ?"
            params.append(experiment_id)
        return [_job(r) for r in self._p.query(sql + " ORDER BY id", params)]

    def claim(self, worker: str, kinds: tuple[str, ...] | None = None,
              experiment_id: int | None = None) -> Job | None:
        """Take the next queued or interrupted job for ``worker``; no two workers get the same job."""
        with self._p.transaction() as conn:  # BEGIN IMMEDIATE: one claimer at a time
            sql = ("SELECT id FROM jobs WHERE state IN ('queued', 'interrupted') AND cancel_requested = 0 "
                   "AND backend = 'local'")
            params: list = []
            if kinds:
                sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
                params += list(kinds)
            if experiment_id is not None:
                sql += " AND experiment_id = ?"
                params.append(experiment_id)
            row = conn.execute(sql + " ORDER BY priority DESC, id LIMIT 1", params).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET state = 'running', worker = ?, attempts = attempts + 1, "
                "started_at = COALESCE(started_at, ?), heartbeat_at = ?, error = NULL WHERE id = ?",
                (worker, utc_now(), time.time(), row[0]),
            )
        return self.get(row[0])

    def heartbeat(self, job_id: int, worker: str) -> bool:
        """Record that ``worker`` is alive on the job; returns True when a cancel was requested."""
        with self._p.transaction() as conn:
            conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND worker = ?",
                         (time.time(), job_id, worker))
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def finish(self, job_id: int, state: str, error: str | None = None) -> None:
        if state not in ("finished", "failed", "cancelled", "interrupted"):
            raise ValueError(f"cannot finish a job as {state!r}")
        with self._p.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, error = ?, finished_at = ?, heartbeat_at = NULL "
                "WHERE id = ?",
                (state, error, utc_now() if state != "interrupted" else None, job_id),
            )

    def request_cancel(self, job_id: int) -> str:
        """Cancel a job: a waiting one at once, a running one through the flag its worker polls.

        Returns the job's state afterwards.
        """
        with self._p.transaction() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(f"no job with id {job_id}")
            if row[0] in ("queued", "interrupted"):
                conn.execute("UPDATE jobs SET state = 'cancelled', cancel_requested = 1, "
                             "finished_at = ? WHERE id = ?", (utc_now(), job_id))
                return "cancelled"
            if row[0] == "running":
                conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            return row[0]

    def retry(self, job_id: int) -> None:
        """Queue a failed, cancelled or interrupted job again (it resumes from its checkpoint)."""
        with self._p.transaction() as conn:
            n = conn.execute(
                "UPDATE jobs SET state = 'queued', cancel_requested = 0, error = NULL, worker = NULL, "
                "finished_at = NULL WHERE id = ? AND state IN ('failed', 'cancelled', 'interrupted')",
                (job_id,),
            ).rowcount
        if n == 0:
            raise ValueError(f"job {job_id} is {self.get(job_id).state}; only failed, cancelled or "
                             "interrupted jobs can be retried")

    def set_backend(self, job_id: int, backend: str) -> None:
        """Move a job that is not running between the local workers and Slurm."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (use one of {', '.join(BACKENDS)})")
        with self._p.transaction() as conn:
            n = conn.execute("UPDATE jobs SET backend = ? WHERE id = ? AND state != 'running'",
                             (backend, job_id)).rowcount
        if n == 0:
            raise ValueError(f"job {job_id} is {self.get(job_id).state}; a running job keeps its backend")

    def set_priority(self, job_id: int, priority: int) -> None:
        with self._p.transaction() as conn:
            conn.execute("UPDATE jobs SET priority = ? WHERE id = ?", (priority, job_id))

    def reap_stale(self, stale_after_s: float = STALE_AFTER_S) -> list[int]:
        """Mark running jobs whose heartbeat stopped as ``interrupted``; returns their ids."""
        cutoff = time.time() - stale_after_s
        with self._p.transaction() as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM jobs WHERE state = 'running' AND backend = 'local' "
                "AND (heartbeat_at IS NULL OR heartbeat_at < ?)",
                (cutoff,))]
            conn.executemany("UPDATE jobs SET state = 'interrupted', heartbeat_at = NULL WHERE id = ?",
                             [(i,) for i in ids])
        return ids

    def counts(self) -> dict[str, int]:
        rows = self._p.query("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {s: 0 for s in STATES} | {r[0]: r[1] for r in rows}
