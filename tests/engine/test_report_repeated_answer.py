"""Answer 1 uses the corrected test across repeats when the experiments have repeats."""

import dataclasses

import pytest

from engine.report import build_report_data, study_answers
from engine.store import Project
from tests.engine._results_factory import CNN, VIT, shared_base, tiny_study


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    with Project.open(tiny_study(shared_base(tmp_path_factory))) as project:
        return build_report_data(project, [CNN, VIT], n_boot=200)


def _repeated(first, second, diff, lo, hi, p, delong_p):
    return {"experiments": [], "incomplete": {}, "tuning": [], "comparisons": [{
        "first": first, "second": second, "level": "patient", "pairs": 3 * len(delong_p),
        "mean_difference": diff, "se": 0.01, "t": 2.0, "df": 3 * len(delong_p) - 1, "p_value": p,
        "ci_low": lo, "ci_high": hi, "n_test": 20, "n_train": 40,
        "delong": [{"repeat": r, "seed": 0, "auc_a": 0.8, "auc_b": 0.7, "p_value": q}
                   for r, q in enumerate(delong_p)]}]}


def test_one_partition_keeps_the_paired_delong_answer(data):
    assert data.repeats is not None and len(data.repeats["comparisons"][0]["delong"]) == 1
    text = data.answers["vit_vs_cnn"]
    assert "corrected resampled t-test" not in text
    assert "sampling variance of patients for this one partition" in text


def test_repeats_make_the_corrected_test_the_answer_and_name_its_variance(data):
    # CNN listed first: the answer turns the difference into ViT - CNN.
    rep = _repeated(CNN, VIT, diff=-0.04, lo=-0.07, hi=-0.01, p=0.012, delong_p=[0.03, 0.2])
    text = study_answers(dataclasses.replace(data, repeats=rep))["vit_vs_cnn"]
    assert f"{VIT} vs {CNN} across 2 repeats x seeds (6 paired folds)" in text
    assert "mean per-fold AUC difference (ViT - CNN) +0.040" in text and "+0.010 to +0.070" in text
    assert "corrected resampled t-test, Nadeau & Bengio 2003, df 5, Holm-adjusted p = 0.012" in text
    assert f"significant at 0.05 after Holm correction: {VIT} is better than {CNN}" in text
    assert "variance between partitions (and training seeds)" in text and "not a patient-sampling CI" in text
    assert "significant at 0.05 in 1 of 2 repeats" in text
    assert "In repeat 0 alone" in text
    assert "sampling variance of patients for this one partition and training seed" not in text


def test_a_non_significant_repeated_test_does_not_claim_equivalence(data):
    rep = _repeated(VIT, CNN, diff=0.01, lo=-0.02, hi=0.04, p=0.4, delong_p=[0.5, 0.6, 0.7])
    text = study_answers(dataclasses.replace(data, repeats=rep))["vit_vs_cnn"]
    assert "not shown to differ" in text and "this does not show equivalence" in text
    assert "-0.020 to +0.040" in text and "in 0 of 3 repeats" in text
