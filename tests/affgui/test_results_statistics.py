"""The Results view's further statistics: pAUC, calibration and margin tabs, the margin spin box, and the
report export passing --margin."""

from __future__ import annotations

import pytest

from engine.evaluate import load_experiment_predictions, margin_test_delong, partial_auc
from engine.store import Project
from tests.affgui.test_results_view import CNN, VIT, _check, results, study  # noqa: F401 (fixtures)


def _table(model) -> list[dict]:
    return [dict(zip(model.header, row)) for row in model.rows]


def test_statistics_tabs_and_the_margin(qtbot, results, study):  # noqa: F811
    data = _check(qtbot, results, [CNN, VIT])
    page = results.page
    with Project.open(study) as project:
        preds = {n: load_experiment_predictions(project, n).to_patients() for n in (CNN, VIT)}
    rows = {r["experiment"]: r for r in _table(page.stats_models["partial_auc"])}
    assert rows[VIT]["pauc_standardised"] == pytest.approx(
        partial_auc(preds[VIT].labels, preds[VIT].scores).standardised)
    assert len(_table(page.stats_models["calibration_fit"])) == 4  # two experiments x two levels
    assert not page.stats_models["noninferiority"].rows and page.margin() is None
    # no train_predictions.csv in these hand-written runs: said, not hidden
    assert not page.stats_models["operating_points"].rows
    assert "no held-out operating points for cnn" in page.message.text()
    assert data.statistics is not None

    with qtbot.waitSignal(results.sigResultsShown, timeout=30_000) as blocker:
        page.set_margin(0.05)
    ni = {r["level"]: r for r in _table(page.stats_models["noninferiority"])}
    ref = margin_test_delong(preds[VIT].labels, preds[VIT].scores, preds[CNN].scores, 0.05)
    assert ni["patient"]["p_noninferior"] == pytest.approx(ref.p_noninferior)
    assert blocker.args[0].statistics["margin"] == 0.05
    assert f"{VIT} vs {CNN} (delong)" in page.message.text()
    col = page.stats_models["noninferiority"].header.index("p_equivalence")
    shown = page.stats_models["noninferiority"].text(0, col)
    assert shown != "0.000" and (shown == "< 0.001" or float(shown) >= 0.001)


def test_export_command_carries_the_margin():
    from affgui.parts.results._export import report_command

    cmd = report_command("/p", ["a", "b"], "patient", "/out", margin=0.05)
    assert cmd[-2:] == ["--margin", "0.05"]
    assert "--margin" not in report_command("/p", ["a"], "patient", "/out")
