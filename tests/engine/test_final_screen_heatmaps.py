"""Heatmaps on demand for screened images: the final model's maps of an unlabelled image."""

import numpy as np
import pytest

from engine.cli import main
from engine.explain import read_heatmaps
from engine.final import (
    FinalModelError,
    finalize,
    screened_heatmap_job,
    screened_heatmaps,
    stored_predictions,
    submit_screen_heatmaps,
)
from engine.final._screen_explain import final_model_maps
from engine.jobs import JobQueue, Worker
from engine.runs import read_events
from engine.store import Project
from tests.engine._final_factory import A, copy_study, held_out_study, shared_base
from tests.engine.test_final_predict import _add_unlabelled, _label_state


@pytest.fixture()
def archive(tmp_path_factory, tmp_path):
    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path)
    with Project.open(path) as project:
        assert finalize(project, A).id == 1
        new = _add_unlabelled(project, 4)
    return path, new


def _direct_maps(project, image_ids, method="gradcam"):
    from engine.train import prepare_images

    final = finalize(project, A)
    pixels = prepare_images(project, image_ids, final.image_size, "cpu")
    return final_model_maps(project, final, pixels, method)


def test_a_queued_heatmap_job_stores_the_final_models_map_of_one_screened_image(archive):
    path, new = archive
    with Project.open(path) as project:
        before = _label_state(project)
        assert screened_heatmaps(project, A) is None  # nothing asked for yet
        job_id = submit_screen_heatmaps(project, A, [new[1]])
        assert screened_heatmap_job(project, A, new[1]) == job_id
        assert submit_screen_heatmaps(project, A, [new[1]]) == job_id  # asked again: the same job
        job = JobQueue(project).get(job_id)
        assert (job.kind, job.spec["explain"], job.spec["image_ids"], job.priority) == \
            ("predict", "gradcam", [new[1]], 10)
    Worker(path, device="cpu").run(exit_when_idle=True)
    with Project.open(path) as project:
        job = JobQueue(project).get(job_id)
        assert job.state == "finished", job.error
        assert screened_heatmap_job(project, A, new[1]) is None
        run = project.runs_dir / job.run_id
        types = [e["type"] for e in read_events(run / "events.jsonl")]
        assert types[-2:] == ["artifact", "finished"] and types.count("finished") == 1
        h = screened_heatmaps(project, A)
        assert h.image_ids.tolist() == [new[1]] and h.label.tolist() == [-1]  # unlabelled
        assert (h.info["final_model_id"], h.info["input_size"], h.info["target"]) == (1, 64, "screening")
        maps, probs = _direct_maps(project, [new[1]])
        np.testing.assert_allclose(h.maps.astype(np.float32), maps, atol=2e-3)  # float16 storage
        assert h.maps.shape[1:] == tuple(h.info["grid"]) and 0 <= h.maps.min() and h.maps.max() <= 1
        # the job scored the image too, and the map's probability is the ensemble's P(AFF)
        pred = stored_predictions(project, 1)[new[1]]
        assert pred.job_id == job_id
        np.testing.assert_allclose(h.probability[0], pred.probability, atol=1e-5)
        assert read_heatmaps(run, "gradcam").image_ids.tolist() == [new[1]]
        assert _label_state(project) == before


def test_cli_explain_images_with_the_final_model(archive, capsys):
    path, new = archive
    assert main(["explain", str(path), "--experiment", A, "--image", f"{new[0]},{new[2]}",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.endswith("gradcam.npz") and "explain-" in out and "-screening" in out
    with Project.open(path) as project:
        h = screened_heatmaps(project, A)
        assert h.image_ids.tolist() == sorted([new[0], new[2]])
        maps, _ = _direct_maps(project, sorted([new[0], new[2]]))
        np.testing.assert_allclose(h.maps.astype(np.float32), maps, atol=2e-3)
    assert main(["explain", str(path), "--experiment", A, "--image", str(new[3]), "--queue"]) == 0
    assert "queued predict job" in capsys.readouterr().out
    assert main(["explain", str(path), "--experiment", A, "--image", "x1"]) == 2
    assert "image ids are whole numbers" in capsys.readouterr().err
    assert main(["explain", str(path), "--experiment", A, "--image", "99999"]) == 2
    assert "no image with id 99999" in capsys.readouterr().err
    assert main(["explain", str(path), "--experiment", A, "--image", "1", "--method", "rollout"]) == 2
    assert "class token" in capsys.readouterr().err
    assert main(["explain", str(path), "--experiment", A, "--image", "1", "--on", "test"]) == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_refusals(archive):
    path, new = archive
    with Project.open(path) as project:
        with pytest.raises(FinalModelError, match="has no final model"):
            submit_screen_heatmaps(project, "b", [new[0]])
        with pytest.raises(FinalModelError, match="name at least one image"):
            submit_screen_heatmaps(project, A, [])
        with pytest.raises(FinalModelError, match="unknown backend"):
            submit_screen_heatmaps(project, A, [new[0]], backend="cloud")
