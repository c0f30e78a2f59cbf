"""Several workers on one project: one per GPU (CUDA_VISIBLE_DEVICES) or N CPU workers, one queue."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.cli import main
from engine.experiments import create_experiment, experiment_jobs
from engine.jobs import worker_devices, worker_env
from engine.store import Project
from tests.engine._train_factory import make_project, tiny_spec


def test_gpu_lists_follow_the_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,2")
    assert worker_devices("all") == ["cuda:0", "cuda:2"]
    assert worker_devices("2", cpu=1) == ["cuda:2", "cpu"]
    assert worker_devices(None, cpu=3) == ["cpu", "cpu", "cpu"]
    for gpus, message in (("1", "cuda:1 not visible here (visible: cuda:0, cuda:2)"),
                          ("0,0", "named twice"), ("a,b", "'all' or GPU indices")):
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            worker_devices(gpus)
    with pytest.raises(ValueError, match="no workers asked for"):
        worker_devices(None, cpu=0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(ValueError, match="no GPU visible"):
        worker_devices("all")


def test_each_gpu_worker_sees_only_its_gpu_and_records_its_real_name(tmp_path, monkeypatch):
    from engine.jobs import Worker

    env, device = worker_env("cuda:2")
    assert env["CUDA_VISIBLE_DEVICES"] == "2" and device == "cuda:0"
    assert env["AFFWB_PHYSICAL_DEVICE"] == "cuda:2"
    monkeypatch.setenv("AFFWB_PHYSICAL_DEVICE", "cuda:2")  # as a started worker inherits it
    env, device = worker_env("cpu")
    assert device == "cpu" and "AFFWB_PHYSICAL_DEVICE" not in env
    Project.create(tmp_path / "p").close()
    worker = Worker(tmp_path / "p.affproj", device="cuda:0")
    assert worker.device == "cuda:0" and worker.device_label == "cuda:2"


def test_cli_dry_run_names_each_worker(tmp_path, monkeypatch, capsys):
    Project.create(tmp_path / "p").close()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    assert main(["workers", str(tmp_path / "p.affproj"), "--gpus", "0,2", "--cpu", "1", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "worker 0: cuda:0 (CUDA_VISIBLE_DEVICES=0 --device cuda:0)",
        "worker 1: cuda:2 (CUDA_VISIBLE_DEVICES=2 --device cuda:0)",
        "worker 2: cpu (--device cpu)",
    ]
    assert main(["workers", str(tmp_path / "p.affproj"), "--gpus", "5"]) == 2
    assert "cuda:5 not visible" in capsys.readouterr().err


def test_cpu_workers_share_the_queue(tmp_path):
    path = make_project(tmp_path / "study", patients=12, k=2)
    with Project.open(path) as project:
        for name in ("a", "b"):
            create_experiment(project, name, tiny_spec(project.path, epochs=1))
    res = subprocess.run([sys.executable, "-m", "engine", "workers", str(path), "--cpu", "2",
                          "--exit-when-idle", "--log-dir", str(tmp_path / "logs")],
                         capture_output=True, text=True, timeout=600)
    logs = "\n".join(p.read_text() for p in sorted((tmp_path / "logs").glob("*.log")))
    assert res.returncode == 0, res.stdout + res.stderr + logs
    assert "2 worker(s) stopped (exit codes 0, 0)" in res.stdout
    with Project.open(path) as project:
        jobs = experiment_jobs(project, "a") + experiment_jobs(project, "b")
        assert [j.state for j in jobs] == ["finished"] * 4
        assert len({j.worker for j in jobs}) == 2  # both workers took jobs from the one queue
        workers = project.query("SELECT device, state FROM workers")
        assert sorted(tuple(r) for r in workers) == [("cpu", "stopped"), ("cpu", "stopped")]


def test_workers_that_cannot_all_start_leave_none_running(tmp_path, monkeypatch, capsys):
    import engine.jobs._control as control

    Project.create(tmp_path / "p").close()
    started = []

    class FakeWorker:
        def __init__(self):
            self.signals = []

        def terminate(self):
            self.signals.append("TERM")

        def poll(self):
            return None

    def start_worker(project_path, device, log_path, extra):
        if log_path.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(log_path))
        started.append(FakeWorker())
        return started[-1]

    monkeypatch.setattr(control, "start_worker", start_worker)
    logs = tmp_path / "logs"
    (logs / "worker-1-cpu.log").mkdir(parents=True)  # the second worker's log cannot be opened
    assert main(["workers", str(tmp_path / "p.affproj"), "--cpu", "2", "--log-dir", str(logs)]) == 2
    assert "worker-1-cpu.log: Is a directory" in capsys.readouterr().err
    assert [w.signals for w in started] == [["TERM"]]  # the first one is stopped again
    (tmp_path / "a-file").write_text("")
    assert main(["workers", str(tmp_path / "p.affproj"), "--cpu", "1", "--log-dir",
                 str(tmp_path / "a-file")]) == 2
    assert "a-file" in capsys.readouterr().err and len(started) == 1
