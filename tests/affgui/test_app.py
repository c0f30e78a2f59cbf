"""The ``affgui`` entry point: --version, --engine, --self-test, --demo (built once, off the GUI
thread), PATH, no args; and the resources it loads as package data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import types
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from affgui import __version__
from affgui.app import create_window, main, parse_args
from affgui.settings import data_dir, demo_project_path, get_settings, save_settings

from .conftest import make_project

DEMO_IMAGES = 6
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_demo(monkeypatch):
    """Replace engine.demo with a fast builder that makes a 6-image project."""
    state = types.SimpleNamespace(calls=[], gate=None, cancel_seen=False)

    def build_demo_project(path, *, patients=100, seed=0, progress=None):
        state.calls.append(path)
        try:
            for k in range(1, 4):
                progress("phantom", k, 3)
            if state.gate is not None:  # let the test look at the progress dialog
                while not state.gate.wait(0.01):
                    progress("phantom", 3, 3)
        except BaseException:
            state.cancel_seen = True
            raise
        make_project(path, n=DEMO_IMAGES)
        progress("import", DEMO_IMAGES, DEMO_IMAGES)
        return path

    module = types.ModuleType("engine.demo")
    module.build_demo_project = build_demo_project
    monkeypatch.setitem(sys.modules, "engine.demo", module)
    return state


def test_version_names_app_torch_timm_qt_and_gpus(capsys, monkeypatch):
    from importlib import metadata

    import PySide6

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    assert main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"affgui {__version__}"
    assert lines[1].startswith(f"torch {metadata.version('torch')}")
    assert lines[2] == f"timm {metadata.version('timm')}"
    assert lines[3].startswith("Qt 6.") and lines[3].endswith(f"(PySide6 {PySide6.__version__})")
    assert lines[4] == "GPU: cuda:1, cuda:3"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.splitlines()[4] == "GPU: none seen (training runs on the CPU)"


def test_torch_build_read_from_metadata(monkeypatch):
    from affgui import versions

    monkeypatch.setattr(versions, "dist_version", lambda name: "2.5.0+cpu")
    assert versions.torch_build() == "CPU-only build"
    monkeypatch.setattr(versions, "dist_version", lambda name: "2.5.0+cu121")
    assert versions.torch_build() == "CUDA build"
    monkeypatch.setattr(versions, "dist_version", lambda name: "not installed")
    monkeypatch.setattr(versions.metadata, "requires", lambda name: None)
    assert versions.torch_build() == ""


@pytest.mark.parametrize("argv", [["--demo", "some.affproj"], ["--self-test", "--demo"],
                                  ["some.affproj", "--self-test"], ["--demo", "--engine", "init", "x"]])
def test_exclusive_options(argv, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    err = capsys.readouterr().err
    assert "--engine must come first" in err if "--engine" in argv else "give one of" in err


_ENGINE_SCRIPT = """
import sys
from affgui.app import main
first = main(["--engine", "init", sys.argv[1]])
again = main(["--engine", "init", sys.argv[1]])
qt = sorted(m for m in sys.modules if m.startswith(("PySide6", "pyqtgraph", "torch")))
print(first, again, qt)
"""


def test_engine_mode_runs_the_engine_cli_without_qt(tmp_path):
    # What a bundle's worker runs: `aff-workbench --engine worker ...` (engine.jobs.engine_command).
    out = subprocess.run([sys.executable, "-c", _ENGINE_SCRIPT, str(tmp_path / "Made")], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[-2] == "0 2 []"  # created; then refused (exists); no Qt, no torch
    assert (tmp_path / "Made.affproj" / "project.sqlite").is_file()
    assert "affengine: error:" in out.stderr


def test_resources_load_as_package_data(qapp):
    from importlib import resources

    from PySide6.QtGui import QIcon

    from affgui.app import ICON
    from affgui.icons import PACKAGE
    from affgui.self_test import RESOURCES, resource_path

    assert ICON in RESOURCES
    folder = resources.files(PACKAGE)  # affgui/resources once installed (tests/test_resources.py)
    assert {p.name for p in folder.iterdir() if p.suffix in {".png", ".svg"}} == set(RESOURCES)
    assert resource_path("affwb.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in resource_path("affwb.svg").read_bytes()
    with resources.as_file(resource_path(ICON)) as svg:
        assert QIcon(str(svg)).pixmap(32, 32).width() == 32


def test_no_module_finds_files_beside_its_source():
    # A bundle (or a zipped install) has no source tree: resources load through importlib.resources.
    offenders = [f"{path.relative_to(ROOT)}:{n}" for package in ("affgui", "engine")
                 for path in sorted((ROOT / package).rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if "__file__" in line]
    assert offenders == []


def test_self_test_passes_and_leaves_nothing_behind(tmp_path):
    """``affgui --self-test`` unfrozen: demo, window, a real worker process training one fold."""
    env = {**os.environ, "AFFWB_CONFIG_DIR": str(tmp_path / "config"),
           "AFFWB_DATA_DIR": str(tmp_path / "data"), "TMPDIR": str(tmp_path / "tmp"),
           "QT_QPA_PLATFORM": "offscreen"}
    (tmp_path / "tmp").mkdir()
    out = subprocess.run([sys.executable, "-m", "affgui", "--self-test"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    steps = [line.split(":")[1].strip() for line in out.stdout.splitlines() if ": ok" in line]
    assert steps == ["resources", "demo project", "main window", "queue training", "worker"]
    assert "-m engine" in out.stdout and "self-test: passed" in out.stdout
    assert list((tmp_path / "tmp").glob("affwb-self-test-*")) == []  # the demo and its run are removed
    assert not (tmp_path / "config").exists()  # the user's settings are not touched


def test_self_test_reports_a_failing_worker(qapp, monkeypatch, tmp_path):
    import engine.jobs
    from affgui import self_test

    def broken_worker(path, device, log_path=None, extra=None):
        with open(log_path, "wb") as log:
            return subprocess.Popen([sys.executable, "-c", "print('no torch here'); raise SystemExit(3)"],
                                    stdout=log, stderr=subprocess.STDOUT)

    monkeypatch.setattr(engine.jobs, "start_worker", broken_worker)
    lines = []
    assert self_test.run_self_test(qapp, workdir=tmp_path, echo=lines.append) == 1
    assert lines[-1].startswith("self-test: FAILED at worker: SelfTestError: the worker exited 3 "
                                "with the job queued; its log:")
    assert "no torch here" in lines[-1]
    assert list(tmp_path.iterdir()) == []


def test_self_test_option_runs_offscreen(qapp, monkeypatch):
    from affgui import self_test

    seen = []
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(self_test, "run_self_test",
                        lambda app: seen.append((app, os.environ.get("QT_QPA_PLATFORM"))) or 7)
    assert main(["--self-test"]) == 7
    assert seen == [(qapp, "offscreen")]


def test_demo_lives_in_the_data_dir(tmp_path):
    assert data_dir() == tmp_path / "data"
    assert demo_project_path() == tmp_path / "data" / "demo" / "Demo.affproj"


def test_demo_is_built_once_with_progress_then_opened(qtbot, fake_demo):
    fake_demo.gate = threading.Event()
    win = create_window(parse_args(["--demo"]))
    qtbot.addWidget(win)
    dialog = win.flows.progress_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: "Generating phantom radiographs… 3 of 3" in dialog.labelText())
    assert win.project is None  # the GUI thread kept running while the build waits
    fake_demo.gate.set()
    qtbot.waitUntil(lambda: win.project is not None and win.grid.model().rowCount() == DEMO_IMAGES,
                    timeout=10_000)
    assert fake_demo.calls == [demo_project_path()]
    assert win.project.path == demo_project_path().resolve()
    assert win.flows.progress_dialog is None
    win.close()

    again = create_window(parse_args(["--demo"]))  # second run: opened, not rebuilt
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.project is not None, timeout=10_000)
    assert len(fake_demo.calls) == 1
    assert again.grid.model().rowCount() == DEMO_IMAGES


def test_cancelling_the_demo_build_leaves_no_project(qtbot, fake_demo):
    fake_demo.gate = threading.Event()
    win = create_window(parse_args(["--demo"]))
    qtbot.addWidget(win)
    dialog = win.flows.progress_dialog
    qtbot.waitUntil(lambda: "3 of 3" in dialog.labelText())
    qtbot.mouseClick(dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "cancelled" in win.statusBar().currentMessage())
    assert fake_demo.cancel_seen
    assert win.project is None and not demo_project_path().exists()
    assert win.stack.currentWidget() is win.welcome


_MAIN_SCRIPT = """
import sys, types
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from tests.affgui.conftest import make_project

