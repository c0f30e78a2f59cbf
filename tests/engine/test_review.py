"""Label review queue: hand-made cases with known answers, and the CLI on two tiny real experiments."""

import argparse
import csv

import numpy as np
import pytest

from engine.cli import _labels
from engine.evaluate import Predictions, review_labels
from engine.experiments import experiment_jobs
from engine.store import Project
from tests.engine._results_factory import CNN, VIT, shared_base, tiny_study


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _preds(name, labels, scores, split="s v1"):
    n = len(labels)
    return Predictions(name=name, split_id=split, image_ids=np.arange(100, 100 + n),
                       patients=[f"P{i // 2}" for i in range(n)], labels=labels, scores=scores)


def _case(seed=0, n=200, flips=10):
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < 0.3).astype(int)
    flipped = rng.choice(n, flips, replace=False)
    given = truth.copy()
    given[flipped] = 1 - given[flipped]
    # models that learned the truth: confident, noisy, two of them
    a = np.clip(np.where(truth == 1, 0.85, 0.15) + rng.normal(0, 0.08, n), 0.01, 0.99)
    b = np.clip(np.where(truth == 1, 0.8, 0.2) + rng.normal(0, 0.1, n), 0.01, 0.99)
    return given, flipped, a, b


def test_flipped_labels_come_first_and_are_flagged():
    given, flipped, a, b = _case()
    queue = review_labels([_preds("a", given, a), _preds("b", given, b)])
    top = queue.top(len(flipped))
    assert {it.image_id - 100 for it in top} == set(flipped.tolist())
    # confident learning flags only what it is confident about: here a subset of the flips
    flagged = {it.image_id - 100 for it in queue.items if it.flagged}
    assert 0 < len(flagged) == queue.n_flagged and flagged <= set(flipped.tolist())
    assert [it.rank for it in queue.items] == list(range(1, 201))
    q = [it.quality for it in queue.items]
    assert q == sorted(q)
    it = top[0]
    i = it.image_id - 100
    mean = (a[i] + b[i]) / 2
    assert it.p_aff == pytest.approx({"a": a[i], "b": b[i]}) and it.p_aff_mean == pytest.approx(mean)
    # self_confidence = the ensemble's probability of the given label
    assert it.quality == pytest.approx(mean if given[i] == 1 else 1 - mean)
    assert it.models_disagreeing == 2 and "2 of 2 models favour" in it.reason


def test_relabelled_images_are_marked_and_csv_has_each_model(tmp_path):
    given, flipped, a, b = _case(seed=1)
    first = int(flipped[0]) + 100
    now = "AFF" if given[flipped[0]] == 0 else "NFF"
    queue = review_labels([_preds("a", given, a), _preds("b", given, b)], current_labels={first: now})
    item = next(it for it in queue.items if it.image_id == first)
    assert item.current_label == now and f"label already changed to {now}" in item.reason
    path = queue.write_csv(tmp_path / "q.csv", top=5)
    rows = _rows(path)
    assert len(rows) == 5 and list(rows[0])[-2:] == ["p_aff_a", "p_aff_b"]
    assert float(rows[0]["p_aff_a"]) == pytest.approx(queue.items[0].p_aff["a"], abs=1e-6)


def test_review_refuses_one_class_and_mixed_splits():
    with pytest.raises(ValueError, match="both AFF and NFF"):
        review_labels([_preds("a", np.zeros(6, int), np.full(6, 0.3))])
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="different splits"):
        review_labels([_preds("a", y, np.full(4, 0.5)), _preds("b", y, np.full(4, 0.5), split="t v2")])


def test_labels_review_cli_prints_and_exports_the_queue(tmp_path_factory, tmp_path, capsys):
    study = tiny_study(shared_base(tmp_path_factory))
    parser = argparse.ArgumentParser()
    _labels.add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "queue.csv"
    args = parser.parse_args(["labels", "review", str(study), "-e", CNN, VIT, "--top", "7",
                              "--out", str(out)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "images flagged by confident learning" in printed and "/data/P0" in printed
    rows = _rows(out)
    assert len(rows) == 7
    # recompute the ranking from the runs' own CSV files: mean AFF probability of the two experiments
    probs = {}
    with Project.open(study) as project:
        for name in (CNN, VIT):
            for job in experiment_jobs(project, name):
                for r in _rows(project.runs_dir / job.run_id / "predictions.csv"):
                    probs.setdefault(int(r["image_id"]), [int(r["label"])]).append(float(r["probability"]))
    quality = {i: (np.mean(v[1:]) if v[0] == 1 else 1 - np.mean(v[1:])) for i, v in probs.items()}
    expected = sorted(quality, key=lambda i: (quality[i], i))[:7]
    assert [int(r["image_id"]) for r in rows] == expected
    assert [float(r["quality"]) for r in rows] == pytest.approx([quality[i] for i in expected], abs=1e-6)
