"""Per-repeat pooled AUCs and the corrected comparison across R x K folds, on hand-written runs."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from engine.evaluate import (
    ExperimentNotReady,
    compare_repeated,
    corrected_resampled_ttest,
    delong_test,
    load_repeated_predictions,
    repeated_summary,
)
from engine.experiments import create_experiment, experiment_jobs
from engine.jobs import JobQueue
from engine.splits import create_split
from engine.store import Project
from engine.train import PREDICTIONS
from engine.train._outputs import write_predictions
from tests.engine._store_factory import add_images
from tests.engine._train_factory import tiny_spec


def _study(tmp_path, finish_all=True):
    p = Project.create(tmp_path / "R")
    ids = add_images(p, 72, patients=36)
    p.labels.set_many(ids[:28], "AFF", "ann")
    p.labels.set_many(ids[28:], "NFF", "ann")
    split = create_split(p, "cv", k=3, seed=0, repeats=2)
    truth = dict(zip(split.plan.image_ids.tolist(), split.plan.labels.tolist()))
    patient = dict(zip(split.plan.image_ids.tolist(), split.plan.patients.tolist()))
    rng = np.random.default_rng(1)
    for name, noise in (("good", 0.6), ("bad", 2.0)):
        create_experiment(p, name, tiny_spec(p.path, split="cv"))
        for job in experiment_jobs(p, name):
            if not finish_all and name == "good" and job.label == "r1f2s0":
                continue
            _, val = split.train_val(job.fold, job.repeat)
            y = np.array([truth[i] for i in val.tolist()])
            prob = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, noise, len(y)))))
            run = p.runs_dir / job.run_id
            run.mkdir(parents=True)
            write_predictions(run / PREDICTIONS, val, [patient[i] for i in val.tolist()], job.fold, prob, y)
            JobQueue(p).finish(job.id, "finished")
    return p, split


def test_per_repeat_pooled_aucs_mean_and_sd(tmp_path):
    p, split = _study(tmp_path)
    with p:
        rp = load_repeated_predictions(p, "good")
        assert (rp.repeats, rp.seeds, rp.k) == ((0, 1), (0,), 3)
        for r in (0, 1):
            pooled = rp.pooled[(r, 0)]
            assert sorted(pooled.image_ids.tolist()) == sorted(split.plan.image_ids.tolist())
            fold_of = dict(zip(split.plan_for(r).image_ids.tolist(), split.plan_for(r).folds.tolist()))
            assert [fold_of[i] for i in pooled.image_ids.tolist()] == pooled.folds.tolist()
        s = repeated_summary(rp)
        assert [(row.repeat, row.seed, row.images, row.patients) for row in s.rows] == [(0, 0, 72, 36),
                                                                                        (1, 0, 72, 36)]
        want = [roc_auc_score(rp.pooled[(r, 0)].labels, rp.pooled[(r, 0)].scores) for r in (0, 1)]
        assert [row.image_auc for row in s.rows] == pytest.approx(want)
        assert s.image_mean == pytest.approx(np.mean(want))
        assert s.image_sd == pytest.approx(np.std(want, ddof=1))
        pat = rp.pooled[(1, 0)].to_patients()
        assert s.rows[1].patient_auc == pytest.approx(roc_auc_score(pat.labels, pat.scores))
        assert s.image_mean > 0.8  # the "good" model separates the classes


def test_corrected_test_over_repeats_and_folds_with_per_repeat_delong(tmp_path):
    p, split = _study(tmp_path)
    with p:
        a, b = load_repeated_predictions(p, "good"), load_repeated_predictions(p, "bad")
        cmp = compare_repeated(a, b, level="image")
        diffs, n_test, n_train = [], [], []
        for r in (0, 1):
            pa, pb = a.pooled[(r, 0)], b.pooled[(r, 0)]
            order_b = {i: k for k, i in enumerate(pb.image_ids.tolist())}
            sb = pb.scores[[order_b[i] for i in pa.image_ids.tolist()]]
            for f in range(3):
                m = pa.folds == f
                diffs.append(roc_auc_score(pa.labels[m], pa.scores[m]) - roc_auc_score(pa.labels[m], sb[m]))
                n_test.append(m.sum())
                n_train.append((~m).sum())
            assert cmp.per_repeat[r].p_value == pytest.approx(delong_test(pa.labels, pa.scores, sb).p_value)
        assert len(cmp.fold_differences) == 6
        assert sorted(cmp.fold_differences) == pytest.approx(sorted(diffs))
        want = corrected_resampled_ttest(diffs, n_test, n_train)
        assert (cmp.ttest.df, cmp.ttest.t) == (5, pytest.approx(want.t))
        assert cmp.ttest.p_value == pytest.approx(want.p_value)
        assert cmp.ttest.mean_difference > 0
        pcmp = compare_repeated(a, b, level="patient")
        assert pcmp.n_test + pcmp.n_train == 36 and pcmp.ttest.n_pairs == 6


def test_an_unfinished_repeat_fold_is_named(tmp_path):
    p, _ = _study(tmp_path, finish_all=False)
    with p, pytest.raises(ExperimentNotReady, match=r"r1f2s0 has not finished \(job \d+ queued\)"):
        load_repeated_predictions(p, "good")


def test_report_section_lists_each_repeat_and_the_corrected_test(tmp_path):
    import json

    from engine.report._html import html_table
    from engine.report._repeats_section import repeats_html, repeats_section, repeats_table

    p, _ = _study(tmp_path)
    with p:
        job = experiment_jobs(p, "good")[0]
        (p.runs_dir / job.run_id / "tuning").mkdir()
        (p.runs_dir / job.run_id / "tuning" / "tuning.json").write_text(json.dumps(
            {"budget": "each model: 2 trials x 2 inner folds", "best_inner_auc": 0.9,
             "chosen": {"lr": 0.002, "weight_decay": 0.01, "augment": 0.4}}))
        section = repeats_section(p, ["good", "bad"], level="patient")
        want = repeated_summary(load_repeated_predictions(p, "good"))
    header, rows = repeats_table(section)
    good = [r for r in rows if r[0] == "good"]
    assert [r[1] for r in good] == ["r0s0", "r1s0", "mean", "SD"]
    assert good[2][header.index("patient_auc")] == pytest.approx(want.patient_mean)
    (cmp,) = section["comparisons"]
    assert (cmp["first"], cmp["second"], cmp["pairs"], cmp["df"]) == ("good", "bad", 6, 5)
    assert len(cmp["delong"]) == 2
    page = repeats_html(section, html_table)
    assert "Repeated cross-validation" in page and "Corrected resampled t-test" in page
    assert "r0s0" in page and "r1s0" in page
    assert section["tuning"] == [{"experiment": "good", "run": "r0f0s0", "budget": "each model: 2 trials x 2 "
                                  "inner folds", "best_inner_auc": 0.9, "lr": 0.002, "weight_decay": 0.01,
                                  "augment": 0.4}]
    assert "Tuned values" in page and "each model: 2 trials x 2 inner folds" in page


def test_methods_section_states_the_design_and_claim_items(tmp_path):
    from engine.report._html import html_table
    from engine.report._methods_section import methods_html, methods_section

    p, _ = _study(tmp_path)
    with p:
        section = methods_section(p, ["good", "bad"])
    text = " ".join(section["text"])
    assert "72 radiographs of 36 patients" in text and "28 AFF images" in text
    assert "3-fold cross-validation repeated 2 time(s)" in text and "1 training seed(s)" in text
    assert "No hyper-parameter tuning" in text and "random initialisation" in text
    assert "corrected resampled t-test" in text
    items = dict(section["claim"])
    assert items["partition (patient-level, R x K, seeds)"] == "yes"
    assert items["label source and reader agreement"].startswith("no")
    assert "CLAIM checklist" in methods_html(section, html_table)
