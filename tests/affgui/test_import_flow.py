"""File > Import Images: runs engine.io off the GUI thread, then reports and re-lists."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QLabel

from affgui.widgets.import_dialog import ImportDialog, ImportReportDialog
from engine.store import Project

from .conftest import N_IMAGES, open_in


def write_folder(root, n_aff=2, n_nff=3):
    rng = np.random.default_rng(0)
    for label, n in (("AFF", n_aff), ("NFF", n_nff)):
        (root / label).mkdir(parents=True)
        for k in range(n):
            pixels = rng.integers(0, 255, (120 + 10 * k, 90), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{label}_{k}.png")
    (root / "NFF" / "broken.png").write_bytes(b"not a png at all")


def test_import_adds_images_labels_from_folders_and_reports_errors(qtbot, window, project_path,
                                                                   tmp_path):
    open_in(qtbot, window, project_path)
    folder = tmp_path / "incoming"
    write_folder(folder)
    with qtbot.waitSignal(window.sigRowsChanged, timeout=60_000) as blocker:
        window.flows.import_images(folder, folder_labels=True)
        assert window.flows.progress_dialog is not None
    assert blocker.args == [N_IMAGES + 5]
    report = window.flows.last_report
    assert report.added == 5 and len(report.errors) == 1
    dialog = window.findChild(ImportReportDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.findChild(QLabel, "count_added").text() == "5"
    assert dialog.findChild(QLabel, "count_errors").text() == "1"
    assert dialog.errors_table.rowCount() >= 1
    assert dialog.errors_table.item(0, 0).text().endswith("broken.png")
    assert window.counts["AFF"] == 2 and window.counts["NFF"] == 3
    assert window.flows.progress_dialog is None
    dialog.close()
    with Project.open(project_path) as project:
        assert project.images.count() == N_IMAGES + 5


def test_import_dialog_needs_a_folder(qtbot, tmp_path):
    dialog = ImportDialog()
    qtbot.addWidget(dialog)
    ok = dialog._buttons.buttons()[0]
    assert not ok.isEnabled()
    dialog._folder.setText(str(tmp_path))
    dialog._manifest.setText(str(tmp_path / "m.csv"))
    assert ok.isEnabled()
    assert dialog.folder() == tmp_path and dialog.manifest() == tmp_path / "m.csv"
    assert dialog.folder_labels()


def test_rebuild_cache_restores_deleted_pixels(qtbot, window, tmp_path):
    import shutil

    folder = tmp_path / "incoming"
    write_folder(folder, n_aff=2, n_nff=2)
    with Project.create(tmp_path / "Rebuild") as project:
        from engine.io import import_sources

        import_sources(project, [folder], workers=1)
        rows = project.images.list(order="id")
        before = {r.sha256: np.array(project.cache.load_full(r.sha256)) for r in rows}
        path = project.path
    shutil.rmtree(path / "cache" / "images")
    open_in(qtbot, window, path)
    with qtbot.waitSignal(window.sigRowsChanged, timeout=60_000):
        window.flows.rebuild_cache()
    report = window.flows.last_report
    assert (report.rebuilt, report.present, report.errors) == (4, 0, [])
    assert "4 image(s) rebuilt" in window.flows.last_message.text()
    with Project.open(path) as project:
        for r in rows:
            assert np.array_equal(project.cache.load_full(r.sha256), before[r.sha256])
