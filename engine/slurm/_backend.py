"""The submitting side: send ``slurm`` jobs to the cluster and bring their outcome into the database.

Only this side writes ``project.sqlite``. It follows each job through Slurm's state (squeue,
then sacct) and the run folder's ``status.json``; a job Slurm timed out or pre-empted is
submitted again and resumes from its last checkpoint. A job kind whose output belongs in the
database (``predict``: its scored chunks) names an *importer* in :data:`IMPORTERS`; each sync
runs it on the run folder before it decides the job's state, so what the node wrote comes in
while the job runs and before it counts as ended. Importers must be idempotent.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from engine.errors import InvalidInput, NotFound
from engine.jobs import JobLost, JobQueue, engine_command, register_backend
from engine.runs import RunFolder
from engine.slurm import _commands as cmd
from engine.slurm._inputs import SCRIPT, batch_script, log_path, prepare_inputs, read_status, write_atomic
from engine.slurm._settings import ClusterSettings
from engine.store import utc_now

RESUMABLE = ("TIMEOUT", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "REVOKED")
# How long an ended submission may lack its final status.json before it counts as failed: on
# NFS the submitter can see the old file for a while after the node replaced it.
STATUS_WAIT_S = 90.0
# kind -> (module, function): importer(project, job, run_dir) -> rows brought in. Kept as text: the
# packages that define the kinds (engine.final) sit above this one in the layers.
IMPORTERS = {"predict": ("engine.final._predict", "import_scored")}


class SubmissionRaced(InvalidInput):
    """A job changed (cancelled, submitted by another sync) while ``sbatch`` ran."""


@dataclass
class SyncReport:
    """What one :func:`sync` did; ``changes`` are ``(job id, what)`` lines for a log or status bar."""

    submitted: list[int] = field(default_factory=list)
    resubmitted: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    imported: dict[int, int] = field(default_factory=dict)  # job id -> rows its importer brought in
    changes: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    active: int = 0

    def note(self, job_id: int, what: str) -> None:
        self.changes.append((job_id, what))


@dataclass(frozen=True)
class Submission:
    job_id: int
    submission: int
    slurm_id: str
    state: str
    log_path: str
    resumes: int
    submitted_at: str
    updated_at: str


def submissions(project, job_id: int) -> list[Submission]:
    """Every Slurm submission of a job, oldest first."""
    rows = project.query("SELECT job_id, submission, slurm_id, state, log_path, resumes, submitted_at, "
                         "updated_at FROM slurm_jobs WHERE job_id = ? ORDER BY submission", (job_id,))
    return [Submission(**dict(r)) for r in rows]


def _latest(project, job_id: int) -> Submission | None:
    subs = submissions(project, job_id)
    return subs[-1] if subs else None


def submit_job(project, job_id: int, settings: ClusterSettings | None = None, resume: bool = False) -> str:
    """Submit a queued (or interrupted) ``slurm`` job now; returns its Slurm job id.

    ``resume`` marks an automatic resubmission after a time-out or pre-emption (counted
    against ``max_submissions``); a first or retried submission starts the count again.
    """
    settings = (settings or ClusterSettings.load(project)).check()
    queue = JobQueue(project)
    job = queue.get(job_id)
    if job.backend != "slurm":
        raise InvalidInput(f"job {job_id} runs on the {job.backend} workers, not on Slurm")
    if job.state not in ("queued", "interrupted"):
        raise InvalidInput(f"job {job_id} is {job.state}; only queued or interrupted jobs are submitted")
    run_dir = RunFolder.of(project, job.run_id).path
    folder = prepare_inputs(project, job, "cuda:0" if settings.gpus else "cpu")
    write_atomic(folder / SCRIPT, batch_script(settings, run_dir, job, engine_command([])))
    previous = _latest(project, job_id)
    resumes = previous.resumes + 1 if previous and resume else 0
    slurm_id = cmd.sbatch(folder / SCRIPT, cwd=run_dir)
    now = utc_now()
    log = str(log_path(run_dir, slurm_id).relative_to(project.path))
    why = None
    try:
        with project.transaction() as conn:
            # while sbatch ran the job may have been cancelled (GUI, CLI) or submitted by another
            # sync (a lock file that does not lock): the queue checks again, in the write
            try:
                queue.mark_submitted(job_id, job.claim_token, f"slurm:{slurm_id}", conn)
            except JobLost as exc:
                why = str(exc)
            else:
                number = conn.execute("SELECT COALESCE(MAX(submission), 0) + 1 FROM slurm_jobs "
                                      "WHERE job_id = ?", (job_id,)).fetchone()[0]
                conn.execute("INSERT INTO slurm_jobs(job_id, submission, slurm_id, state, log_path, "
                             "resumes, submitted_at, updated_at) VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?)",
                             (job_id, number, slurm_id, log, resumes, now, now))
    except BaseException:  # not recorded: a Slurm job nobody follows would run beside the next one
        with contextlib.suppress(cmd.SlurmError):
            cmd.scancel(slurm_id)
        raise
    if why is not None:
        with contextlib.suppress(cmd.SlurmError):
            cmd.scancel(slurm_id)
        raise SubmissionRaced(f"{why} while it was submitted; Slurm job {slurm_id} cancelled")
    return slurm_id


def cancel_slurm_job(project, job_id: int) -> str:
    """Cancel a ``slurm`` job: flag it, ``scancel`` its live submission; returns the job's state.

    The cancel is recorded first; when ``scancel`` fails (no Slurm commands here, controller
    down) the next :func:`sync` tries it again.
    """
    queue = JobQueue(project)
    job = queue.get(job_id)
    sub = _latest(project, job_id)
    # only a queued or running job follows a live submission (as in _sync); an interrupted or
    # retried one waits to be submitted, and a failing scancel must not keep it from cancelling
    if (sub is None or sub.state in cmd.TERMINAL or job.state not in ("queued", "running")
            or job.worker != f"slurm:{sub.slurm_id}"):
        return queue.request_cancel(job_id)  # nothing on the cluster: cancelled at once
    queue.flag_cancel(job_id)
    try:
        cmd.scancel(sub.slurm_id)
    except cmd.SlurmError:
        return queue.get(job_id).state
    if job.state != "running":  # still waiting in Slurm's queue: it never started
        try:
            queue.finish(job_id, "cancelled", "cancelled before it started (scancel)", token=job.claim_token)
            _set_sub_state(project, sub, "CANCELLED")
        except JobLost:  # a sync saw it start meanwhile: it ends at the next sync, as cancelled
            pass
    return queue.get(job_id).state


def _cancel(project, job_id: int, grace_s: float = 0.0, poll_s: float = 0.0) -> str:
    return cancel_slurm_job(project, job_id)


register_backend("slurm", cancel=_cancel, where=" for Slurm",
                 run_hint=lambda project: "submit it and bring its results in with: "
                                          f"affengine slurm sync {project} --watch 30")


def slurm_log(project, job_id: int, every: bool = False) -> str:
    """The Slurm log of a job's last submission (of every submission with ``every``)."""
    subs = submissions(project, job_id)
    if not subs:
        JobQueue(project).get(job_id)  # JobNotFound (a KeyError) for an unknown job
        raise NotFound(f"job {job_id} was never submitted to Slurm")
    parts = []
    for sub in subs if every else subs[-1:]:
        path = project.path / sub.log_path
        head = f"==> submission {sub.submission}: Slurm job {sub.slurm_id} ({sub.state}), {path}"
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else "(no log yet)\n"
        parts.append(f"{head}\n{text}")
    return "\n".join(parts)


