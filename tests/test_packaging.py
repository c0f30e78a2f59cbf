"""The desktop bundle: ``packaging/build --check`` builds it and runs its self-test (AFF_PACKAGING=1).

The full build takes many minutes and gigabytes, so it runs only when asked; the build script's
own helpers, the spec's portability and the Linux desktop entry are checked every time.
"""

from __future__ import annotations

import configparser
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
BUILD = PACKAGING / "build"


def _load_build_script():
    loader = importlib.machinery.SourceFileLoader("affwb_packaging_build", str(BUILD))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build():
    return _load_build_script()


def test_build_script_is_executable_and_the_spec_is_portable():
    assert os.access(BUILD, os.X_OK)
    assert BUILD.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3\n")
    spec = (PACKAGING / "aff-workbench.spec").read_text(encoding="utf-8")
    assert "/usr" not in spec and "/home" not in spec
    for icon in ("affwb.ico", "affwb.icns"):  # Windows and macOS icons exist where the spec looks
        assert f'"{icon}"' in spec and (ROOT / "resources" / icon).stat().st_size > 1000
    assert "pytest" in spec and '"tkinter"' in spec and '"QtWebEngineCore"' in spec


def test_desktop_entry_names_the_bundle_executable_and_icon(build):
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(PACKAGING / "linux" / f"{build.NAME}.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "AFF Workbench"
    assert desktop["Exec"].split()[0] == build.NAME and desktop["Icon"] == build.NAME
    assert desktop["Terminal"] == "false" and desktop["Categories"].endswith(";")


def test_bundle_sizes_count_cuda_libraries_apart(build, tmp_path):
    files = {"aff-workbench": 10, "_internal/torch/lib/libtorch_cpu.so": 100,
             "_internal/torch/lib/libtorch_cuda.so": 1000,
             "_internal/nvidia/cudnn/lib/libcudnn.so.9": 5000,
             "_internal/triton/backends/nvidia/bin/ptxas": 200,
             "_internal/PySide6/Qt/lib/libQt6Core.so.6": 50,
             "_internal/torch/lib/libtorch_nvshmem.so": 7, "_internal/cuda/bindings/driver.so": 3,
             "_internal/torch/cuda/__init__.py": 9}  # torch.cuda is in a CPU-only torch too
    for name, size in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * size)
    sizes = build.bundle_sizes(tmp_path)
    assert sizes == {"files": 9, "bytes": 6379, "cuda_bytes": 6210, "without_cuda_bytes": 169}


def test_check_without_a_bundle_says_so(tmp_path):
    out = subprocess.run([sys.executable, str(BUILD), "--check", "--no-build", "--dist", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert f"no bundle at {tmp_path / 'aff-workbench'}" in out.stderr


def test_check_of_a_bundle_that_hangs_says_so(build, tmp_path, monkeypatch, capsys):
    exe = build.executable(tmp_path)
    exe.write_text("#!/bin/sh\nexec sleep 30\n")
    exe.chmod(0o755)
    monkeypatch.setattr(build, "VERSION_TIMEOUT_S", 0.5)
    assert build.run_check(tmp_path, timeout_s=1) == 1
    assert f"{exe} --version did not finish within 0.5 s" in capsys.readouterr().err


@pytest.mark.skipif(os.environ.get("AFF_PACKAGING") != "1",
                    reason="builds the desktop bundle (minutes, gigabytes): set AFF_PACKAGING=1 to run it")
def test_bundle_builds_and_passes_its_self_test(tmp_path):
    dist = Path(os.environ.get("AFF_PACKAGING_DIST", tmp_path / "dist"))
    out = subprocess.run([sys.executable, str(BUILD), "--check", "--dist", str(dist),
                          "--work", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True,
                         timeout=3 * 3600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "self-test: passed" in out.stdout
    worker_line = next(line for line in out.stdout.splitlines() if line.startswith("self-test: worker: ok"))
    # The worker was the bundle's own executable in engine mode, not a Python interpreter.
    assert f"{dist / 'aff-workbench' / 'aff-workbench'} --engine worker" in worker_line
    bundle = dist / "aff-workbench"
    info = json.loads((dist / "aff-workbench-build.json").read_text())
    assert info["bytes"] > info["without_cuda_bytes"] > 0
    internal = bundle / "_internal"
    for unwanted in ("pytest", "_pytest", "pytestqt", "tkinter", "IPython", "ruff", "mlflow", "tests"):
        assert not (internal / unwanted).exists(), unwanted
    qt_libs = {p.name for p in (internal / "PySide6" / "Qt" / "lib").glob("libQt6*")}
    assert not {n for n in qt_libs if n.startswith(("libQt6WebEngine", "libQt6Quick", "libQt6Qml",
                                                    "libQt6Multimedia", "libQt63D"))}
    assert (internal / "affgui" / "resources" / "affwb.svg").is_file()
