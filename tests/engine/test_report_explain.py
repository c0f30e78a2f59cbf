"""The report's explainability section on the tiny trained study: numbers equal engine.explain's own."""

import csv
import json

import numpy as np
import pytest

from engine.explain import compare_experiments, explain_experiment, roi_summary
from engine.report import build_report
from engine.store import Project
from tests.engine._results_factory import CNN, VIT, shared_base, study_copy, tiny_study

N_BOOT = 200


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return study_copy(tiny_study(shared_base(tmp_path_factory)), tmp_path_factory.mktemp("report-explain"))


def _read(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _num(text):
    return float("nan") if text in ("", "nan") else float(text)


def _pngs(path) -> int:
    return path.read_text(encoding="utf-8").count("data:image/png;base64,")


def test_report_without_heatmaps_says_how_to_make_them(study, tmp_path):
    with Project.open(study) as project:
        report = build_report(project, [CNN, VIT], n_boot=N_BOOT, out_dir=tmp_path)
    assert report.data.explain is None and "explain" not in json.loads(report.json.read_text())
    assert not (report.folder / "explain_roi.csv").exists()
    assert "affengine explain PROJECT --experiment E" in report.html.read_text(encoding="utf-8")
    assert _pngs(report.html) == 4  # ROC, PR, calibration, decision curves


def test_report_with_heatmaps_matches_engine_explain(study, tmp_path):
    with Project.open(study) as project:
        for exp in (CNN, VIT):
            explain_experiment(project, exp, "gradcam", "cpu")
        ids = sorted(int(r.id) for r in project.images.list(order="id"))
        for image_id in ids[:12]:  # the factory's images are 72 x 96: a box over the upper half
            if not project.rois.for_image(image_id):
                project.rois.add(image_id, (0, 0, 72, 48), "tester", source="import")
        report = build_report(project, [CNN, VIT], n_boot=N_BOOT, out_dir=tmp_path)
        expect_roi = {n: roi_summary(project, n, "gradcam", n_boot=N_BOOT) for n in (CNN, VIT)}
        expect_cmp = compare_experiments(project, CNN, VIT, "gradcam", n_boot=N_BOOT)

    rows = _read(report.tables["explain_roi"])
    assert len(rows) == 6  # two experiments x all/AFF/NFF
    for row in rows:
        want = expect_roi[row["experiment"]]
        assert row["method"] == "gradcam" and int(row["with_roi"]) == want["with_roi"] == 12
        for key in ("energy", "hit", "chance"):
            for stat in ("mean", "low", "high", "n"):
                np.testing.assert_allclose(_num(row[f"{key}_{stat}"]),
                                           want["groups"][row["group"]][key][stat], equal_nan=True)
    (pair,) = _read(report.tables["explain_agreement"])
    assert (pair["a"], pair["b"], int(pair["images"])) == (CNN, VIT, expect_cmp["images"])
    for key, summary in expect_cmp["agreement"].items():
        for stat in ("mean", "low", "high", "n"):
            np.testing.assert_allclose(_num(pair[f"{key}_{stat}"]), summary[stat])
    w = expect_cmp["roi_energy"]["wilcoxon"]
    np.testing.assert_allclose(_num(pair["wilcoxon_p"]), w["p_value"], equal_nan=True)
    for col, key in (("roi_energy_a", "a_mean"), ("roi_energy_b", "b_mean")):
        want = expect_cmp["roi_energy"][key]  # None where no ROI image has map mass
        np.testing.assert_allclose(_num(pair[col]), np.nan if want is None else want, equal_nan=True)

    doc = json.loads(report.json.read_text())
    roi = {s["experiment"]: s for s in doc["explain"]["roi"]}
    for name in (CNN, VIT):  # report.json writes NaN (no map mass on any ROI image) as null
        for key in ("energy", "hit", "chance"):
            want = expect_roi[name]["groups"]["all"][key]["mean"]
            got = roi[name]["groups"]["all"][key]["mean"]
            assert (got is None and np.isnan(want)) or got == pytest.approx(want)
    assert "explain_figures" not in doc
    text = report.html.read_text(encoding="utf-8")
    assert "Do CNNs and ViTs use different areas?" in text and "Pearson r" in doc["explain"]["answer"]
    gallery = report.data.explain_figures
    assert 3 <= len(gallery) <= 6 and any("disagreeing" in c for c in gallery)
    assert _pngs(report.html) == 4 + len(gallery)