def has_active_slurm_jobs(project) -> bool:
    return bool(project.query("SELECT 1 FROM jobs WHERE backend = 'slurm' AND "
                              "state IN ('queued', 'running', 'interrupted') LIMIT 1"))


@contextlib.contextmanager
def _sync_lock(project):
    """One sync at a time per project (the GUI's timer and a CLI may both try)."""
    with open(project.path / ".slurm-sync.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def sync(project, settings: ClusterSettings | None = None, submit: bool = True) -> SyncReport:
    """Follow every active ``slurm`` job and bring its state into the database.

    Cheap when there is nothing to follow: with no active ``slurm`` job it returns at once
    without running any Slurm command. ``submit`` also sends jobs that wait unsubmitted.
    """
    report = SyncReport()
    if not has_active_slurm_jobs(project):
        return report
    with _sync_lock(project) as mine:
        if not mine:
            report.errors.append("another sync of this project is running")
            return report
        _sync(project, settings, submit, report)
    return report


def _sync(project, settings, submit: bool, report: SyncReport) -> None:
    queue = JobQueue(project)
    jobs = [j for j in queue.list(backend="slurm") if j.state in ("queued", "running", "interrupted")]
    # A job follows its latest submission while it is queued or running under that Slurm id;
    # a decided one is interrupted (to resubmit) or done, a retried one has no worker.
    latest = {j.id: _latest(project, j.id) for j in jobs}
    live = {j.id: latest[j.id] for j in jobs if latest[j.id] is not None and j.state in ("queued", "running")
            and j.worker == f"slurm:{latest[j.id].slurm_id}"}
    try:
        states = cmd.job_states([s.slurm_id for s in live.values()])
    except cmd.SlurmError as exc:
        report.errors.append(str(exc))
        return
    to_submit = [j for j in jobs if j.id not in live]
    for job in jobs:
        if job.id in live:
            sub = live[job.id]
            if _follow(project, queue, job, sub, states.get(sub.slurm_id, cmd.GONE), report):
                to_submit.append(queue.get(job.id))
    if submit and any(not j.cancel_requested and j.state in ("queued", "interrupted") for j in to_submit):
        _submit_waiting(project, queue, to_submit, settings, report)
    report.active = sum(1 for j in queue.list(backend="slurm") if j.state in ("queued", "running"))


def _submit_waiting(project, queue: JobQueue, jobs, settings, report: SyncReport) -> None:
    try:
        settings = (settings or ClusterSettings.load(project)).check()
    except ValueError as exc:  # SettingsError: nothing can be submitted until the settings are fixed
        report.errors.append(str(exc))
        return
    for job in jobs:
        if job.cancel_requested or job.state not in ("queued", "interrupted"):
            continue
        resume = job.state == "interrupted"  # _follow left it so after a time-out or pre-emption
        previous = _latest(project, job.id)
        if resume and previous is not None and previous.resumes + 1 >= settings.max_submissions:
            queue.finish(job.id, "failed", f"stopped after {previous.resumes + 1} Slurm submissions in a "
                         "row (cluster settings: max_submissions)", token=job.claim_token)
            report.failed.append(job.id)
            continue
        try:
            slurm_id = submit_job(project, job.id, settings, resume=resume)
        except (cmd.SlurmError, ValueError, OSError, JobLost) as exc:
            report.errors.append(f"job {job.id}: {exc}")
            continue
        (report.resubmitted if previous else report.submitted).append(job.id)
        report.note(job.id, f"{'resubmitted' if previous else 'submitted'} as Slurm job {slurm_id}")


def _set_sub_state(project, sub: Submission, state: str) -> None:
    with project.transaction() as conn:
        conn.execute("UPDATE slurm_jobs SET state = ?, updated_at = ? WHERE job_id = ? AND submission = ?",
                     (state, utc_now(), sub.job_id, sub.submission))


def _follow(project, queue: JobQueue, job, sub: Submission, state: str, report: SyncReport) -> bool:
    """Bring one submission's state into the job; True when the job should be submitted again."""
    try:
        return _follow_owned(project, queue, job, sub, state, report)
    except JobLost as exc:  # changed since this sync read it (a cancel, a retry): the next sync sees it
        report.errors.append(str(exc))
        return False


def _import_outputs(project, job, run_dir: Path, report: SyncReport) -> str | None:
    """Run the job kind's importer on its run folder: None when done (or nothing to do), ``"retry"``
    when it could not now (the database was busy, a file system error), else why the output is bad."""
    where = IMPORTERS.get(job.kind)
    if where is None or not run_dir.is_dir():
        return None
    importer = getattr(importlib.import_module(where[0]), where[1])
    try:
        rows = importer(project, job, run_dir)
    except (OSError, sqlite3.OperationalError) as exc:
        report.errors.append(f"job {job.id}: cannot import its results yet: {exc}")
        return "retry"
    except (InvalidInput, ValueError, sqlite3.IntegrityError) as exc:  # it will not get better
        return f"its results cannot be imported: {exc}"
    if rows:
        report.imported[job.id] = report.imported.get(job.id, 0) + rows
        report.note(job.id, f"imported {rows} result row(s)")
    return None


def _follow_owned(project, queue: JobQueue, job, sub: Submission, state: str, report: SyncReport) -> bool:
    run_dir = RunFolder.of(project, job.run_id).path
    token = job.claim_token
    status = read_status(run_dir)
    imported = _import_outputs(project, job, run_dir, report)
    if status.get("slurm_id") not in (None, sub.slurm_id):
        status = {}  # an older submission's word
    seen_since = time.time()
    if state != sub.state:
        _set_sub_state(project, sub, state)
    else:
        seen_since = datetime.fromisoformat(sub.updated_at).timestamp()
    if job.cancel_requested and state not in cmd.TERMINAL and state != cmd.GONE:
        try:
            cmd.scancel(sub.slurm_id)  # again: the first try may have failed
        except cmd.SlurmError as exc:
            report.errors.append(f"job {job.id}: {exc}")
        return False
    if state in ("RUNNING", "COMPLETING") or (state in cmd.WAITING and status.get("state") == "running"):
        if job.state != "running":
            queue.mark_running(job.id, token)
            report.note(job.id, f"running (Slurm job {sub.slurm_id})")
        return False
    if state in cmd.WAITING:
        return False
    # The submission has ended (or Slurm forgot it): decide from the status file and Slurm's word.
    word = status.get("state")
    if imported == "retry":
        return False  # its results first: the next sync decides
    if imported is not None:
        queue.finish(job.id, "failed", imported, token=token)
        report.failed.append(job.id)
        report.note(job.id, "failed (results)")
    elif job.cancel_requested:
        queue.finish(job.id, "cancelled", "cancelled (scancel)", token=token)
        report.cancelled.append(job.id)
        report.note(job.id, "cancelled")
    elif word == "finished":
        queue.finish(job.id, "finished", token=token)
        report.finished.append(job.id)
        report.note(job.id, "finished")
    elif word == "failed":
        queue.finish(job.id, "failed", status.get("error") or f"Slurm job {sub.slurm_id} failed",
                     token=token)
        report.failed.append(job.id)
        report.note(job.id, "failed")
    elif state == "CANCELLED":
        queue.finish(job.id, "cancelled", f"Slurm job {sub.slurm_id} was cancelled outside the workbench",
                     token=token)
        report.cancelled.append(job.id)
        report.note(job.id, "cancelled outside the workbench")
    elif state in RESUMABLE or word == "interrupted" or (state == cmd.GONE and word == "running"):
        queue.finish(job.id, "interrupted", f"Slurm job {sub.slurm_id}: {state}; resubmitting", token=token)
        report.note(job.id, f"{state.lower()}: submitting again to resume from its checkpoint")
        return True
    elif time.time() - seen_since < STATUS_WAIT_S:
        return False  # ended without a final word yet: give a network file system time to show it
    else:
        why = (f"{_last_line(project.path / sub.log_path)} (affengine slurm log)" if run_dir.is_dir()
               else f"its run folder {run_dir} is missing (deleted by hand?)")
        queue.finish(job.id, "failed", f"Slurm job {sub.slurm_id} ended {state} without a result: {why}",
                     token=token)
        report.failed.append(job.id)
        report.note(job.id, f"failed ({state})")
    return False


def _last_line(path: Path) -> str:
    try:
        lines = [x for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    except OSError:
        return "no Slurm log"
    return lines[-1][:300] if lines else "empty Slurm log"
