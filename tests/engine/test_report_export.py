"""affengine export: an experiment's parameters, epochs and results into MLflow and TensorBoard."""

import argparse
import json
import sys

import pytest

from engine.cli import CliError, _export
from engine.evaluate import experiment_results
from engine.experiments import experiment_jobs
from engine.report import experiment_record
from engine.store import Project
from tests.engine._results_factory import VIT, shared_base, tiny_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return tiny_study(shared_base(tmp_path_factory))


def _cli(argv) -> int:
    parser = argparse.ArgumentParser()
    _export.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def _histories(study):
    with Project.open(study) as project:
        return {j.fold: json.loads((project.runs_dir / j.run_id / "metrics.json").read_text())["history"]
                for j in experiment_jobs(project, VIT)}


def test_mlflow_export_holds_the_epochs_and_pooled_auc(study, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    assert _cli(["export", str(study), "-e", VIT, "--mlflow", str(tmp_path / "mlruns")]) == 0
    with Project.open(study) as project:
        auc = experiment_results(project, VIT).patient.auc.auc
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        exp = client.get_experiment_by_name(VIT)
        runs = client.search_runs([exp.experiment_id])
        parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
        folds = {int(r.data.tags["affengine.fold"]): r for r in runs if "mlflow.parentRunId" in r.data.tags}
        assert parent.data.metrics["patient_auc"] == pytest.approx(auc)
        assert parent.data.params["model"] == "vit_tiny_patch16_224" and parent.data.params["family"] == "vit"
        hist = _histories(study)
        assert set(folds) == {0, 1}
        for fold, run in folds.items():
            assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
            got = client.get_metric_history(run.info.run_id, "val_auc")
            assert [(m.step, m.value) for m in got] == [(h["epoch"], h["val_auc"]) for h in hist[fold]]


def test_tensorboard_export_writes_scalars_per_fold(study, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert _cli(["export", str(study), "-e", VIT, "--tensorboard", str(tmp_path / "tb")]) == 0
    hist = _histories(study)
    for fold in (0, 1):
        acc = EventAccumulator(str(tmp_path / "tb" / VIT / f"fold{fold}"))
        acc.Reload()
        vals = [(e.step, e.value) for e in acc.Scalars("epoch/val_loss")]
        assert vals == [(h["epoch"], pytest.approx(h["val_loss"], rel=1e-6)) for h in hist[fold]]
    acc = EventAccumulator(str(tmp_path / "tb" / VIT / "summary"))
    acc.Reload()
    assert "summary/patient_auc" in acc.Tags()["scalars"]


def test_missing_package_and_missing_target_are_clear(study, tmp_path, monkeypatch):
    with pytest.raises(CliError, match="--mlflow DIR and/or --tensorboard DIR"):
        _cli(["export", str(study), "-e", VIT])
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now raises ImportError
    with pytest.raises(CliError, match=r"mlflow is not installed; install it with `pip install mlflow`"):
        _cli(["export", str(study), "-e", VIT, "--mlflow", str(tmp_path / "m")])


def test_record_has_every_fold_and_the_spec(study):
    with Project.open(study) as project:
        rec = experiment_record(project, VIT)
    assert [f.fold for f in rec.folds] == [0, 1]
    assert rec.params["model"] == "vit_tiny_patch16_224" and "project" not in rec.params
    assert rec.summary["compute_parameters"] > 1e6
