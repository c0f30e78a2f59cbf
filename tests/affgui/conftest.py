"""Fixtures for the GUI tests: offscreen Qt, fresh settings, a small project on disk."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import gc  # noqa: E402
import hashlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from engine.store import ImageRecord, Project  # noqa: E402

HERE = Path(__file__).resolve().parent
N_IMAGES = 12
FULL_SHAPE = (200, 160)  # cached copy (height, width)
THUMB_SHAPE = (64, 51)


def thumb_value(k: int) -> int:
    """The uniform grey of the k-th test image's thumbnail."""
    return 30 + 15 * k


def full_pixels(k: int) -> np.ndarray:
    """The k-th test image's cached pixels: a vertical ramp offset by k."""
    h, w = FULL_SHAPE
    ramp = np.linspace(0, 200, h, dtype=np.float32)[:, None] + 3 * k
    return np.broadcast_to(ramp, (h, w)).astype(np.uint8)


def make_project(path: Path, n: int = N_IMAGES, patients: int = 4) -> list[int]:
    """A project with ``n`` images (cache and thumbnails written), closed again; returns ids."""
    ids = []
    with Project.create(path) as project:
        with project.transaction() as conn:
            for k in range(n):
                sha = hashlib.sha256(f"image-{k}".encode()).hexdigest()
                rec = ImageRecord(
                    path=f"/data/P{k % patients:03d}/img{k:03d}.dcm", source_folder="/data",
                    sha256=sha, bytes=1000 + k, format="dicom", width=2000, height=2500,
                    patient_key=f"P{k % patients:03d}", view=("AP", "lateral")[k % 2],
                    laterality=("L", "R")[(k // 2) % 2],
                    cache_height=FULL_SHAPE[0], cache_width=FULL_SHAPE[1],
                    thumb_height=THUMB_SHAPE[0], thumb_width=THUMB_SHAPE[1],
                )
                ids.append(project.images.insert(conn, rec))
        for k, image_id in enumerate(ids):
            sha = hashlib.sha256(f"image-{k}".encode()).hexdigest()
            project.cache.write_full(sha, full_pixels(k))
            project.cache.write_thumb(image_id, np.full(THUMB_SHAPE, thumb_value(k), np.uint8))
    return ids


def pytest_collection_modifyitems(items):
    # The offscreen platform plugin says this whenever a window's size limits change.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.qt_log_ignore(
                "This plugin does not support propagateSizeHints"))


@pytest.fixture(autouse=True)
def main_thread_gc(qapp):
    """As in the app: collect garbage on the GUI thread only; at the end of each test too,
    so no test's windows are freed in the middle of the next one's events."""
    from affgui import gc_guard

    collector = gc_guard.install(qapp)
    yield
    gc.collect()
    collector.stop()  # the engine tests after these run with Python's usual collection


@pytest.fixture(autouse=True)
def no_quit_dialog(monkeypatch):
    """Closing a window with jobs running would ask in a modal dialog; tests keep them running
    (the dialog's default) unless they set ``ask_running`` themselves."""
    from affgui.parts.experiments.controller import ExperimentsController

    monkeypatch.setattr(ExperimentsController, "ask_running",
                        staticmethod(lambda parent, busy: "keep"))


@pytest.fixture(autouse=True)
def fresh_settings(tmp_path, monkeypatch):
    """Every test gets its own config and data folders and freshly loaded settings."""
    from affgui import settings

    monkeypatch.setenv("AFFWB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("AFFWB_DATA_DIR", str(tmp_path / "data"))
    settings.reset_settings()
    yield
    settings.reset_settings()


@pytest.fixture
def project_path(tmp_path) -> Path:
    path = tmp_path / "Study.affproj"
    make_project(path)
    return path


@pytest.fixture
def window(qtbot):
    """A shown MainWindow with no project; closed (and its threads joined) at teardown."""
    from affgui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    return win


def open_in(qtbot, win, path: Path) -> None:
    """Open ``path`` in ``win`` and wait until its image list is shown."""
    with qtbot.waitSignal(win.sigRowsChanged, timeout=10_000):
        win.open_project(path)


@pytest.fixture
def viewer_and_rows(qtbot, project_path):
    project = Project.open(project_path)
    from affgui.menus import make_action
    from affgui.widgets.image_viewer import ImageViewerWidget

    viewer = ImageViewerWidget(actions=make_action)  # the keys come from the action registry
    qtbot.addWidget(viewer)
    viewer.resize(800, 700)
    viewer.show()
    qtbot.waitExposed(viewer)
    viewer.set_cache(project.cache)
    yield viewer, project.images.list(order="id")
    viewer.wait()
    project.close()
