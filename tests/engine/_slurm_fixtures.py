"""Session fixtures for the tests on the REAL local Slurm cluster (see _slurm_cluster).

``cluster`` starts one cluster for every Slurm module of the session (about ten seconds each
time) and stops it at the session's end. ``time_limit_jobs`` starts the jobs of the three
time-limit tests at once, as soon as the first Slurm module starts:

* test_slurm_cluster.py::test_time_limit_kill_then_resume (a training run),
* test_slurm_predict_cluster.py::test_predict_killed_at_its_time_limit_resumes_without_rescoring,
* test_slurm_tuning_repeats.py::test_time_limit_kill_mid_tuning_then_resume.

Slurm kills a job only a minute after it started (its smallest limit, checked every 30 s), so
each job is submitted with a one-minute limit, paused (SIGSTOP through ``scancel --batch``)
once it has something to resume from, its limit set back to ten minutes for the next
submission, and left to run out its clock while the other tests run; the three clocks run
together. Each job has its own project, which keeps the other tests' ``sync`` calls away from
it; its test only syncs until it has finished and checks the result. Only the jobs whose tests
were collected are started.

Run the Slurm tests one session at a time on a machine: ``flock /tmp/slurm.lock python -m pytest ...``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.experiments import create_experiment, experiment_jobs
from engine.jobs import JobQueue
from engine.runs import read_events
from engine.slurm import ClusterSettings, slurm_log, submissions, sync
from engine.splits import create_split
from engine.store import Project
from tests.engine._slurm_cluster import LocalSlurm, missing_reason
from tests.engine._train_factory import make_project, tiny_spec

TUNED = dict(split="cv", epochs=1, image_size=32, tune_trials=2, tune_inner_folds=2)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """One local cluster for the session; skips (with the reason) where none can run or start."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        slurm.start()
    except (RuntimeError, OSError) as exc:
        slurm.stop()
        pytest.skip(f"a local Slurm cluster could not be started: {exc}")
    patch = pytest.MonkeyPatch()
    for key, value in slurm.env().items():
        patch.setenv(key, value)
    yield slurm
    slurm.stop()
    patch.undo()


def _sync_until(project, job_ids, states, cluster, timeout_s=240.0, on_round=None):
    """Run ``sync`` until every job is in one of ``states``; the report of each round is kept."""
    deadline = time.monotonic() + timeout_s
    queue = JobQueue(project)
    while time.monotonic() < deadline:
        report = sync(project)
        assert not report.errors, report.errors
        if on_round is not None:
            on_round(report)
        now = {j: queue.get(j).state for j in job_ids}
        if all(s in states for s in now.values()):
            return now
        time.sleep(1.0)
    logs = "\n".join(slurm_log(project, j) for j in job_ids if submissions(project, j))
    raise AssertionError(f"jobs {now} not {states} within {timeout_s} s\n{logs}\n{cluster.logs()}")


def _wait_for(ok, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout_s} s")


def _trial_starts(run) -> list[int]:
    return [e["trial"] for e in read_events(run / "events.jsonl")
            if "trial" in e and "lr=" in e.get("message", "")] if (run / "events.jsonl").exists() else []


# -- the three time-limit jobs ---------------------------------------------------------
@dataclass
class _Kind:
    """How one time-limit test's job is set up, and when it has something to resume from."""

    module: str
    test: str
    prepare: Callable  # (tmp_path_factory) -> (project path, its ten-minute settings)
    create: Callable  # (open project) -> job id, queued on Slurm
    ready: Callable  # (run folder) -> True once the job may be paused
    what: str  # the failure message when it never gets ready
    timeout_s: float


@dataclass
class _Started:
    path: Path
    job_id: int
    run: Path
    settings: ClusterSettings
    kind: _Kind
    deadline: float


def _train_project(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("slurmtimed") / "study", patients=16, k=2)
    return path, ClusterSettings(partition="debug", cpus=1, mem="500M", time="10", signal_grace_s=0)


def _train_job(project) -> int:
    create_experiment(project, "timed-out", tiny_spec(project.path, epochs=6), folds=[0], backend="slurm")
    return experiment_jobs(project, "timed-out")[0].id


def _predict_project(tmp_path_factory):
    """The trained held-out study with its final model and 8 unlabelled images, as the predict module's."""
    from engine.final import finalize
    from tests.engine._final_factory import A, copy_study, held_out_study, shared_base
    from tests.engine.test_final_predict import _add_unlabelled

    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path_factory.mktemp("screentimed"))
    with Project.open(path) as project:
        assert finalize(project, A).id == 1
        _add_unlabelled(project, 8)
    return path, ClusterSettings(partition="debug", cpus=1, mem="1G", time="10", signal_grace_s=0)


