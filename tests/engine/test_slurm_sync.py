"""How ``sync`` reads Slurm's word, with stand-in ``sbatch``/``squeue``/``scancel`` scripts (no cluster).

The real cluster tests (test_slurm_cluster.py) show the whole path; these pin each state
change quickly: pending, running, time-out and resubmission, the submission cap, a cancel
whose ``scancel`` fails at first, and a job Slurm has already forgotten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.jobs import JobQueue, cancel_job
from engine.slurm import ClusterSettings, _backend, submissions, sync
from engine.slurm._inputs import write_status
from engine.store import Project

FAKES = {
    "sbatch": 'n=$(cat "$FAKE_SLURM/next_id"); echo $((n + 1)) > "$FAKE_SLURM/next_id"\n'
              'pwd > "$FAKE_SLURM/cwd-$n"; cp "$2" "$FAKE_SLURM/script-$n"; echo "$n;cluster"',
    "squeue": 'cat "$FAKE_SLURM/states"',
    "sacct": "exit 1",
    "scancel": 'if [ -e "$FAKE_SLURM/scancel_fails" ]; then\n'
               '  echo "scancel: error: Unable to contact slurm controller" >&2; exit 1\nfi\n'
               'echo "$1" >> "$FAKE_SLURM/cancelled"',
}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    root = tmp_path / "fake"
    (root / "bin").mkdir(parents=True)
    for name, body in FAKES.items():
        path = root / "bin" / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
    (root / "next_id").write_text("100\n")
    (root / "states").write_text("")
    monkeypatch.setenv("FAKE_SLURM", str(root))
    monkeypatch.setenv("PATH", f"{root / 'bin'}:{os.environ['PATH']}")
    return root


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "p") as p:
        (p.cache_dir / "images").mkdir()
        ClusterSettings(max_submissions=2, time="10").save(p)
        yield p


def _states(fake: Path, **states: str) -> None:
    fake.joinpath("states").write_text("".join(f"{i}|{s}\n" for i, s in states.items()))


def _submit(project) -> int:
    return JobQueue(project).submit("train", {"project": str(project.path), "fold": 0}, fold=0,
                                    backend="slurm")


def test_submission_writes_the_inputs_and_the_script(fake, project, monkeypatch):
    job_id = _submit(project)
    report = sync(project)
    assert report.submitted == [job_id] and report.changes == [(job_id, "submitted as Slurm job 100")]
    job = JobQueue(project).get(job_id)
    assert (job.state, job.worker, job.attempts) == ("queued", "slurm:100", 1)
    run = project.runs_dir / job.run_id
    assert Path(fake / "cwd-100").read_text().strip() == str(run)  # submitted from the run folder
    assert (fake / "script-100").read_text() == (run / "slurm" / "job.sbatch").read_text()
    data = json.loads((run / "slurm" / "job.json").read_text())
    snapshot = run / "slurm" / "project.affproj"
    assert data["spec"]["project"] == str(snapshot) and data["device"] == "cpu"
    assert os.readlink(snapshot / "cache" / "images") == "../../../../../cache/images"
    assert (snapshot / "cache" / "images").resolve() == (project.cache_dir / "images").resolve()
    with Project.open(snapshot) as copy:  # a consistent copy of the database at submission
        assert JobQueue(copy).get(job_id).run_id == job.run_id
    assert [s.slurm_id for s in submissions(project, job_id)] == ["100"]
    _states(fake, **{"100": "PENDING"})
    assert sync(project).changes == [] and sync(project).active == 1  # pending: nothing to do
    fake.joinpath("states").write_text("")  # Slurm forgot it and the node never wrote a word
    assert sync(project).changes == []  # the status file may yet show up (NFS caches)
    monkeypatch.setattr(_backend, "STATUS_WAIT_S", 0.0)
    report = sync(project)
    assert report.failed == [job_id]
    assert "ended GONE without a result: no Slurm log" in JobQueue(project).get(job_id).error


def test_time_out_resubmits_until_the_cap(fake, project):
    job_id = _submit(project)
    sync(project)
    _states(fake, **{"100": "RUNNING"})
    assert sync(project).changes == [(job_id, "running (Slurm job 100)")]
    assert JobQueue(project).get(job_id).state == "running"
    _states(fake, **{"100": "TIMEOUT"})
    report = sync(project)
    assert report.resubmitted == [job_id]
    assert [(s.slurm_id, s.state) for s in submissions(project, job_id)] == [("100", "TIMEOUT"),
                                                                            ("101", "PENDING")]
    assert JobQueue(project).get(job_id).attempts == 2
    _states(fake, **{"101": "PREEMPTED"})
    report = sync(project)
    assert report.failed == [job_id]
    job = JobQueue(project).get(job_id)
    assert job.state == "failed" and "stopped after 2 Slurm submissions in a row" in job.error
    JobQueue(project).retry(job_id)  # by hand: a fresh start, not a third resumption
    assert sync(project).resubmitted == [job_id]
    assert [s.resumes for s in submissions(project, job_id)] == [0, 1, 0]


def test_broken_settings_stop_submissions_with_the_reason(fake, project):
    (project.path / "slurm.json").write_text(json.dumps({"time": "soon"}))
    job_id = _submit(project)
    report = sync(project)
    assert report.submitted == [] and "time 'soon'" in report.errors[0]
    assert JobQueue(project).get(job_id).state == "queued" and not (fake / "script-100").exists()


def test_cancel_waits_for_a_failing_scancel_to_succeed(fake, project):
    job_id = _submit(project)
    sync(project)
    _states(fake, **{"100": "RUNNING"})
    sync(project)
    (fake / "scancel_fails").touch()
    assert cancel_job(project, job_id) == "running"  # flagged; Slurm could not be told yet
    report = sync(project)
    assert "Unable to contact slurm controller" in report.errors[0]
    assert JobQueue(project).get(job_id).state == "running"
    (fake / "scancel_fails").unlink()
    sync(project)
    assert (fake / "cancelled").read_text().split() == ["100"]
    _states(fake, **{"100": "CANCELLED"})
    assert sync(project).cancelled == [job_id]
    assert JobQueue(project).get(job_id).state == "cancelled"


def test_a_pending_job_is_cancelled_at_once(fake, project):
    job_id = _submit(project)
    sync(project)
    assert cancel_job(project, job_id) == "cancelled"
    assert (fake / "cancelled").read_text().split() == ["100"]
    assert submissions(project, job_id)[-1].state == "CANCELLED"
    assert sync(project).changes == []  # nothing active: no squeue either


def test_forgotten_jobs_go_by_the_status_file(fake, project):
    done, lost, broken = _submit(project), _submit(project), _submit(project)
    sync(project)
    queue = JobQueue(project)
    write_status(project.runs_dir / queue.get(done).run_id, state="finished", slurm_id="100")
    write_status(project.runs_dir / queue.get(lost).run_id, state="running", slurm_id="101")
    write_status(project.runs_dir / queue.get(broken).run_id, state="failed", slurm_id="102",
                 error="SpecError: fold 5 of split default v1 does not exist")
    report = sync(project)  # squeue knows none of them any more, and there is no sacct
    assert report.finished == [done] and report.failed == [broken] and report.resubmitted == [lost]
    assert queue.get(broken).error == "SpecError: fold 5 of split default v1 does not exist"
    assert [s.state for s in submissions(project, lost)] == ["GONE", "PENDING"]


def test_an_ended_job_waits_for_its_status_file(fake, project):
    job_id = _submit(project)
    sync(project)
    run = project.runs_dir / JobQueue(project).get(job_id).run_id
    write_status(run, state="running", slurm_id="100")
    _states(fake, **{"100": "COMPLETED"})
    assert sync(project).changes == []  # Slurm is done but the final word is not visible yet
    assert JobQueue(project).get(job_id).state == "queued"
    write_status(run, state="finished", slurm_id="100")
    assert sync(project).finished == [job_id]


def test_a_job_cancelled_by_hand_is_not_resubmitted(fake, project):
    job_id = _submit(project)
    sync(project)
    write_status(project.runs_dir / JobQueue(project).get(job_id).run_id, state="interrupted",
                 slurm_id="100")  # what the node writes after scancel's SIGTERM
    _states(fake, **{"100": "CANCELLED"})
    report = sync(project)
    assert report.cancelled == [job_id] and report.resubmitted == []
    assert "cancelled outside the workbench" in JobQueue(project).get(job_id).error


def test_an_unreachable_controller_changes_nothing(fake, project, monkeypatch):
    running, pending = _submit(project), _submit(project)
    sync(project)
    write_status(project.runs_dir / JobQueue(project).get(running).run_id, state="running", slurm_id="100")
    fake.joinpath("bin", "squeue").write_text(
        "#!/bin/bash\necho 'squeue: error: slurm_load_jobs error: Unable to contact slurm controller "
        "(connect failure)' >&2\nexit 1\n")
    monkeypatch.setattr(_backend, "STATUS_WAIT_S", 0.0)
    report = sync(project)  # no answer is not "Slurm forgot them": neither resubmitted nor failed
    assert "Unable to contact slurm controller" in report.errors[0]
    assert report.changes == [] and report.resubmitted == [] and report.failed == []
    assert [JobQueue(project).get(i).state for i in (running, pending)] == ["queued", "queued"]
    assert [len(submissions(project, i)) for i in (running, pending)] == [1, 1]


def test_a_project_path_with_hash_and_quotes_is_snapshotted(fake, tmp_path):
    folder = tmp_path / "Study #2 'the \"real\" one'?"
    folder.mkdir()
    with Project.create(folder / "p") as project:
        (project.cache_dir / "images").mkdir()
        job_id = _submit(project)
        assert sync(project).submitted == [job_id]
        snapshot = project.runs_dir / JobQueue(project).get(job_id).run_id / "slurm" / "project.affproj"
        with Project.open(snapshot) as copy:
            assert JobQueue(copy).get(job_id).state == "queued"
    assert sorted(p.name for p in folder.iterdir()) == ["p.affproj"]  # no stray database beside it


def test_a_job_cancelled_during_sbatch_is_not_revived(fake, project, monkeypatch):
    job_id = _submit(project)
    real_sbatch = _backend.cmd.sbatch

    def sbatch_while_cancelled(script, cwd):
        slurm_id = real_sbatch(script, cwd)
        assert cancel_job(project, job_id) == "cancelled"  # the GUI's cancel, while sbatch ran
        return slurm_id

    monkeypatch.setattr(_backend.cmd, "sbatch", sbatch_while_cancelled)
    report = sync(project)
    assert report.submitted == [] and "cancelled while it was submitted" in report.errors[0]
    assert JobQueue(project).get(job_id).state == "cancelled"
    assert (fake / "cancelled").read_text().split() == ["100"]  # the new Slurm job is not left running
    assert submissions(project, job_id) == []  # never started: nothing to follow


def test_cancelling_a_job_between_submissions_needs_no_scancel(fake, project):
    job_id = _submit(project)
    sync(project)
    write_status(project.runs_dir / JobQueue(project).get(job_id).run_id, state="running", slurm_id="100")
    fake.joinpath("bin", "sbatch").write_text(
        "#!/bin/bash\necho 'sbatch: error: invalid partition specified: gpu' >&2\nexit 1\n")
    report = sync(project)  # Slurm forgot job 100, which was running: to be resubmitted, but sbatch refuses
    assert "invalid partition specified: gpu" in report.errors[0]
    assert JobQueue(project).get(job_id).state == "interrupted"
    (fake / "scancel_fails").touch()  # scancel 100 would fail: Slurm no longer knows it
    assert cancel_job(project, job_id) == "cancelled"  # nothing on the cluster to stop
    assert sync(project).changes == []


def test_two_submitters_at_once_leave_one_slurm_job(fake, project, monkeypatch):
    # two syncs whose lock file does not lock (a network file system mounted without locking)
    job_id = _submit(project)
    real_sbatch, calls = _backend.cmd.sbatch, []

    def sbatch_racing(script, cwd):
        slurm_id = real_sbatch(script, cwd)
        calls.append(slurm_id)
        if len(calls) == 1:  # the other sync submits the same job while this sbatch runs
            _backend.submit_job(project, job_id)
        return slurm_id

    monkeypatch.setattr(_backend.cmd, "sbatch", sbatch_racing)
    with pytest.raises(ValueError, match="submitted by another sync"):
        _backend.submit_job(project, job_id)
    job = JobQueue(project).get(job_id)
    assert (job.state, job.worker, job.attempts) == ("queued", "slurm:101", 1)
    assert (fake / "cancelled").read_text().split() == ["100"]
    assert [(s.slurm_id, s.state) for s in submissions(project, job_id)] == [("101", "PENDING")]
    monkeypatch.setattr(_backend.cmd, "sbatch", real_sbatch)
    _states(fake, **{"101": "PENDING"})
    assert sync(project).changes == []  # follows 101; submits nothing more


def test_a_run_folder_deleted_by_hand_is_named(fake, project, monkeypatch):
    import shutil

    job_id = _submit(project)
    sync(project)
    run = project.runs_dir / JobQueue(project).get(job_id).run_id
    shutil.rmtree(run)
    _states(fake, **{"100": "FAILED"})  # Slurm could not open the log in the missing folder
    monkeypatch.setattr(_backend, "STATUS_WAIT_S", 0.0)
    assert sync(project).failed == [job_id]
    assert f"its run folder {run} is missing" in JobQueue(project).get(job_id).error


def test_a_resubmission_runs_on_the_device_the_current_settings_ask_for(fake, project):
    job_id = _submit(project)
    sync(project)
    job_file = project.runs_dir / JobQueue(project).get(job_id).run_id / "slurm" / "job.json"
    assert json.loads(job_file.read_text())["device"] == "cpu"
    ClusterSettings(max_submissions=3, time="10", gpus=1).save(project)  # a GPU, from now on
    _states(fake, **{"100": "TIMEOUT"})
    assert sync(project).resubmitted == [job_id]
    assert "#SBATCH --gpus=1" in (fake / "script-101").read_text()
    assert json.loads(job_file.read_text())["device"] == "cuda:0"
    job_file.write_text('{"job_id": 1, "ki')  # half a file (written by hand, a full disk)
    _states(fake, **{"101": "PREEMPTED"})
    assert sync(project).resubmitted == [job_id]
    assert json.loads(job_file.read_text())["job_id"] == job_id  # written again, not left broken


def test_a_slurm_command_that_cannot_start_is_reported(fake, project):
    job_id = _submit(project)
    sync(project)
    fake.joinpath("bin", "squeue").write_text("#!/nonexistent/interpreter\n")  # a broken module set-up
    report = sync(project)
    assert "squeue: cannot run" in report.errors[0] and report.changes == []
    assert JobQueue(project).get(job_id).state == "queued"


def test_files_for_the_node_are_readable_by_the_lab(tmp_path):
    import stat

    from engine.runs import _files

    _files.write_atomic(tmp_path / "status.json", "{}")
    mode = stat.S_IMODE((tmp_path / "status.json").stat().st_mode)
    assert mode == 0o644 & ~_files.UMASK  # the umask decides, not mkstemp's 0600
