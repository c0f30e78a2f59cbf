"""Refit mode: one job retrains the recipe on all cross-validation patients; the test patients stay out."""

import json

import numpy as np
import pytest

from engine.cli import main
from engine.experiments import experiment_jobs
from engine.final import (
    FinalModelError,
    get_final_model,
    latest_final_model,
    list_final_models,
    member_image_ids,
    refit_recipe,
    score_images,
)
from engine.jobs import JobQueue, Worker
from engine.splits import load_split
from engine.store import Project
from tests.engine._final_factory import A, copy_study, held_out_study, shared_base


def test_refit_job_trains_on_every_cv_image_and_is_evaluated(tmp_path_factory, tmp_path, capsys):
    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path)
    assert main(["finalize", str(path), "-e", A, "--mode", "refit"]) == 0
    assert "queued refit job" in capsys.readouterr().out
    with Project.open(path) as project:
        final = get_final_model(project, max(f.id for f in list_final_models(project)))
        assert final.mode == "refit" and final.members == [] and final.job_id is not None
        with pytest.raises(FinalModelError, match=r"refit job \d+ is queued"):
            latest_final_model(project, A)
        best = [json.loads((project.runs_dir / j.run_id / "metrics.json").read_text())["best_epoch"]
                for j in experiment_jobs(project, A)]
        spec, derived = refit_recipe(project, A)
        assert spec["epochs"] == max(1, round(float(np.median(best)))) and derived["best_epochs"] == best
        assert len(experiment_jobs(project, A)) == 2  # the refit job is not one of the fold jobs
    Worker(path, device="cpu").run(exit_when_idle=True)
    with Project.open(path) as project:
        job = JobQueue(project).get(final.job_id)
        assert job.state == "finished", job.error
        final = latest_final_model(project, A)
        assert final.mode == "refit" and len(final.members) == 1
        split = load_split(project, "default")
        used = member_image_ids(project, final)[job.run_id]
        np.testing.assert_array_equal(np.sort(used), np.sort(split.plan.image_ids[split.plan.folds >= 0]))
        assert not set(used.tolist()) & set(split.test_ids().tolist())
        p = score_images(project, final, split.test_ids())
        assert p.shape == (len(split.test_ids()),) and np.all((p >= 0) & (p <= 1))
        # a refit run elsewhere (Slurm works on a database copy) is found from its run folder
        with project.transaction() as conn:
            prov = {**final.provenance, "members": []}
            conn.execute("UPDATE final_models SET provenance = ? WHERE id = ?", (json.dumps(prov), final.id))
        assert get_final_model(project, final.id).members == final.members
    assert main(["evaluate", str(path), "-e", A, "--on", "test", "--n-boot", "200", "--device", "cpu"]) == 0
    assert "RESULT test_patient_auc_a" in capsys.readouterr().out


def test_refit_takes_the_median_of_values_tuned_per_fold(tmp_path_factory, tmp_path):
    path = copy_study(held_out_study(shared_base(tmp_path_factory)), tmp_path)
    with Project.open(path) as project:
        jobs = experiment_jobs(project, A)
        with project.transaction() as conn:
            for job, lr in zip(jobs, (1e-3, 3e-3)):
                conn.execute("UPDATE jobs SET spec = ? WHERE id = ?",
                             (json.dumps({**job.spec, "lr": lr}), job.id))
        spec, derived = refit_recipe(project, A)
        assert spec["lr"] == pytest.approx(2e-3) and derived["tuned"]["lr"]["per_fold"] == [1e-3, 3e-3]
        with project.transaction() as conn:
            conn.execute("UPDATE jobs SET spec = ? WHERE id = ?",
                         (json.dumps({**jobs[0].spec, "optimizer": "sgd"}), jobs[0].id))
        with pytest.raises(FinalModelError, match="differ in optimizer"):
            refit_recipe(project, A)
