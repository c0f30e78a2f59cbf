"""A parallel import after OpenCV has run in the importing process does not hang.

OpenCV's thread pool does not survive fork: a forked decoder that touched the
parent's pool blocked for ever (a 2-worker ``benchmarks/import_bench.py`` run hung
37 minutes). Each case runs in a fresh interpreter, since the state at stake is
the whole process's, with a timeout standing in for "hangs".
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    import cv2
    import numpy as np
    from engine.io import import_sources
    from engine.store import Project
    from tests.engine._dicom_factory import femur_like, write_dicom

    base = Path(sys.argv[1])
    for i in range(3):
        write_dicom(base / "src" / f"f{i}.dcm", femur_like(2500, 2000, seed=i),
                    patient_id=f"P{i}")
    if sys.argv[2] == "threads":
        cv2.setNumThreads(4)  # another library turns OpenCV's pool on again
        big = np.zeros((2500, 2000), np.uint16)
        for _ in range(3):
            cv2.resize(big, (1000, 800), interpolation=cv2.INTER_LINEAR)
    else:  # what benchmarks/import_bench.py's step timing does: OpenCV runs here
        from engine.io._reader import decode_bytes
        from engine.io._resample import cache_pixels
        for path in sorted((base / "src").iterdir()):
            cache_pixels(decode_bytes(path.read_bytes(), "dicom"))
    with Project.create(base / "B") as b:
        report = import_sources(b, [base / "src"], workers=2)
        assert report.added == 3 and report.errors == [], report.errors
    print("imported")
""")


@pytest.mark.parametrize("case", ["cache-copy-here", "threads"])
def test_two_worker_import_after_opencv_ran_here(tmp_path, case):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), case], cwd=ROOT,
                          capture_output=True, text=True, timeout=90,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("imported")
