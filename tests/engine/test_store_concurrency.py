"""Two processes labelling the same project at the same time lose no change."""

import multiprocessing as mp

from engine.store import Project
from tests.engine._store_factory import add_images


def _label_all(path, reader, label, ids, start):
    start.wait()
    with Project.open(path) as p:
        for image_id in ids:
            p.labels.set(image_id, label, reader)
            # Each write also re-reads: a lost update would show up as a wrong old_label.
        p.labels.set_many(ids[:5], "uncertain", reader)


def test_two_processes_lose_no_change(tmp_path):
    p = Project.create(tmp_path / "Shared")
    ids = add_images(p, 60, patients=10)
    p.close()

    ctx = mp.get_context("spawn")
    start = ctx.Event()
    a = ctx.Process(target=_label_all, args=(str(tmp_path / "Shared.affproj"), "ann", "AFF", ids[:40], start))
    b = ctx.Process(target=_label_all, args=(str(tmp_path / "Shared.affproj"), "bob", "NFF", ids[20:], start))
    a.start()
    b.start()
    start.set()
    a.join(120)
    b.join(120)
    assert a.exitcode == 0 and b.exitcode == 0

    with Project.open(tmp_path / "Shared.affproj") as p:
        history = p.labels.history()
        # 40 + 40 single changes (some overlap may be no-ops only if the same label) + 5 + 5.
        assert len([h for h in history if h.reader == "ann"]) == 45
        assert len([h for h in history if h.reader == "bob"]) == 45
        # Replaying the history per image ends at the stored label, and every change's
        # old label is the previous change's new label: no update was lost.
        current = {}
        for h in history:
            assert h.old_label == current.get(h.image_id)
            current[h.image_id] = h.new_label
        assert {k: v for k, v in current.items() if v is not None} == p.labels.all()
        assert set(p.labels.all()) == set(ids)
