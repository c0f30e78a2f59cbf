"""Killing ``affengine import`` (kill -9) takes its decoder processes with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.store import Project
from tests.engine._dicom_factory import femur_like, write_dicom

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killed_import_leaves_no_decoder_alive(tmp_path):
    Project.create(tmp_path / "S").close()
    for i in range(16):
        write_dicom(tmp_path / "src" / "p1" / f"{i}.dcm", femur_like(24, 20, 12, seed=i),
                    patient_id="P1")
    # the parent stores slowly, so the pool is up (its workers idle) when it is killed
    script = textwrap.dedent(f"""
        import sys, time
        import engine.io._pipeline as pipeline
        slow = pipeline._Importer.outcome
        def outcome(*a):
            time.sleep(1.0)
            return slow(*a)
        pipeline._Importer.outcome = outcome
        from engine.cli import main
        sys.exit(main(["import", {str(tmp_path / "S.affproj")!r}, {str(tmp_path / "src")!r},
                       "--workers", "2"]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        kids: set[int] = set()
        while time.monotonic() < deadline and len(kids) < 2:
            kids = _children(proc.pid)
            time.sleep(0.1)
        assert len(kids) >= 2, "the import never started its decoders"
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.1)
        alive = [k for k in kids if _alive(k)]
        assert alive == [], f"decoder processes still alive after the import was killed: {alive}"
    finally:
        for k in _children(proc.pid) | kids:
            if _alive(k):
                os.kill(k, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
