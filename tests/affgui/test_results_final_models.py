"""The Results view's Final models tab: provenance as stored, an external project as an evaluation set.

The study is really trained (tests/affgui/_final_study.py, once per session); the external
evaluation runs ``affengine evaluate`` in a subprocess, as the GUI does for a user.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import engine
from engine.evaluate import load_experiment_predictions
from engine.final import list_final_models
from engine.store import Project
from tests.affgui._final_study import EXPERIMENT, final_study
from tests.affgui.conftest import make_project, open_in

EVAL_TIMEOUT_MS = 240_000  # a torch start-up and 16 images on a loaded CPU


@pytest.fixture
def sites(tmp_path_factory, tmp_path) -> tuple[Path, Path]:
    return final_study(tmp_path_factory, tmp_path / "copies")


def _final_tab(qtbot, window, path: Path):
    """Open ``path``, show the Results dock and wait for the Final models tab's listing."""
    final = window.results.final
    with qtbot.waitSignal(final.sigShown, timeout=30_000):
        open_in(qtbot, window, path)
        window.results.dock.show()
    page = window.results.page
    page.tables.setCurrentWidget(page.final_models)
    return final, page.final_models


def _cells(model) -> list[dict[str, str]]:
    headers = [c.header for c in model.columns]
    return [{h: model.text(r, c) for c, h in enumerate(headers)} for r in range(model.rowCount())]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_final_models_listed_with_their_provenance(qtbot, window, sites):
    dev, _ext = sites
    final, widget = _final_tab(qtbot, window, dev)
    with Project.open(dev) as project:
        (stored,) = list_final_models(project)
    (row,) = _cells(widget.finals)
    p = stored.provenance
    assert row["Final"] == "1" and row["Experiment"] == EXPERIMENT and row["Mode"] == "ensemble"
    assert row["Model"] == "resnet10t" and row["Image size"] == "64" and row["Members"] == "2"
    assert row["Split"] == f"default v{p['split']['version']}, k = 2"
    # each member's weight hash, read back from the files themselves
    hashes = [_sha(dev / m["weights"]) for m in p["members"]]
    assert row["Weights SHA-256"] == ", ".join(h[:12] for h in hashes)
    assert row["Orientation"] == p["preprocessing"]["orientation"] and "no rotation" in row["Orientation"]
    assert row["Code version"].startswith(f"engine {engine.__version__}")
    assert row["Usable"] == "yes"
    widget.final_view.selectRow(0)
    details = json.loads(widget.details.toPlainText())
    assert details["provenance"] == p  # exactly as stored
    assert details["provenance"]["recipe"]["model"] == "resnet10t"
    assert all(h in widget.details.toPlainText() for h in hashes)
    # the cross-validation row: the out-of-fold patient AUC
    (cv,) = final.data.evaluations
    with Project.open(dev) as project:
        pred = load_experiment_predictions(project, EXPERIMENT).to_patients("mean")
    assert cv.kind == "cross-validation" and cv.n == len(pred.labels)
    assert cv.auc == pytest.approx(roc_auc_score(pred.labels, pred.scores), abs=1e-9)
    # a changed weight file makes the model unusable, and the table says why
    with open(dev / p["members"][0]["weights"], "ab") as fh:
        fh.write(b"\0")
    with qtbot.waitSignal(final.sigShown, timeout=30_000):
        final.refresh()
    assert "changed since the final model was made" in _cells(widget.finals)[0]["Usable"]


def test_external_project_added_as_an_evaluation_set(qtbot, window, sites):
    dev, ext = sites
    final, widget = _final_tab(qtbot, window, dev)
    with qtbot.waitSignal(final.sigEvaluationFinished, timeout=EVAL_TIMEOUT_MS) as done:
        final.add_external(str(ext))
        assert widget.cancel_button.isVisibleTo(widget) and not widget.add_button.isEnabled()
    folder = Path(done.args[0])
    assert folder.parent == dev / "evaluations" and folder.name.endswith("-external")
    ev = json.loads((folder / "evaluation.json").read_text())
    qtbot.waitUntil(lambda: len(final.data.evaluations) == 2, timeout=30_000)
    cv, external = final.data.evaluations
    assert (cv.kind, external.kind) == ("cross-validation", "external")
    assert cv.experiment == external.experiment == EXPERIMENT
    (e,) = ev["experiments"]
    assert external.target == "external: Site2" and external.n == e["patient"]["n"] == 8
    assert external.auc == pytest.approx(e["patient"]["auc"])
    # the engine scored every labelled Site2 image: its patient AUC from its own predictions file
    rows = np.genfromtxt(folder / f"predictions_{EXPERIMENT}.csv", delimiter=",", names=True, dtype=None,
                         encoding="utf-8")
    patients = sorted(set(rows["patient_id"]))
    y = [int(rows["label"][rows["patient_id"] == q][0]) for q in patients]
    s = [float(rows["probability"][rows["patient_id"] == q].mean()) for q in patients]
    assert external.auc == pytest.approx(roc_auc_score(y, s), abs=1e-9)
    table = _cells(widget.evaluations)
    assert [r["Evaluation set"] for r in table] == ["cross-validation", "external"]
    assert table[1]["AUC"] == f"{e['patient']['auc']:.3f}" and table[1]["Data"] == "external: Site2"
    assert "External evaluation written to" in widget.message.text()
    assert widget.add_button.isEnabled() and not widget.cancel_button.isVisibleTo(widget)
    # stored: a newly opened window lists it again
    window.close_project()
    final2, _ = _final_tab(qtbot, window, dev)
    assert [r.kind for r in final2.data.evaluations] == ["cross-validation", "external"]


def _refused(qtbot, final, widget, folder) -> str:
    with qtbot.waitSignal(final.sigEvaluationFailed, timeout=30_000) as failed:
        final.add_external(str(folder))
    message = failed.args[0]
    assert "\n" not in message and "Traceback" not in message
    assert widget.message.text() == f"No external evaluation: {message}"
    assert not final.is_running() and widget.add_button.isEnabled()
    return message


def test_bad_external_folders_get_one_line(qtbot, window, sites, tmp_path):
    dev, ext = sites
    final, widget = _final_tab(qtbot, window, dev)
    plain = tmp_path / "photos"
    plain.mkdir()
    (plain / "a.png").write_bytes(b"x")
    message = _refused(qtbot, final, widget, plain)
    assert message == f"{plain}: not an AFF Workbench project (no project.sqlite)"
    assert sorted(p.name for p in plain.iterdir()) == ["a.png"]  # nothing written there
    assert _refused(qtbot, final, widget, tmp_path / "gone") == f"{tmp_path / 'gone'}: no such folder"
    assert "is the development project itself" in _refused(qtbot, final, widget, dev)
    with Project.open(ext) as other:
        other.labels.set_many(list(other.labels.all()), None, "tester", "cli")
    assert "no image is labelled AFF or NFF" in _refused(qtbot, final, widget, ext)
    assert not (dev / "evaluations").exists()


def test_a_project_without_final_models_says_so(qtbot, window, sites, tmp_path):
    _dev, ext = sites
    path = tmp_path / "Plain.affproj"
    make_project(path)
    final, widget = _final_tab(qtbot, window, path)
    assert widget.finals.rowCount() == 0 and widget.add_button.isEnabled()
    message = _refused(qtbot, final, widget, ext)
    assert message == (f"{path}: no experiment has a final model yet; make one with "
                       f"`affengine finalize {path} -e NAME`")
