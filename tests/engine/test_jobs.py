import multiprocessing as mp
import threading
import time

import pytest

from engine.jobs import JobQueue, Worker, register_job_kind
from engine.runs import EventWriter, read_events
from engine.store import Project


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "Q") as p:
        yield p


def test_claim_order_priority_and_states(project):
    q = JobQueue(project)
    a = q.submit("train", {"n": 1})
    b = q.submit("train", {"n": 2}, priority=5)
    c = q.submit("explain", {"n": 3})
    assert q.claim("w1").id == b  # higher priority first
    assert q.claim("w1", kinds=("explain",)).id == c
    job = q.claim("w2")
    assert (job.id, job.state, job.worker, job.attempts, job.spec) == (a, "running", "w2", 1, {"n": 1})
    assert q.claim("w3") is None
    q.finish(a, "failed", "boom")
    assert q.get(a).error == "boom"
    q.retry(a)
    assert q.get(a).state == "queued" and q.claim("w3").attempts == 2
    with pytest.raises(ValueError, match="only failed, cancelled or interrupted"):
        q.retry(b)
    assert q.counts()["running"] == 3


def test_cancel_waiting_and_running_jobs(project):
    q = JobQueue(project)
    a, b = q.submit("train", {}), q.submit("train", {})
    assert q.request_cancel(b) == "cancelled"
    q.claim("w")
    assert q.request_cancel(a) == "running"
    assert q.heartbeat(a, "w") is True  # the worker learns of it at its next heartbeat
    assert q.claim("w") is None  # the cancelled job is never claimed


def test_stale_heartbeat_marks_job_interrupted_and_it_is_claimed_again(project):
    q = JobQueue(project)
    a = q.submit("train", {})
    q.claim("dead-worker")
    assert q.reap_stale(stale_after_s=60) == []
    project.conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (time.time() - 120, a))
    assert q.reap_stale(stale_after_s=60) == [a]
    job = q.claim("new-worker")
    assert (job.id, job.worker, job.attempts) == (a, "new-worker", 2)


def _claim_all(path, name, out, start):
    start.wait()
    with Project.open(path) as p:
        q = JobQueue(p)
        while (job := q.claim(name)) is not None:
            out.put((name, job.id))
    out.put((name, None))


def test_two_worker_processes_never_claim_the_same_job(project):
    q = JobQueue(project)
    ids = [q.submit("train", {"i": i}) for i in range(60)]
    ctx = mp.get_context("spawn")
    out, start = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_claim_all, args=(str(project.path), f"w{k}", out, start)) for k in range(2)]
    for proc in procs:
        proc.start()
    start.set()
    claimed, finished = [], 0
    while finished < 2:
        name, job_id = out.get(timeout=120)
        if job_id is None:
            finished += 1
        else:
            claimed.append(job_id)
    for proc in procs:
        proc.join(30)
    assert sorted(claimed) == ids  # each job exactly once


def _echo_runner(job, project, run_dir, should_stop, device, progress):
    with EventWriter(run_dir / "events.jsonl") as ev:
        ev.emit("started", device=device)
        for step in range(job.spec.get("steps", 1)):
            if should_stop():
                ev.emit("cancelled", step=step)
                return "cancelled"
            time.sleep(job.spec.get("sleep", 0))
            ev.emit("progress", step=step)
        if job.spec.get("fail"):
            raise RuntimeError("the job failed on purpose")
        ev.emit("finished")
    return "finished"


register_job_kind("echo", _echo_runner)


def test_worker_runs_jobs_and_records_failures(project):
    q = JobQueue(project)
    ok = q.submit("echo", {"steps": 3})
    bad = q.submit("echo", {"fail": True})
    assert Worker(project.path, heartbeat_s=0.1).run(exit_when_idle=True) == 2
    assert q.get(ok).state == "finished" and q.get(bad).state == "failed"
    assert "on purpose" in q.get(bad).error
    run_dir = project.runs_dir / q.get(bad).run_id
    assert "Traceback" in (run_dir / "error.txt").read_text()
    assert read_events(run_dir / "events.jsonl")[-1]["type"] == "failed"
    assert [e["type"] for e in read_events(project.runs_dir / q.get(ok).run_id / "events.jsonl")] == \
        ["started", "progress", "progress", "progress", "finished"]


