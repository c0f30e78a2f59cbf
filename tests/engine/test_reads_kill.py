"""Reads survive kill -9 like labels: each read is committed before ``record_read`` returns."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from engine.reads import create_session, progress, reads_of
from engine.store import Project
from tests.engine._store_factory import add_images

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from engine.reads import record_read
    from engine.store import Project

    p = Project.open(sys.argv[1])
    ids = [int(x) for x in sys.argv[2].split(",")]
    for n, i in enumerate(ids):
        record_read(p, "blind", i, ("AFF", "NFF", "uncertain")[n % 3], confidence=1 + n % 5,
                    seconds=0.5 * n)
    print("recorded", flush=True)
    p.conn.execute("BEGIN IMMEDIATE")  # a read half written when the process dies
    p.conn.execute("INSERT INTO reads(session_id, image_id, reader, label, at) "
                   "VALUES (1, ?, 'ann', 'AFF', 'now')", (ids[0],))
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint, no cleanup
""")


def test_reads_survive_kill_9(tmp_path):
    p = Project.create(tmp_path / "Kill")
    add_images(p, 30, patients=10)
    create_session(p, "blind", "ann")
    order = [r[0] for r in p.query("SELECT image_id FROM reading_items ORDER BY position")]
    p.close()
    script = tmp_path / "read.py"
    script.write_text(SCRIPT)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "Kill.affproj"),
                           ",".join(map(str, order[:17]))], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert "recorded" in proc.stdout
    with Project.open(tmp_path / "Kill.affproj") as p:
        reads = reads_of(p, "blind", latest=False)
        assert [r.image_id for r in reads] == order[:17]  # every committed read, nothing half-written
        assert [r.label for r in reads] == [("AFF", "NFF", "uncertain")[n % 3] for n in range(17)]
        assert [r.confidence for r in reads] == [1 + n % 5 for n in range(17)]
        assert progress(p, "blind") == (17, 30)
        assert p.labels.all() == {}  # reads never touch the current labels
