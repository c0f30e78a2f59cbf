"""The demo project comes with two simulated readers, driven by the phantom's feature sizes."""

from __future__ import annotations

from engine.demo import build_demo_project
from engine.reads import list_sessions, phantom_truth, progress, reads_of
from engine.store import Project


def test_demo_has_two_simulated_readers(tmp_path):
    path = build_demo_project(tmp_path / "Demo", patients=6, seed=5, size=(400, 320))
    with Project.open(path) as p:
        sessions = list_sessions(p)
        assert [(s.name, s.source, s.mode, s.confidence) for s in sessions] == [
            ("sim-1", "simulated", "blind", True), ("sim-2", "simulated", "blind", True)]
        n = len(p.images.ids())
        assert all(progress(p, s) == (n, n) for s in sessions)
        truth = phantom_truth(p)
        assert set(truth) == set(p.images.ids())
        assert all(t.size is not None for t in truth.values() if t.label == "AFF")  # from the manifest
        assert all(r.confidence in range(1, 6) for r in reads_of(p, "sim-1"))
        assert p.labels.history()  # the import labels are still the current labels
        assert {h.source for h in p.labels.history()} == {"import"}
