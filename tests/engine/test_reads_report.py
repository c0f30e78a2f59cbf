"""The report's readers section and ``affengine reads compare`` on a trained study."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.reads import adjudicate, simulate_readers
from engine.report import build_report_data
from engine.report._write import write_report
from engine.store import Project
from tests.engine._results_factory import CNN, VIT, shared_base, study_copy, tiny_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    src = tiny_study(shared_base(tmp_path_factory))
    path = study_copy(src, tmp_path_factory.mktemp("readers"))
    with Project.open(path) as p:  # no phantom manifest: truth from the current labels
        simulate_readers(p, readers=2, sensitivity=0.75, specificity=0.9, seed=0)
        first = p.images.ids()[0]
        adjudicate(p, [first], p.labels.get(first), "chief", ["sim-1", "sim-2"])
    return path


def test_report_has_a_readers_section_with_figure_and_tables(study, tmp_path):
    with Project.open(study) as p:
        data = build_report_data(p, [CNN, VIT], reference=CNN, level="image", n_boot=100)
    r = data.readers
    assert [s["session"] for s in r["sessions"]] == ["sim-1", "sim-2"]
    assert r["pairs"][0]["first"] == "sim-1" and -1 <= r["pairs"][0]["kappa"] <= 1
    assert r["labels"]["adjudicated"] == 1 and r["labels"]["adjudicated_share"] == pytest.approx(
        1 / r["labels"]["total"])
    m = r["model"]
    assert m["experiment"] == CNN and m["n_cases"] == 32 and len(m["points"]) == 3
    for p in m["points"][1:]:
        assert p["tp"] + p["fn"] == m["n_aff"]
        assert p["sensitivity_low"] <= p["sensitivity"] <= p["sensitivity_high"]
        assert f"misses {p['misses_model_finds']} of {m['n_aff']} AFF" in r["answer"]
    assert m["mrmc"]["readers"] == 2 and "Obuchowski-Rockette" in r["answer"]
    written = write_report(data, tmp_path)
    html = written.html.read_text()
    assert "<h2>Readers</h2>" in html and "Readers on the ROC curve" in html
    assert "How often do readers miss AFF" in html
    for key in ("readers_sessions", "readers_agreement", "readers_labels", "readers_vs_model"):
        assert written.tables[key].is_file()
    assert json.loads(written.json.read_text())["readers"]["model"]["n_aff"] == m["n_aff"]


def test_no_reads_no_section(tmp_path_factory):
    src = tiny_study(shared_base(tmp_path_factory))
    with Project.open(src) as p:
        data = build_report_data(p, [CNN], n_boot=50)
    assert data.readers is None and "readers" not in data.to_json()


def test_cli_compare(study, capsys):
    assert main(["reads", "compare", str(study), "--sessions", "sim-1", "sim-2", "--experiment", CNN]) == 0
    out = capsys.readouterr().out
    assert "model " in out and "sensitivity" in out and "MRMC (Obuchowski-Rockette, 2 readers)" in out
    assert main(["reads", "compare", str(study), "--sessions", "sim-1", "sim-2", "--experiment", CNN,
                 "--level", "patient", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["level"] == "patient" and got["n_cases"] == 16
    assert main(["reads", "compare", str(study), "--sessions", "sim-1", "nosuch", "--experiment", CNN]) == 2