def test_worker_cancel_and_shutdown(project):
    q = JobQueue(project)
    long = q.submit("echo", {"steps": 500, "sleep": 0.01})
    worker = Worker(project.path, heartbeat_s=0.05)
    thread = threading.Thread(target=worker.run, kwargs={"exit_when_idle": True})
    thread.start()
    deadline = time.time() + 30
    while q.get(long).state != "running" and time.time() < deadline:
        time.sleep(0.02)
    q.request_cancel(long)
    thread.join(30)
    assert q.get(long).state == "cancelled"

    # Shutdown (SIGTERM) leaves the job interrupted, to be resumed by the next worker.
    job = q.submit("echo", {"steps": 500, "sleep": 0.01})
    worker = Worker(project.path, heartbeat_s=0.05)
    thread = threading.Thread(target=worker.run)
    thread.start()
    while q.get(job).state != "running" and time.time() < deadline + 30:
        time.sleep(0.02)
    worker.stop()
    thread.join(30)
    assert q.get(job).state == "interrupted"
    states = project.query("SELECT state FROM workers ORDER BY started_at")
    assert [r[0] for r in states] == ["stopped", "stopped"]


def test_slurm_jobs_are_never_claimed_or_reaped_by_local_workers(project):
    q = JobQueue(project)
    remote = q.submit("echo", {"n": 1}, backend="slurm", priority=5)
    local = q.submit("echo", {"n": 2})
    assert q.get(remote).backend == "slurm" and q.get(local).backend == "local"
    assert q.claim("w1").id == local
    assert q.claim("w2") is None
    with project.transaction() as conn:  # a Slurm job is running, without local heartbeats
        conn.execute("UPDATE jobs SET state = 'running', heartbeat_at = NULL WHERE id = ?", (remote,))
    assert remote not in q.reap_stale(0)
    assert [j.id for j in q.list(backend="slurm")] == [remote]
    with pytest.raises(ValueError, match="unknown backend"):
        q.submit("echo", {}, backend="cloud")


def test_visible_gpus_follows_cuda_visible_devices(monkeypatch):
    from engine.jobs import visible_gpus

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert visible_gpus() == ["cuda:2", "cuda:3"]
    for none in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", none)
        assert visible_gpus() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert visible_gpus() == []


def test_gpu_names_from_nvidia_smi(tmp_path, monkeypatch):
    from engine.jobs import gpu_names

    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\ncase \"$1\" in\n"
                   "  --query-gpu=index,name) printf '0, NVIDIA H100 80GB HBM3\\n1, NVIDIA H200\\n';;\n"
                   "  *) printf '0\\n1\\n';;\nesac\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert gpu_names() == {"cuda:0": "NVIDIA H100 80GB HBM3", "cuda:1": "NVIDIA H200"}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert gpu_names() == {"cuda:1": "NVIDIA H200"}


def _slow_to_stop_runner(job, project, run_dir, should_stop, device, progress):
    """Stops long after the shutdown (a validation pass, a 1 GB checkpoint on NFS)."""
    while not should_stop():
        time.sleep(0.01)
    stopped = time.time()
    deadline = stopped + 10
    while time.time() < deadline:  # the job is still ours: its heartbeat must go on
        beat = project.query("SELECT heartbeat_at FROM jobs WHERE id = ?", (job.id,))[0][0]
        if beat is not None and beat > stopped:
            return "cancelled"
        time.sleep(0.02)
    raise RuntimeError("no heartbeat while the job finished stopping")


register_job_kind("slow_to_stop", _slow_to_stop_runner)


def test_heartbeat_goes_on_until_a_shut_down_worker_has_left_its_job(project):
    q = JobQueue(project)
    job = q.submit("slow_to_stop", {})
    worker = Worker(project.path, heartbeat_s=0.05)
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.time() + 30
    while q.get(job).state != "running" and time.time() < deadline:
        time.sleep(0.02)
    worker.stop()  # SIGTERM
    thread.join(30)
    assert not thread.is_alive()
    assert (q.get(job).state, q.get(job).error) == ("interrupted", None)  # not reaped while stopping


def test_cancel_never_kills_the_pid_of_a_worker_that_died_long_ago(project):
    import socket
    import subprocess
    import sys

    from engine.jobs import cancel_job

    q = JobQueue(project)
    job = q.submit("echo", {})
    q.claim("dead-worker")  # its worker was OOM-killed; the job still says running
    # the dead worker's pid now belongs to some other process (here: one of ours)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        with project.transaction() as conn:
            conn.execute("INSERT INTO workers(id, host, pid, device, started_at, heartbeat_at, state) "
                         "VALUES ('dead-worker', ?, ?, 'cpu', '2026-01-01T00:00:00+00:00', ?, 'busy')",
                         (socket.gethostname(), other.pid, time.time() - 3600))
        assert cancel_job(project, job, grace_s=0.2) == "cancelled"
        with pytest.raises(subprocess.TimeoutExpired):  # not killed: it started after that worker
            other.wait(timeout=1)
        assert f"its worker (pid {other.pid}) is gone" in q.get(job).error
    finally:
        other.kill()
        other.wait()
