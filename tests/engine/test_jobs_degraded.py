"""Degraded cases of the queue: dead workers, idle exits, out-of-range priorities and devices."""

import os
import socket
import subprocess
import sys
import time

import pytest

from engine.cli import main
from engine.jobs import JobQueue, Worker, WorkerTable, register_job_kind
from engine.runs import EventWriter
from engine.store import Project, utc_now


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "D") as p:
        yield p


def _quick(job, project, run_dir, should_stop, device, progress):
    with EventWriter(run_dir / "events.jsonl") as ev:
        ev.emit("finished")
    return "finished"


register_job_kind("quick", _quick)


def _held_by(project, job_id, worker, host, pid, beat_age, started="2026-01-01T00:00:00+00:00"):
    q = JobQueue(project)
    q.claim(worker)
    now = time.time()
    with project.transaction() as conn:
        conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (now - beat_age, job_id))
        conn.execute("INSERT INTO workers(id, host, pid, device, started_at, heartbeat_at, state) "
                     "VALUES (?, ?, ?, 'cpu', ?, ?, 'busy')",
                     (worker, host, pid, started, now - beat_age))


def test_exit_when_idle_waits_for_a_dead_workers_job_and_runs_it(project):
    q = JobQueue(project)
    job_id = q.submit("quick", {})
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a worker killed with SIGKILL a moment ago: its heartbeat is still fresh
    _held_by(project, job_id, "dead-worker", socket.gethostname(), gone.pid, beat_age=0.0)
    assert Worker(project.path, heartbeat_s=0.1, stale_after_s=60).run(exit_when_idle=True) == 1
    assert q.get(job_id).state == "finished" and q.get(job_id).attempts == 2
    assert WorkerTable(project).get("dead-worker").state == "dead"  # no longer busy


def test_exit_when_idle_waits_for_a_silent_job_on_another_host_to_go_stale(project):
    q = JobQueue(project)
    job_id = q.submit("quick", {})
    _held_by(project, job_id, "far-worker", "another-host", 1, beat_age=0.5)
    t0 = time.time()
    assert Worker(project.path, heartbeat_s=0.1, stale_after_s=1.0, poll_s=0.05).run(exit_when_idle=True) == 1
    assert time.time() - t0 >= 0.4  # waited until the heartbeat was 1 s old, not longer than needed
    assert q.get(job_id).state == "finished"
    assert WorkerTable(project).get("far-worker").state == "dead"


def test_exit_when_idle_leaves_a_healthy_workers_job_alone(project):
    q = JobQueue(project)
    job_id = q.submit("quick", {})
    _held_by(project, job_id, "live-worker", socket.gethostname(), os.getpid(), beat_age=0.0,
             started=utc_now())
    assert Worker(project.path, heartbeat_s=0.1, stale_after_s=60).run(exit_when_idle=True) == 0
    assert q.get(job_id).state == "running" and WorkerTable(project).get("live-worker").state == "busy"


def test_a_huge_priority_is_a_message_not_an_overflow(project, capsys):
    job_id = JobQueue(project).submit("quick", {})
    with pytest.raises(SystemExit) as done:
        main(["jobs", "priority", str(project.path), str(job_id), "99999999999999999999"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "priority 99999999999999999999: a whole number between" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["jobs", "priority", str(project.path), str(job_id), "high"])
    assert "'high' is not a whole number" in capsys.readouterr().err
    assert main(["jobs", "priority", str(project.path), str(job_id), str(2**63 - 1)]) == 0
    assert JobQueue(project).get(job_id).priority == 2**63 - 1
    assert main(["jobs", "priority", str(project.path), "99", "3"]) == 2
    assert "no job with id 99" in capsys.readouterr().err


def test_a_gpu_the_machine_does_not_have_is_refused(project, capsys, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert main(["worker", str(project.path), "--device", "cuda:7", "--exit-when-idle"]) == 2
    assert "--device cuda:7: this machine shows no GPU" in capsys.readouterr().err
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")  # seen inside as cuda:0 and cuda:1
    assert main(["worker", str(project.path), "--device", "cuda:2", "--exit-when-idle"]) == 2
    assert "shows cuda:0..cuda:1" in capsys.readouterr().err
    assert main(["worker", str(project.path), "--device", "gpu0", "--exit-when-idle"]) == 2
    assert "use cpu, auto, mps, cuda or cuda:N" in capsys.readouterr().err
    assert main(["worker", str(project.path), "--stale-after", "10", "--exit-when-idle"]) == 2
    assert "at least 3 x the heartbeat interval" in capsys.readouterr().err


def test_slurm_exec_outside_a_prepared_run_folder_is_a_message(tmp_path, capsys):
    assert main(["slurm", "exec", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "not a run folder prepared for Slurm" in err and "Traceback" not in err
    assert not (tmp_path / "nothing").exists()
