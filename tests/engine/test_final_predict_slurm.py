"""Predict jobs on Slurm without a cluster: the node's chunk files and the submitter's import.

Stand-in ``sbatch``/``squeue``/``scancel`` scripts (as in test_slurm_sync.py) play Slurm; the
node's side runs in this process on the run folder's snapshot, exactly what ``affengine slurm
exec`` calls. The real cluster (test_slurm_predict_cluster.py) shows the whole path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.final import (
    SCORED_DIR,
    finalize,
    read_scored,
    run_predict_job,
    score_images,
    screened_heatmaps,
    stored_predictions,
    submit_predict,
    submit_screen_heatmaps,
)
from engine.jobs import JobQueue, cancel_job
from engine.runs import read_events
from engine.slurm import ClusterSettings, submissions, sync
from engine.slurm._inputs import write_status
from engine.slurm._node import _Job
from engine.store import Project
from tests.engine._final_factory import A, copy_study, held_out_study, shared_base
from tests.engine.test_final_predict import _add_unlabelled, _label_state

FAKES = {
    "sbatch": 'n=$(cat "$FAKE_SLURM/next_id"); echo $((n + 1)) > "$FAKE_SLURM/next_id"\n'
              'echo "$n;cluster"',
    "squeue": 'cat "$FAKE_SLURM/states"',
    "sacct": "exit 1",
    "scancel": 'echo "$1" >> "$FAKE_SLURM/cancelled"',
}


@pytest.fixture()
def archive(tmp_path_factory, tmp_path):
    """The trained held-out study with its ensemble final model and 8 unlabelled images."""
    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path)
    with Project.open(path) as project:
        assert finalize(project, A).id == 1
        new = _add_unlabelled(project, 8)
    return path, new


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


def _states(fake: Path, **states: str) -> None:
    fake.joinpath("states").write_text("".join(f"{i}|{s}\n" for i, s in states.items()))


def _node(run_dir: Path, slurm_id: str, stop_after_chunks: int | None = None) -> str:
    """What ``affengine slurm exec`` does for the job, in this process: the snapshot, the run folder."""
    data = json.loads((run_dir / "slurm" / "job.json").read_text())
    job = _Job(data)
    assert job.backend == "slurm"

    def stop() -> bool:
        return stop_after_chunks is not None and len(list((run_dir / SCORED_DIR).glob("chunk-*.csv"))) \
            >= stop_after_chunks

    with Project.open(run_dir / "slurm" / "project.affproj") as snapshot:
        state = run_predict_job(job, snapshot, run_dir, stop, "cpu")
    write_status(run_dir, state="interrupted" if state == "cancelled" else state, slurm_id=slurm_id)
    return state


def _count(project) -> int:
    return project.query("SELECT COUNT(*) FROM predictions")[0][0]


def test_slurm_predict_imports_each_chunk_once_and_resumes_after_a_time_out(archive, fake):
    path, new = archive
    ClusterSettings(time="10").save(path)
    with Project.open(path) as project:
        before = _label_state(project)
        job_id = submit_predict(project, A, "unlabelled", backend="slurm", chunk=3)
        assert sync(project).submitted == [job_id]
        run = project.runs_dir / JobQueue(project).get(job_id).run_id
        # the first submission scores one chunk, then the time limit strikes
        assert _node(run, "100", stop_after_chunks=1) == "cancelled"
        assert len(read_scored(run)) == 3 and _count(project) == 0  # the node never wrote the database
        _states(fake, **{"100": "RUNNING"})
        report = sync(project)
        assert report.imported == {job_id: 3} and JobQueue(project).get(job_id).state == "running"
        assert sync(project).imported == {} and _count(project) == 3  # a second sync adds nothing
        _states(fake, **{"100": "TIMEOUT"})
        report = sync(project)
        assert report.resubmitted == [job_id] and report.imported == {}
        assert [s.state for s in submissions(project, job_id)] == ["TIMEOUT", "PENDING"]
        assert _node(run, "101") == "finished"  # the resubmission skips the chunk already scored
        started = [e for e in read_events(run / "events.jsonl") if e["type"] == "started"]
        assert [e["already"] for e in started] == [0, 3]
        assert [e["step"] for e in read_events(run / "events.jsonl") if e["type"] == "progress"] == [3, 6, 8]
        assert len(list((run / SCORED_DIR).glob("chunk-*.csv"))) == 3
        _states(fake, **{"101": "COMPLETED"})
        report = sync(project)
        assert report.finished == [job_id] and report.imported == {job_id: 5}
        assert (job_id, "imported 5 result row(s)") in report.changes
        assert sync(project).imported == {}  # ended: nothing followed, nothing imported again
        preds = stored_predictions(project, experiment=A)
        assert sorted(preds) == new and _count(project) == len(new)
        assert all(p.job_id == job_id for p in preds.values())
        np.testing.assert_allclose([preds[i].probability for i in new],
                                   score_images(project, finalize(project, A), new), atol=1e-6)
        assert _label_state(project) == before  # predictions never change a label
        csv_rows = (run / "predictions.csv").read_text().splitlines()
        assert len(csv_rows) == len(new) + 1


def test_slurm_predict_cancel_keeps_the_scored_chunks(archive, fake):
    path, _ = archive
    ClusterSettings(time="10").save(path)
    with Project.open(path) as project:
        job_id = submit_predict(project, A, "unlabelled", backend="slurm", chunk=2)
        sync(project)
        run = project.runs_dir / JobQueue(project).get(job_id).run_id
        _states(fake, **{"100": "RUNNING"})
        sync(project)
        assert cancel_job(project, job_id) == "running"  # flagged and scancelled
        assert (fake / "cancelled").read_text().split() == ["100"]
        _node(run, "100", stop_after_chunks=2)  # the node stops at its next chunk (SIGTERM)
        _states(fake, **{"100": "CANCELLED"})
        report = sync(project)
        assert report.cancelled == [job_id] and report.imported == {job_id: 4}
        assert JobQueue(project).get(job_id).state == "cancelled" and _count(project) == 4
        types = [e["type"] for e in read_events(run / "events.jsonl")]
        assert "cancelled" in types and "finished" not in types


def test_a_heatmap_job_on_slurm_leaves_its_map_in_the_run_folder(archive, fake):
    path, new = archive
    ClusterSettings(time="10").save(path)
    with Project.open(path) as project:
        job_id = submit_screen_heatmaps(project, A, [new[4]], backend="slurm")
        sync(project)
        run = project.runs_dir / JobQueue(project).get(job_id).run_id
        assert _node(run, "100") == "finished"
        assert (run / "heatmaps" / "gradcam.npz").exists()
        assert screened_heatmaps(project, A) is None  # not before the job counts as finished
        _states(fake, **{"100": "COMPLETED"})
        report = sync(project)
        assert report.finished == [job_id] and report.imported == {job_id: 1}
        h = screened_heatmaps(project, A)
        assert h.image_ids.tolist() == [new[4]] and h.label.tolist() == [-1]
        np.testing.assert_allclose(h.probability, [stored_predictions(project, 1)[new[4]].probability],
                                   atol=1e-5)


def test_a_malformed_chunk_fails_the_job_naming_the_file_and_line(archive, fake):
    path, _ = archive
    ClusterSettings(time="10").save(path)
    with Project.open(path) as project:
        job_id = submit_predict(project, A, "unlabelled", backend="slurm")
        sync(project)
        run = project.runs_dir / JobQueue(project).get(job_id).run_id
        (run / SCORED_DIR).mkdir()
        (run / SCORED_DIR / "chunk-00000.csv").write_text(
            "image_id,final_model_id,probability,predicted_at\n1,1,0.5,2026-01-01T00:00:00+00:00\n"
            "2,1,1.7,2026-01-01T00:00:00+00:00\n")
        write_status(run, state="finished", slurm_id="100")
        _states(fake, **{"100": "COMPLETED"})
        assert sync(project).failed == [job_id]
        error = JobQueue(project).get(job_id).error
        assert "its results cannot be imported" in error and "chunk-00000.csv: line 3" in error
        assert _count(project) == 0  # nothing of a bad file comes in


def test_cli_predict_backend_slurm_queues_for_the_cluster(archive, capsys):
    path, _ = archive
    assert main(["predict", str(path), "-e", A, "--backend", "slurm"]) == 0
    out = capsys.readouterr().out
    assert "for Slurm" in out and "affengine slurm sync" in out
    with Project.open(path) as project:
        job = JobQueue(project).list()[-1]
        assert (job.kind, job.backend, job.state) == ("predict", "slurm", "queued")
    with pytest.raises(SystemExit):  # argparse: usage and exit 2
        main(["predict", str(path), "-e", A, "--backend", "cloud"])
    assert "invalid choice: 'cloud'" in capsys.readouterr().err
