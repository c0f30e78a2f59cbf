"""Issue 20: ``affengine workers --gpus 0 --per-gpu N`` and the memory check before a claim."""

from __future__ import annotations

import threading
import time

import pytest

from engine.cli import main
from engine.jobs import JobQueue, Worker, register_job_kind, worker_devices
from engine.jobs._memory import MemoryGate, job_memory_need
from engine.store import Project

GiB = 2**30


def _need(kind, spec):
    return spec.get("need", 0)


def _finish_runner(job, project, run_dir, should_stop, device, progress=None) -> str:
    return "finished"


register_job_kind("sized", _finish_runner)


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "Q") as p:
        yield p


def test_per_gpu_repeats_each_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # a fake machine with two GPUs
    assert worker_devices("0", per_gpu=3) == ["cuda:0"] * 3
    assert worker_devices("all", cpu=1, per_gpu=2) == ["cuda:0", "cuda:0", "cuda:1", "cuda:1", "cpu"]
    with pytest.raises(ValueError, match="--per-gpu 0: a number of workers per GPU >= 1"):
        worker_devices("0", per_gpu=0)
    with pytest.raises(ValueError, match="give the GPUs to share with --gpus"):
        worker_devices(None, cpu=2, per_gpu=2)


def test_cli_dry_run_starts_n_workers_on_one_gpu(tmp_path, monkeypatch, capsys):
    Project.create(tmp_path / "p").close()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert main(["workers", str(tmp_path / "p.affproj"), "--gpus", "0", "--per-gpu", "2", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "worker 0: cuda:0 (CUDA_VISIBLE_DEVICES=0 --device cuda:0)",
        "worker 1: cuda:0 (CUDA_VISIBLE_DEVICES=0 --device cuda:0)",
    ]
    assert main(["workers", str(tmp_path / "p.affproj"), "--gpus", "0", "--per-gpu", "0"]) == 2
    assert "--per-gpu 0" in capsys.readouterr().err


def test_gate_rules():
    gate = MemoryGate(lambda: (10 * GiB, 16 * GiB), need=_need)
    admit = gate.admit_fn()
    assert admit("sized", {"need": 40 * GiB}, [])  # alone on the device: always (OOM halving copes)
    assert admit("sized", {"need": 6 * GiB}, [("sized", {"need": 6 * GiB})])  # 12 <= 0.9 x 16
    assert not admit("sized", {"need": 9 * GiB}, [("sized", {"need": 6 * GiB})])  # 15 > 14.4
    assert "needs ~9.0 GiB" in gate.last_refusal and "10.0 GiB free" in gate.last_refusal
    assert not admit("sized", {"need": 11 * GiB}, [("sized", {"need": 1})])  # more than is free
    assert MemoryGate(None).admit_fn() is None  # CPU: nothing to check
    unknown = MemoryGate(lambda: None, need=_need).admit_fn()  # the probe cannot say: admitted
    assert unknown("sized", {"need": 99 * GiB}, [("sized", {"need": 99 * GiB})])
    calls = []
    lazy = MemoryGate(lambda: calls.append(1) or (GiB, GiB), need=_need).admit_fn()
    assert lazy("sized", {"need": 5 * GiB}, []) and calls == []  # nothing shares it: no probe
    assert not lazy("sized", {"need": 5 * GiB}, [("sized", {})])
    assert not lazy("sized", {"need": 6 * GiB}, [("sized", {})]) and calls == [1]  # once per claim


def _worker(project, device, free, total=16 * GiB):
    w = Worker(project.path, device=device, memory_probe=lambda: (free, total), heartbeat_s=0.05,
               stale_after_s=60)
    w.memory.need = _need
    w.workers.register(w.id, w.device_label)
    return w


def test_claims_on_one_device_see_each_other(project):
    q = JobQueue(project)
    big1 = q.submit("sized", {"need": 6 * GiB})
    big2 = q.submit("sized", {"need": 6 * GiB})
    small = q.submit("sized", {"need": 3 * GiB})
    a = _worker(project, "cuda:0", free=16 * GiB)
    assert q.claim(a.id, admit=a.memory.admit_fn()).id == big1
    b = _worker(project, "cuda:0", free=16 * GiB)  # a's job has not allocated yet: free looks full
    assert q.claim(b.id, admit=b.memory.admit_fn()).id == big2  # 6 + 6 <= 14.4
    c = _worker(project, "cuda:0", free=4 * GiB)
    assert q.claim(c.id, admit=c.memory.admit_fn()) is None  # 3 + 12 > 14.4 GiB
    assert "2 running job(s)" in c.memory.last_refusal
    other = _worker(project, "cuda:1", free=4 * GiB)  # another GPU: nothing runs there
    assert q.claim(other.id, admit=other.memory.admit_fn()).id == small
    for w in (a, b, c, other):
        w.project.close()


def test_a_worker_waits_for_memory_instead_of_leaving_and_runs_the_job_later(project):
    q = JobQueue(project)
    first = q.submit("sized", {"need": 10 * GiB})
    waiting = q.submit("sized", {"need": 10 * GiB})
    holder = _worker(project, "cuda:0", free=16 * GiB)
    held = q.claim(holder.id, admit=holder.memory.admit_fn())
    assert held.id == first
    logs: list[str] = []
    w = Worker(project.path, device="cuda:0", memory_probe=lambda: (6 * GiB, 16 * GiB), poll_s=0.05,
               heartbeat_s=0.05, log=logs.append)
    w.memory.need = _need
    done = []
    t = threading.Thread(target=lambda: done.append(w.run(exit_when_idle=True)))
    t.start()
    time.sleep(1.0)
    assert t.is_alive() and q.get(waiting).state == "queued"  # queued for memory, not idle
    assert any("waiting for memory on cuda:0" in m for m in logs)
    assert sum("waiting for memory" in m for m in logs) == 1  # said once, not every poll
    q.finish(first, "finished", token=held.claim_token)  # the holder's job ends
    t.join(timeout=30)
    assert not t.is_alive() and done == [1] and q.get(waiting).state == "finished"
    holder.project.close()


def test_training_need_estimate_is_near_the_measured_peaks():
    # H200, batch 256, 224 px, bf16 (benchmarks/results/2026-11-27-h200): 12.46 GB and 21.04 GB
    base = {"project": "p", "split": "s", "fold": 0, "pretrained": False, "batch_size": 256}
    r50 = job_memory_need("train", {**base, "model": "resnet50"})
    vit = job_memory_need("train", {**base, "model": "vit_base_patch16_224"})
    assert 12.46e9 <= r50 <= 1.2 * 12.46e9
    assert 21.04e9 <= vit <= 1.2 * 21.04e9
    small = job_memory_need("train", {**base, "model": "resnet10t", "image_size": 128, "batch_size": 64})
    assert small < 2e9  # four of them fit on any training GPU
    assert job_memory_need("explain", {"run": "x"}) == 2 * GiB  # not a run spec: the default
