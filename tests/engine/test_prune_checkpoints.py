"""``affengine jobs prune``: the resume checkpoints of finished runs go, everything read later stays."""

import pytest

from engine.cli import main
from engine.evaluate import experiment_results
from engine.experiments import experiment_jobs
from engine.jobs import JobQueue, prune_checkpoints
from engine.runs import RunFolder
from engine.store import Project
from tests.engine._results_factory import CNN, VIT, shared_base, study_copy, tiny_study


@pytest.fixture
def study(tmp_path_factory, tmp_path):
    return study_copy(tiny_study(shared_base(tmp_path_factory)), tmp_path)


def _lasts(project, name):
    return [RunFolder.of(project, j.run_id).path / RunFolder.LAST for j in experiment_jobs(project, name)]


def test_prune_removes_only_last_pt_of_finished_runs_and_results_still_read(study, capsys):
    with Project.open(study) as project:
        before = experiment_results(project, CNN).image.auc.auc
        cnn, vit = _lasts(project, CNN), _lasts(project, VIT)
        assert cnn and vit and all(p.is_file() for p in cnn + vit)
        size = sum(p.stat().st_size for p in cnn)
        # a job that is not finished keeps its checkpoint, whatever its folder holds
        interrupted = experiment_jobs(project, VIT)[0]
        project.conn.execute("UPDATE jobs SET state = 'interrupted' WHERE id = ?", (interrupted.id,))

        dry = prune_checkpoints(project, CNN, dry_run=True)
        assert sorted(dry.files) == sorted(cnn) and dry.bytes == size
        assert all(p.is_file() for p in cnn)  # a dry run deletes nothing

        report = prune_checkpoints(project, CNN)
        assert sorted(report.files) == sorted(cnn) and report.bytes == size and not report.kept
        assert not any(p.exists() for p in cnn) and all(p.is_file() for p in vit)
        for job in experiment_jobs(project, CNN):  # the weights, predictions and metrics stay
            folder = RunFolder.of(project, job.run_id).path
            assert all((folder / f).is_file() for f in (RunFolder.BEST, RunFolder.PREDICTIONS,
                                                        RunFolder.METRICS, RunFolder.CONFIG))
        assert experiment_results(project, CNN).image.auc.auc == before
        assert prune_checkpoints(project, CNN).files == []  # nothing left to do

    assert main(["jobs", "prune", str(study)]) == 0  # every experiment: the finished vit runs
    out = capsys.readouterr().out
    with Project.open(study) as project:
        vit = _lasts(project, VIT)
        finished = [p for p, j in zip(vit, experiment_jobs(project, VIT)) if j.id != interrupted.id]
        assert not any(p.exists() for p in finished)
        assert (RunFolder.of(project, interrupted.run_id).path / RunFolder.LAST).is_file()
        assert JobQueue(project).get(interrupted.id).state == "interrupted"
    assert f"{len(finished)} resume checkpoint(s) of finished runs, freed" in out


def test_prune_refuses_an_unknown_experiment_in_one_line(study, capsys):
    assert main(["jobs", "prune", str(study), "-e", "nope"]) != 0
    err = capsys.readouterr().err
    assert "no experiment named 'nope'" in err and "Traceback" not in err
