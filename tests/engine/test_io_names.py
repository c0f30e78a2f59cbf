"""Non-UTF-8 file names (old archives, Windows shares) import, print and keep their errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine.store import Project
from tests.engine._dicom_factory import femur_like, write_dicom

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX byte file names")


def test_latin1_names_import_with_summary_and_errors(tmp_path):
    Project.create(tmp_path / "S").close()
    src = tmp_path / "src"
    folder = os.path.join(os.fsencode(src), b"AFF", b"M\xfcller")  # Latin-1 u-umlaut
    os.makedirs(folder)
    good = os.path.join(folder, b"caf\xe9.dcm")
    write_dicom(os.fsdecode(good), femur_like(20, 16, 12), patient_id=None)
    with open(os.path.join(folder, b"bad\xff.dcm"), "wb") as f:
        f.write(b"not a dicom at all" * 10)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}
    out = subprocess.run([sys.executable, "-m", "engine", "import", str(tmp_path / "S.affproj"),
                          str(src), "--workers", "1"], capture_output=True, env=env, timeout=120)
    stdout, stderr = out.stdout.decode(), out.stderr.decode()
    assert out.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert "1 added" in stdout and "1 error" in stdout
    assert "bad\\xff.dcm" in stderr  # printed with an escape, never a crash
    with Project.open(tmp_path / "S.affproj") as p:
        errors = p.images.errors()
        assert len(errors) == 1 and "bad\\xff.dcm" in errors[0][0]
        (row,) = p.query("SELECT path FROM images")
        assert "caf\\xe9.dcm" in row["path"] and "M\\xfcller" in row["path"]
        assert p.images.counts("label") == {"AFF": 1}
    # a second run finds the image unchanged by its stored (escaped) path
    again = subprocess.run([sys.executable, "-m", "engine", "import",
                            str(tmp_path / "S.affproj"), str(src), "--workers", "1"],
                           capture_output=True, env=env, timeout=120)
    assert "0 added" in again.stdout.decode() and "1 unchanged" in again.stdout.decode()


def test_path_codec_round_trips():
    from engine.io import fs_path, stored_path

    raw = os.fsdecode(b"/data/caf\xe9/x\\y.dcm")
    text = stored_path(raw)
    text.encode("utf-8")  # storable
    assert fs_path(text) == raw
    assert stored_path("/data/plain/é.dcm") == "/data/plain/é.dcm"
    assert fs_path("/data/plain/é.dcm") == "/data/plain/é.dcm"
