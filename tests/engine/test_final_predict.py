"""Screening predictions: stored per image with the final model and time, as a cancellable job."""

import hashlib
import json

import numpy as np
import pytest

from engine.cli import main
from engine.final import (
    FinalModelError,
    finalize,
    likely_aff_unlabelled,
    predict_images,
    predict_job_spec,
    score_images,
    select_images,
    stored_predictions,
    submit_predict,
)
from engine.jobs import JobQueue, Worker
from engine.store import ImageRecord, Project
from tests.engine._final_factory import A, copy_study, held_out_study, shared_base
from tests.engine._train_factory import synthetic_image


def _add_unlabelled(project, n: int, seed: int = 5) -> list[int]:
    rng = np.random.default_rng(seed)
    ids = []
    with project.transaction() as conn:
        for k in range(n):
            pixels = synthetic_image("AFF" if k % 2 else "NFF", rng)
            sha = hashlib.sha256(pixels.tobytes() + f"new{k}".encode()).hexdigest()
            project.cache.write_full(sha, pixels)
            ids.append(project.images.insert(conn, ImageRecord(
                path=f"/archive/U{k:03d}.png", source_folder="/archive", sha256=sha, bytes=pixels.size,
                format="png", width=72, height=96, patient_key=f"U{k:03d}", cache_height=96,
                cache_width=72, view="AP" if k < n - 2 else "lateral")))
    return ids


@pytest.fixture()
def archive(tmp_path_factory, tmp_path):
    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path)
    with Project.open(path) as project:
        assert finalize(project, A).id == 1  # the shared study has no final model of its own
        new = _add_unlabelled(project, 8)
    return path, new


def _label_state(project):
    return (project.labels.all(), project.query("SELECT COUNT(*) FROM label_history")[0][0])


def test_cli_predict_stores_probabilities_and_never_touches_labels(archive, capsys):
    path, new = archive
    with Project.open(path) as project:
        before = _label_state(project)
    assert main(["predict", str(path), "-e", A, "--device", "cpu", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "RESULT predicted_images 8" in out and len(out.strip().splitlines()) == 4
    with Project.open(path) as project:
        assert _label_state(project) == before
        preds = stored_predictions(project, experiment=A)
        assert sorted(preds) == new
        final = finalize(project, A)
        first = next(iter(preds.values()))
        np.testing.assert_allclose([preds[i].probability for i in new],
                                   score_images(project, final, new), atol=1e-6)
        assert first.final_model_id == 1 and first.predicted_at.endswith("+00:00") and first.job_id is None
        t = final.thresholds("image")["youden"]
        likely = likely_aff_unlabelled(project, A)
        assert [p.image_id for p in likely] == sorted([i for i in new if preds[i].probability >= t],
                                                      key=lambda i: -preds[i].probability)
    assert main(["predict", str(path), "-e", A, "--filter", "view=lateral", "--device", "cpu"]) == 0
    assert "RESULT predicted_images 2" in capsys.readouterr().out
    assert main(["predict", str(path), "-e", A, "--filter", "colour=red"]) == 2
    assert "unknown filter(s) ['colour']" in capsys.readouterr().err


def test_predict_job_on_a_worker_cancels_and_resumes(archive, monkeypatch):
    import engine.final._predict as predict_mod

    path, new = archive
    monkeypatch.setattr(predict_mod, "CHUNK", 3)
    with Project.open(path) as project:
        job_id = submit_predict(project, A, "all", {"source_folder": "/archive"})
        spec = JobQueue(project).get(job_id).spec
        assert spec["image_ids"] == new and spec["final_model_id"] == 1
        def stop() -> bool:  # cancel once the first chunk is stored
            return project.query("SELECT COUNT(*) FROM predictions")[0][0] >= 3

        state = predict_images(project, spec, job_id=job_id, should_stop=stop)
        assert state == "cancelled" and len(stored_predictions(project, 1)) == 3
    Worker(path, device="cpu").run(exit_when_idle=True)
    with Project.open(path) as project:
        job = JobQueue(project).get(job_id)
        assert job.state == "finished"
        preds = stored_predictions(project, 1)
        assert sorted(preds) == new and all(p.job_id == job_id for p in preds.values())
        events = [json.loads(line) for line in
                  (project.runs_dir / job.run_id / "events.jsonl").read_text().splitlines()]
        started = next(e for e in events if e["type"] == "started")
        assert started["already"] == 3  # the rerun skipped the chunk already stored
        steps = [e["step"] for e in events if e["type"] == "progress"]
        assert steps == [6, 8] and events[-1]["type"] == "finished"
        assert (project.runs_dir / job.run_id / "predictions.csv").read_text().count("\n") == 9


def test_refusals(archive):
    path, _ = archive
    with Project.open(path) as project:
        with pytest.raises(FinalModelError, match="cannot be combined with a label filter"):
            select_images(project, "unlabelled", {"label": "AFF"})
        with pytest.raises(FinalModelError, match="no unlabelled image matches"):
            predict_job_spec(project, A, "unlabelled", {"patient": "nobody"})
        with pytest.raises(FinalModelError, match="has no final model"):
            predict_job_spec(project, "b", "all")
