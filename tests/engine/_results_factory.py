"""A tiny finished study (two experiments, 2 folds x 1 epoch, real training), built once per process.

Tests that change it work on a copy (:func:`study_copy`).
"""

from __future__ import annotations

import csv
import functools
import shutil
from pathlib import Path

from tests.engine._train_factory import make_project, tiny_spec

CNN, VIT = "cnn", "vit"


@functools.cache
def tiny_study(base: Path) -> Path:
    """``base/Study.affproj``: finished experiments ``cnn`` (resnet10t), ``vit`` (vit_tiny), 64 px."""
    from engine.experiments import create_experiment
    from engine.jobs import Worker
    from engine.store import Project

    Path(base).mkdir(parents=True, exist_ok=True)
    path = make_project(Path(base) / "Study", patients=16, per_patient=2, k=2)
    with Project.open(path) as project:
        create_experiment(project, CNN, tiny_spec(path, "resnet10t", epochs=1))
        create_experiment(project, VIT, tiny_spec(path, "vit_tiny_patch16_224", epochs=1))
    Worker(path, device="cpu").run(exit_when_idle=True)
    return path


def shared_base(tmp_path_factory) -> Path:
    """The folder every test module of a session builds the study in (so it is built once)."""
    return tmp_path_factory.getbasetemp() / "results-study"


def study_copy(src: Path, dest: Path) -> Path:
    """A copy of a built study that a test may change."""
    out = Path(dest) / src.name
    shutil.copytree(src, out)
    return out


def pooled_prediction_rows(project, name: str) -> list[dict]:
    """Every fold's ``predictions.csv`` rows of experiment ``name``, read straight from the files."""
    from engine.experiments import experiment_jobs

    rows = []
    for job in experiment_jobs(project, name):
        with open(project.runs_dir / job.run_id / "predictions.csv", newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows
