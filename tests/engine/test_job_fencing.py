"""Split brain: a worker paused past --stale-after must not go on writing a job another worker took."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import InvalidInput
from engine.jobs import JobLost, JobQueue, Worker
from engine.store import Project

TICK_WORKER = Path(__file__).with_name("_tick_worker.py")


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "F") as p:
        yield p


def _start(project, beat=0.2, stale=0.6):
    paths = [str(Path(__file__).parents[2]), str(TICK_WORKER.parent)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    return subprocess.Popen([sys.executable, str(TICK_WORKER), str(project.path), str(beat), str(stale)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait(condition, timeout=30.0):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_a_paused_worker_loses_its_job_and_writes_nothing_more(project):
    q = JobQueue(project)
    job_id = q.submit("tick", {"steps": 150, "sleep": 0.02})
    run = project.runs_dir / q.get(job_id).run_id
    # every line as written (read_events would hide a line whose seq repeats an earlier one)
    events = lambda: [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()  # noqa: E731
                      if x.strip()] if (run / "events.jsonl").exists() else []
    a = _start(project)
    b = None
    try:
        _wait(lambda: any(e["type"] == "progress" for e in events()))
        a.send_signal(signal.SIGSTOP)  # a laptop suspend, an NFS stall
        time.sleep(1.0)  # past --stale-after 0.6
        b = _start(project)
        _wait(lambda: any(e.get("pid") == b.pid and e["type"] == "progress" for e in events()))
        a.send_signal(signal.SIGCONT)
        _, a_err = a.communicate(timeout=60)
        _, b_err = b.communicate(timeout=60)
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()
    assert (a.returncode, b.returncode) == (0, 0), (a_err, b_err)
    job = q.get(job_id)
    assert (job.state, job.worker.split(":")[1], job.claim_token) == ("finished", str(b.pid), 2)
    seqs = [e["seq"] for e in events()]
    assert seqs == list(range(1, len(seqs) + 1))  # no seq written twice
    first_b = next(i for i, e in enumerate(events()) if e.get("pid") == b.pid)
    assert all(e.get("pid") == b.pid for e in events()[first_b:])  # nothing from a after b took over
    assert [e["step"] for e in events() if e["type"] == "progress" and e["pid"] == b.pid] == list(range(150))
    assert "lost job" in a_err and "writing nothing more" in a_err
    assert f"lost job {job_id}" in a_err


def test_a_stale_owner_cannot_beat_or_finish_a_reclaimed_job(project):
    q = JobQueue(project)
    job_id = q.submit("tick", {})
    first = q.claim("w1")
    assert q.heartbeat(job_id, "w1", first.claim_token) is False
    project.conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (time.time() - 120, job_id))
    assert q.reap_stale(60) == [job_id]
    second = q.claim("w2")
    assert second.claim_token == first.claim_token + 1
    with pytest.raises(JobLost, match="claim 2 by w2"):
        q.heartbeat(job_id, "w1", first.claim_token)
    with pytest.raises(JobLost, match="claim 2 by w2"):
        q.finish(job_id, "failed", "stale", token=first.claim_token)
    assert q.get(job_id).state == "running" and q.get(job_id).error is None
    q.finish(job_id, "finished", token=second.claim_token)
    with pytest.raises(JobLost, match="it is finished"):  # an ended job does not change again
        q.finish(job_id, "failed", "late", token=second.claim_token)
    with pytest.raises(JobLost):
        q.heartbeat(job_id, "w2", second.claim_token)
    assert q.get(job_id).state == "finished"


def test_stale_after_below_three_heartbeats_is_refused(project):
    with pytest.raises(InvalidInput, match=r"--stale-after 10: at least 3 x the heartbeat interval \(15 s\)"):
        Worker(project.path, heartbeat_s=5, stale_after_s=10)
    Worker(project.path, heartbeat_s=5, stale_after_s=15).project.close()
