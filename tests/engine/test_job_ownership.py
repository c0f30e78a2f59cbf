"""One owner per piece of state: job rows, worker rows, backends, run-folder paths, error lines."""

import re
from pathlib import Path

import pytest

import engine
from engine.jobs import JobQueue, Worker, cancel_job, register_backend, register_job_kind
from engine.jobs._backends import _REGISTRY
from engine.runs import RunFolder
from engine.store import Project

ENGINE = Path(engine.__file__).parent


def _writers(pattern: str) -> set[str]:
    found = set()
    for path in ENGINE.rglob("*.py"):
        if re.search(pattern, path.read_text(encoding="utf-8"), re.IGNORECASE):
            found.add(path.relative_to(ENGINE).as_posix())
    return found


def test_only_the_queue_writes_jobs_and_only_the_worker_table_writes_workers():
    assert _writers(r"(UPDATE|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM)\s+jobs\b") == {"jobs/_queue.py"}
    assert _writers(r"(UPDATE|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM)\s+workers\b") == \
        {"jobs/_workers_table.py"}
    assert not _writers(r"backend\s*==\s*['\"]slurm['\"]")  # the registry decides, not branches
    # ... in the GUI's job queue too: its Cancel goes through engine.jobs.cancel_job
    queue_widget = ENGINE.parent / "affgui" / "parts" / "experiments" / "job_queue.py"
    assert not re.search(r"backend\s*==\s*['\"]slurm['\"]", queue_widget.read_text(encoding="utf-8"))


def test_cancel_goes_through_the_backend_registry(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(_REGISTRY, "slurm", _REGISTRY.get("slurm"))
    register_backend("slurm", cancel=lambda project, job_id, **kw: calls.append((job_id, kw)) or "queued")
    with Project.create(tmp_path / "B") as project:
        job_id = JobQueue(project).submit("train", {}, backend="slurm")
        assert cancel_job(project, job_id, grace_s=3) == "queued"
    assert calls == [(job_id, {"grace_s": 3, "poll_s": 0.2})]


def _fails(job, project, run_dir, should_stop, device, progress):
    raise RuntimeError("the loader broke\nsecond line of detail\nthird")


register_job_kind("fails_loudly", _fails)


def test_a_failed_jobs_error_is_one_line_and_the_traceback_is_in_its_run_folder(tmp_path):
    with Project.create(tmp_path / "E") as project:
        q = JobQueue(project)
        job_id = q.submit("fails_loudly", {})
        Worker(project.path, heartbeat_s=0.1).run(exit_when_idle=True)
        job = q.get(job_id)
        assert job.error == "RuntimeError: the loader broke"
        folder = RunFolder.of(project, job.run_id)
        text = folder.error_file.read_text()
        assert "Traceback" in text and "second line of detail" in text


def test_run_folder_is_the_one_layout():
    from engine.explain._storage import HEATMAP_DIR
    from engine.train import _outputs

    f = RunFolder("/p/runs", "r1")
    assert f.events == Path("/p/runs/r1") / _outputs.EVENTS
    assert f.last_checkpoint == Path("/p/runs/r1") / _outputs.LAST
    assert f.best_checkpoint == Path("/p/runs/r1") / _outputs.BEST
    assert (f.metrics, f.predictions) == (Path("/p/runs/r1/metrics.json"), Path("/p/runs/r1/predictions.csv"))
    assert f.heatmaps == Path("/p/runs/r1") / HEATMAP_DIR
    assert f.heatmap("gradcam") == Path("/p/runs/r1/heatmaps/gradcam.npz")
    with pytest.raises(ValueError, match="heatmap method"):
        f.heatmap("../x")


def test_every_engine_exception_derives_from_engine_error():
    import ast
    import importlib

    from engine.errors import EngineError

    found = []
    for path in sorted(ENGINE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(
                    ast.unparse(b).endswith(("Error", "Exception", "NotFound", "InvalidInput", "NotReady"))
                    for b in node.bases):
                module = ".".join(path.relative_to(ENGINE.parent).with_suffix("").parts)
                module = module.removesuffix(".__init__")
                found.append((module, node.name))
    assert len(found) > 15
    bad = [f"{m}.{n}" for m, n in found
           if not issubclass(getattr(importlib.import_module(m), n), (EngineError, Warning))]
    assert bad == []