def _predict_job(project) -> int:
    from engine.final import submit_predict
    from tests.engine._final_factory import A

    return submit_predict(project, A, "all", backend="slurm", chunk=1)


def _has_scored_chunk(run) -> bool:
    from engine.final import SCORED_DIR

    return len(list((run / SCORED_DIR).glob("chunk-*.csv"))) >= 1 if (run / SCORED_DIR).is_dir() else False


def _tuning_project(tmp_path_factory):
    path = make_project(tmp_path_factory.mktemp("slurmtunetimed") / "study", patients=16, k=2)
    with Project.open(path) as project:
        create_split(project, "cv", k=2, seed=0, repeats=2)
    return path, ClusterSettings(partition="debug", cpus=1, mem="500M", time="10", signal_grace_s=0)


def _tuning_job(project) -> int:
    spec = tiny_spec(project.path, **{**TUNED, "tune_trials": 4})
    create_experiment(project, "tune-timeout", spec, repeats=[1], folds=[1], backend="slurm")
    (job,) = experiment_jobs(project, "tune-timeout")
    return job.id


KINDS = {
    "train": _Kind("test_slurm_cluster.py", "test_time_limit_kill_then_resume", _train_project, _train_job,
                   lambda run: (run / "checkpoints" / "last.pt").exists(), "no checkpoint after epoch 1",
                   120),
    "predict": _Kind("test_slurm_predict_cluster.py",
                     "test_predict_killed_at_its_time_limit_resumes_without_rescoring", _predict_project,
                     _predict_job, _has_scored_chunk, "no scored chunk", 180),
    "tuning": _Kind("test_slurm_tuning_repeats.py", "test_time_limit_kill_mid_tuning_then_resume",
                    _tuning_project, _tuning_job, lambda run: len(_trial_starts(run)) >= 2,
                    "the second trial did not start", 180),
}


def _submit(path: Path, settings: ClusterSettings, kind: _Kind) -> _Started:
    with Project.open(path) as project:
        settings.replace(time="1").save(project)  # one minute, Slurm's smallest limit
        job_id = kind.create(project)
        assert sync(project).submitted == [job_id]
        run = project.runs_dir / JobQueue(project).get(job_id).run_id
    return _Started(path, job_id, run, settings, kind, time.monotonic() + kind.timeout_s)


def _pause(job: _Started) -> None:
    with Project.open(job.path) as project:
        slurm_id = submissions(project, job.job_id)[0].slurm_id
        # Pause the run so it is still going when the limit strikes; Slurm kills it (TIMEOUT).
        subprocess.run(["scancel", "--batch", "--signal=STOP", slurm_id], check=True, env=os.environ)
        job.settings.save(project)  # the next submission gets ten minutes


@pytest.fixture(scope="session")
def time_limit_jobs(cluster, request, tmp_path_factory) -> dict:
    """Name -> (project path, job id, run folder) of each time-limit job, submitted and paused.

    A job that could not be started maps to its exception instead, which fails only its own
    test (see :func:`timed_out`). The projects are all built before the first submission, so
    the local training of the predict study does not slow the jobs' start.
    """
    collected = {(item.path.name, item.name) for item in request.session.items}
    out: dict = {}
    prepared = {}
    for name, kind in KINDS.items():
        if (kind.module, kind.test) in collected:
            try:
                prepared[name] = kind.prepare(tmp_path_factory)
            except Exception as exc:  # noqa: BLE001 - reported by the job's own test
                out[name] = exc
    pending = {}
    for name, (path, settings) in prepared.items():
        try:
            pending[name] = _submit(path, settings, KINDS[name])
        except Exception as exc:  # noqa: BLE001
            out[name] = exc
    while pending:
        for name, job in list(pending.items()):
            try:
                if job.kind.ready(job.run):
                    _pause(job)
                    out[name] = (job.path, job.job_id, job.run)
                    del pending[name]
                elif time.monotonic() > job.deadline:
                    raise AssertionError(f"{job.kind.what} within {job.kind.timeout_s} s")
            except Exception as exc:  # noqa: BLE001
                out[name] = exc
                del pending[name]
        if pending:
            time.sleep(0.25)
    return out


def timed_out(jobs: dict, name: str) -> tuple[Path, int, Path]:
    """The started job ``name`` of :func:`time_limit_jobs`, or its start-up error raised here."""
    if name not in jobs:
        raise AssertionError(f"the time-limit job {name!r} was not started (its test was not collected)")
    job = jobs[name]
    if isinstance(job, BaseException):
        raise job
    return job
