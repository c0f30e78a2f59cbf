"""Simulated readers: the requested sensitivity and specificity, subtle AFF missed more, scores."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InvalidInput
from engine.evaluate import read_score, roc_auc
from engine.reads import list_sessions, phantom_truth, reads_of, simulate_readers
from engine.store import Project
from tests.engine._reads_factory import manifest_project


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return manifest_project(tmp_path_factory.mktemp("sim"), patients=300, per_patient=2, label=False)


def test_truth_comes_from_the_manifest(study):
    path, sizes = study
    with Project.open(path) as p:
        truth = phantom_truth(p)
    assert set(truth) == set(sizes)
    assert all((t.label == "AFF") == (sizes[i] is not None) for i, t in truth.items())
    assert all(t.size == pytest.approx(sizes[i], abs=1e-3) for i, t in truth.items() if t.label == "AFF")


def test_simulated_readers_hit_the_rates_and_miss_subtle_aff_more(study, tmp_path):
    import shutil

    path, sizes = study
    copy = shutil.copytree(path, tmp_path / "Copy.affproj")
    with Project.open(copy) as p:
        sessions = simulate_readers(p, readers=3, sensitivity=0.7, specificity=0.95, seed=0)
        assert [s.name for s in list_sessions(p)] == ["sim-1", "sim-2", "sim-3"]
        assert all(s.source == "simulated" and s.confidence and s.blind for s in sessions)
        assert len({s.reader for s in sessions}) == 3
        aff = np.array([i for i, v in sizes.items() if v is not None])
        small = aff[np.argsort([sizes[i] for i in aff])][: len(aff) // 4]
        large = aff[np.argsort([sizes[i] for i in aff])][-len(aff) // 4:]
        labels = np.array([int(sizes[i] is not None) for i in sorted(sizes)])
        for s in sessions:
            reads = {r.image_id: r for r in reads_of(p, s)}
            assert set(reads) == set(sizes)
            sens = np.mean([reads[i].label == "AFF" for i in aff])
            spec = np.mean([reads[i].label == "NFF" for i in sizes if sizes[i] is None])
            assert sens == pytest.approx(0.7, abs=0.06) and spec == pytest.approx(0.95, abs=0.03)
            s_small = np.mean([reads[i].label == "AFF" for i in small])
            s_large = np.mean([reads[i].label == "AFF" for i in large])
            assert s_large - s_small > 0.3  # feature size drives the misses
            assert {r.confidence for r in reads.values()} <= {1, 2, 3, 4, 5}
            assert all(r.seconds > 0 for r in reads.values())
            scores = [read_score(reads[i]) for i in sorted(sizes)]
            assert roc_auc(labels, scores) > 0.85
        flat = simulate_readers(p, readers=1, seed=0, prefix="flat", size_effect=0.0)[0]
        reads = {r.image_id: r for r in reads_of(p, flat)}
        gap = (np.mean([reads[i].label == "AFF" for i in large])
               - np.mean([reads[i].label == "AFF" for i in small]))
        assert abs(gap) < 0.2  # without a size effect, subtle and obvious AFF are read alike


def test_same_seed_same_reads(study, tmp_path):
    import shutil

    path, _ = study
    out = []
    for n in range(2):
        copy = shutil.copytree(path, tmp_path / f"C{n}.affproj")
        with Project.open(copy) as p:
            simulate_readers(p, readers=2, seed=4)
            out.append({(r.image_id, r.label, r.confidence) for r in reads_of(p, "sim-2")})
    assert out[0] == out[1]


def test_bad_arguments(study, tmp_path):
    import shutil

    path, _ = study
    copy = shutil.copytree(path, tmp_path / "Bad.affproj")
    with Project.open(copy) as p:
        for bad in (dict(readers=0), dict(sensitivity=1.0), dict(specificity=0)):
            with pytest.raises(InvalidInput):
                simulate_readers(p, **bad)
        with pytest.raises(InvalidInput, match="describes none"):
            simulate_readers(p, manifest=tmp_path / "nothing.csv")
