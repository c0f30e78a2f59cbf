"""An experiment whose predictions hold one class only is named in a note; the others still show."""

from __future__ import annotations

import csv

from affgui.parts.results import compute_results
from engine.experiments import experiment_jobs
from engine.store import Project
from tests.affgui.test_results_view import CNN, PENDING, VIT, finish_experiment, study  # noqa: F401


def test_a_one_class_experiment_is_a_note_not_a_failed_request(study):  # noqa: F811
    finish_experiment(study, PENDING, 0.7, "cnn", 3)
    with Project.open(study) as project:
        for job in experiment_jobs(project, PENDING):  # every label NFF, as if trained on one class
            path = project.runs_dir / job.run_id / "predictions.csv"
            with open(path, newline="") as fh:
                rows = list(csv.DictReader(fh))
            with open(path, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows({**r, "label": "0"} for r in rows)
        data = compute_results(project, [CNN, PENDING, VIT], "patient", n_boot=50)
    assert [r.name for r in data.results] == [CNN, VIT]
    assert len(data.comparison) == 1
    assert any(note.startswith(f"{PENDING}: ") and "both classes" in note for note in data.notes), data.notes
