"""The job queue in ``project.sqlite``: submit, claim atomically, heartbeat, finish.

States: ``queued`` -> ``running`` -> ``finished`` | ``failed`` | ``cancelled``;
a running job whose heartbeat stops becomes ``interrupted`` and is claimed
again (resuming from its last checkpoint) like a queued one.

``JobQueue`` is the only writer of a job's state. Each claim (and each Slurm submission)
raises the job's *claim token*, a fencing counter; the owner's writes (heartbeat, finish,
mark_running) name the token they were given and raise :class:`JobLost` instead of
changing a job someone else holds now.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import EngineError, InvalidInput, NotFound
from engine.store import utc_now

if TYPE_CHECKING:
    from engine.store import Project

STATES = ("queued", "running", "interrupted", "finished", "failed", "cancelled")
ACTIVE = ("queued", "running", "interrupted")
# A job in one of these states never changes again (the one list; the GUI imports it).
TERMINAL_STATES = ("finished", "failed", "cancelled")
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0
# a job is reclaimed only after this many heartbeats in a row have been missed
MIN_STALE_BEATS = 3
MAX_PRIORITY = 2**63 - 1  # SQLite's INTEGER


class JobNotFound(NotFound, KeyError):
    """No job with that id (also a KeyError, which callers caught before engine.errors)."""


class JobLost(EngineError):
    """The job is no longer held by this claim: reaped as stale and claimed again, or ended."""


def check_priority(priority: int) -> int:
    """``priority`` when SQLite can store it; :class:`InvalidInput` otherwise (not OverflowError)."""
    if (isinstance(priority, bool) or not isinstance(priority, int)
            or not -MAX_PRIORITY <= priority <= MAX_PRIORITY):
        raise InvalidInput(f"priority {priority!r}: a whole number between {-MAX_PRIORITY} and "
                           f"{MAX_PRIORITY}")
    return priority


def check_stale_after(stale_after_s: float, heartbeat_s: float = HEARTBEAT_S) -> float:
    """Refuse a ``--stale-after`` under ``MIN_STALE_BEATS`` heartbeats: a busy worker would be reaped."""
    if not stale_after_s >= MIN_STALE_BEATS * heartbeat_s * (1 - 1e-9):
        raise InvalidInput(f"--stale-after {stale_after_s:g}: at least {MIN_STALE_BEATS} x the heartbeat "
                           f"interval ({MIN_STALE_BEATS * heartbeat_s:g} s), or a worker that is only slow "
                           "loses its job to another")
    return stale_after_s


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
    claim_token: int = 0

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
    from engine.runs import safe_name

    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{label + '-' if label else ''}{uuid.uuid4().hex[:6]}"
    return safe_name(run_id, "run id")


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
            raise InvalidInput(f"unknown backend {backend!r} (use one of {', '.join(BACKENDS)})")
        check_priority(priority)
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
            raise JobNotFound(f"no job with id {job_id}")
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
              experiment_id: int | None = None, admit=None) -> Job | None:
        """Take the next queued or interrupted job for ``worker``; no two workers get the same job.

        ``admit(kind, spec, running)`` (optional) is asked for each candidate in queue order,
        with the ``(kind, spec)`` of the jobs running on ``worker``'s device (same host and
        device in the workers table); the first it admits is taken. It runs inside the claim's
        transaction, so two workers on one device see each other's claims (see ``_memory``).
        """
        with self._p.transaction() as conn:  # BEGIN IMMEDIATE: one claimer at a time
            sql = ("SELECT id, kind, spec FROM jobs WHERE state IN ('queued', 'interrupted') "
                   "AND cancel_requested = 0 AND backend = 'local'")
            params: list = []
            if kinds:
                sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
                params += list(kinds)
            if experiment_id is not None:
                sql += " AND experiment_id = ?"
                params.append(experiment_id)
            sql += " ORDER BY priority DESC, id"
            if admit is None:
                row = conn.execute(sql + " LIMIT 1", params).fetchone()
            else:
                running = [(r[0], json.loads(r[1])) for r in conn.execute(
                    "SELECT j.kind, j.spec FROM jobs j JOIN workers w ON w.id = j.worker "
                    "JOIN workers me ON me.id = ? WHERE j.state = 'running' AND j.backend = 'local' "
                    "AND w.host = me.host AND w.device = me.device", (worker,))]
                row = next((r for r in conn.execute(sql, params)
                            if admit(r[1], json.loads(r[2]), running)), None)
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET state = 'running', worker = ?, attempts = attempts + 1, "
                "claim_token = claim_token + 1, "
                "started_at = COALESCE(started_at, ?), heartbeat_at = ?, error = NULL WHERE id = ?",
                (worker, utc_now(), time.time(), row[0]),
            )
        return self.get(row[0])

    def _lost(self, conn, job_id: int, token: int | None, doing: str) -> JobLost:
        row = conn.execute("SELECT state, worker, claim_token FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return JobLost(f"job {job_id}: cannot {doing}: it no longer exists")
        held = f"claim {row[2]}" + (f" by {row[1]}" if row[1] else "")
        return JobLost(f"job {job_id}: cannot {doing} under claim {token}: it is {row[0]} ({held} now)")

    def heartbeat(self, job_id: int, worker: str, token: int | None = None) -> bool:
        """Record that ``worker`` is alive on the job; returns True when a cancel was requested.

        Raises :class:`JobLost` when the job is no longer running under ``worker`` (and claim
        ``token``, when given): reaped as stale and claimed by another worker, or ended.
        """
        sql = "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND worker = ? AND state = 'running'"
        params: list = [time.time(), job_id, worker]
        if token is not None:
            sql += " AND claim_token = ?"
            params.append(token)
        with self._p.transaction() as conn:
            if conn.execute(sql, params).rowcount != 1:
                raise self._lost(conn, job_id, token, f"beat for {worker}")
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def finish(self, job_id: int, state: str, error: str | None = None, *, token: int | None = None) -> None:
        """End the job as ``state`` (or leave it ``interrupted``) with its one-line ``error``.

        ``token`` is the claim the caller holds: when the job has been claimed again since, or
        has already ended, nothing is written and :class:`JobLost` says why. Every engine caller
        passes it; without it the write is unconditional (an administrator's override).
        """
        if state not in ("finished", "failed", "cancelled", "interrupted"):
            raise InvalidInput(f"cannot finish a job as {state!r}")
        sql = "UPDATE jobs SET state = ?, error = ?, finished_at = ?, heartbeat_at = NULL WHERE id = ?"
        params: list = [state, error, utc_now() if state != "interrupted" else None, job_id]
        if token is not None:
            sql += " AND claim_token = ? AND state IN ('queued', 'running', 'interrupted')"
            params.append(token)
        with self._p.transaction() as conn:
            if conn.execute(sql, params).rowcount != 1:
                raise self._lost(conn, job_id, token, f"mark it {state}")

    def mark_submitted(self, job_id: int, token: int, worker: str, conn) -> int:
        """Hand a waiting job to a Slurm submission (``worker`` ``slurm:<id>``); returns the new token.

        Inside the caller's transaction ``conn``: refused with :class:`JobLost` when the job was
        cancelled, submitted by someone else, or changed since it was read under ``token``.
        """
        n = conn.execute(
            "UPDATE jobs SET state = 'queued', worker = ?, attempts = attempts + 1, error = NULL, "
            "heartbeat_at = NULL, claim_token = claim_token + 1 WHERE id = ? AND claim_token = ? "
            "AND state IN ('queued', 'interrupted') AND cancel_requested = 0",
            (worker, job_id, token)).rowcount
        if n != 1:
            row = conn.execute("SELECT cancel_requested, claim_token FROM jobs WHERE id = ?",
                               (job_id,)).fetchone()
            why = ("was cancelled" if row is not None and row[0] else
                   "was submitted by another sync" if row is not None and row[1] != token else "changed")
            raise JobLost(f"job {job_id} {why}")
        return token + 1

    def mark_running(self, job_id: int, token: int) -> None:
        """A job its backend reports started (a Slurm job seen RUNNING) under claim ``token``."""
        with self._p.transaction() as conn:
            n = conn.execute("UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, ?) "
                             "WHERE id = ? AND claim_token = ? "
                             "AND state IN ('queued', 'interrupted', 'running')",
                             (utc_now(), job_id, token)).rowcount
            if n != 1:
                raise self._lost(conn, job_id, token, "mark it running")

    def flag_cancel(self, job_id: int) -> None:
        """Set the cancel flag its owner polls (the job itself ends when the owner stops)."""
        with self._p.transaction() as conn:
            conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state IN "
                         "('queued', 'running', 'interrupted')", (job_id,))

    def request_cancel(self, job_id: int) -> str:
        """Cancel a job: a waiting one at once, a running one through the flag its worker polls.

        Returns the job's state afterwards.
        """
        with self._p.transaction() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"no job with id {job_id}")
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
            raise InvalidInput(f"job {job_id} is {self.get(job_id).state}; only failed, cancelled or "
                             "interrupted jobs can be retried")

    def set_backend(self, job_id: int, backend: str) -> None:
        """Move a job that is not running between the local workers and Slurm."""
        if backend not in BACKENDS:
            raise InvalidInput(f"unknown backend {backend!r} (use one of {', '.join(BACKENDS)})")
        with self._p.transaction() as conn:
            n = conn.execute("UPDATE jobs SET backend = ? WHERE id = ? AND state != 'running'",
                             (backend, job_id)).rowcount
        if n == 0:
            raise InvalidInput(f"job {job_id} is {self.get(job_id).state}; a running job keeps its backend")

    def set_priority(self, job_id: int, priority: int) -> None:
        check_priority(priority)
        with self._p.transaction() as conn:
            if conn.execute("UPDATE jobs SET priority = ? WHERE id = ?", (priority, job_id)).rowcount == 0:
                raise JobNotFound(f"no job with id {job_id}")

    def reap_stale(self, stale_after_s: float = STALE_AFTER_S, workers: tuple[str, ...] = ()) -> list[int]:
        """Mark running jobs whose heartbeat stopped as ``interrupted``; returns their ids.

        Jobs held by one of ``workers`` (workers known to be dead) are reaped at once.
        """
        cutoff = time.time() - stale_after_s
        sql = ("SELECT id FROM jobs WHERE state = 'running' AND backend = 'local' "
               "AND (heartbeat_at IS NULL OR heartbeat_at < ?")
        if workers:
            sql += f" OR worker IN ({', '.join('?' for _ in workers)})"
        with self._p.transaction() as conn:
            ids = [r[0] for r in conn.execute(sql + ")", (cutoff, *workers))]
            conn.executemany("UPDATE jobs SET state = 'interrupted', heartbeat_at = NULL WHERE id = ?",
                             [(i,) for i in ids])
        return ids

    def counts(self) -> dict[str, int]:
        rows = self._p.query("SELECT state, COUNT(*) FROM jobs GROUP BY state")
        return {s: 0 for s in STATES} | {r[0]: r[1] for r in rows}