calls = []
def build_demo_project(path, *, patients=100, seed=0, progress=None):
    calls.append(path)
    progress("phantom", 1, 1)
    make_project(path, n=%d)
    return path
sys.modules["engine.demo"] = types.SimpleNamespace(build_demo_project=build_demo_project)

from affgui.app import main
from affgui.main_window import MainWindow

app = QApplication(["affgui"])  # main() uses it; timers need it before main() runs


def check():
    wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    if wins and wins[0].project is not None:
        print("rows", wins[0].grid.model().rowCount(), "builds", len(calls))
        wins[0].close()
        QApplication.quit()
    else:
        QTimer.singleShot(20, check)

QTimer.singleShot(0, check)
QTimer.singleShot(30_000, QApplication.quit)
sys.exit(main(["--demo"]))
"""


def test_main_runs_the_event_loop_until_the_window_closes(tmp_path):
    # A fresh interpreter: once QApplication.exec() has returned, Qt ends nested event
    # loops at once, which would break the qtbot waits of every later test here.
    env = {**os.environ, "AFFWB_CONFIG_DIR": str(tmp_path / "config"),
           "AFFWB_DATA_DIR": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", _MAIN_SCRIPT % DEMO_IMAGES], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["rows", str(DEMO_IMAGES), "builds", "1"]
    assert (tmp_path / "data" / "demo" / "Demo.affproj" / "project.sqlite").is_file()
    settings = json.loads((tmp_path / "config" / "settings.json").read_text())
    assert settings["recent_projects"][0].endswith("Demo.affproj")


def test_path_argument_opens_that_project(qtbot, project_path):
    win = create_window(parse_args([str(project_path)]))
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.project is not None, timeout=10_000)
    assert win.project.path == project_path.resolve()


def test_no_arguments_reopen_the_last_project(qtbot, project_path):
    settings = get_settings()
    settings.add_recent(project_path.resolve())
    save_settings(settings)
    win = create_window(parse_args([]))
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.project is not None, timeout=10_000)
    assert win.project.path == project_path.resolve()


def test_no_arguments_and_no_history_show_the_start_page(qtbot, tmp_path):
    win = create_window(parse_args([]))
    qtbot.addWidget(win)
    assert win.project is None and win.stack.currentWidget() is win.welcome
    texts = [b.text() for b in win.welcome.buttons]
    assert texts == ["Open Demo Project", "Open Project", "New Project"]


def test_the_window_icon_comes_from_the_package_and_its_absence_is_no_crash(qtbot, monkeypatch, capsys):
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    app.setWindowIcon(QIcon())
    win = create_window(parse_args([]))
    qtbot.addWidget(win)
    assert not app.windowIcon().isNull()
    # An editable install made before the icons moved to resources/ knows no affgui.resources.
    app.setWindowIcon(QIcon())
    monkeypatch.setattr("affgui.icons.PACKAGE", "affgui.not_installed_resources")
    win = create_window(parse_args([]))
    qtbot.addWidget(win)
    assert win.stack.currentWidget() is win.welcome and app.windowIcon().isNull()
    assert ("affgui: warning: no window icon: the package affgui.not_installed_resources"
            in capsys.readouterr().err)


def test_new_project_creates_an_empty_project(qtbot, window, tmp_path):
    window.flows.open_project(tmp_path / "Fresh", create=True)
    qtbot.waitUntil(lambda: window.project is not None, timeout=10_000)
    assert window.project.path == (tmp_path / "Fresh.affproj").resolve()
    assert window.grid.model().rowCount() == 0
    assert window.viewer.image_item.image is None
    assert "0 images" in window.counts_label.text()
