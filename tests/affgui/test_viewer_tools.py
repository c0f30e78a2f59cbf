"""Viewer tools: presets, invert, rotate/flip, 1:1, overlay, mm ruler; ROI boxes in the store."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from affgui import display
from affgui.widgets._viewer_items import IMPORT_COLOR, USER_COLOR
from engine.store import Project

from .conftest import FULL_SHAPE, full_pixels, open_in
from .test_image_viewer import show


def test_presets_invert_and_overlay(qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    show(qtbot, viewer, rows[2])
    pixels = full_pixels(2)
    viewer.apply_preset("Full range")
    lo, hi = int(pixels.min()), int(pixels.max())
    assert viewer.window_level() == pytest.approx(((lo + hi) / 2, hi - lo))
    assert tuple(viewer.image_item.levels) == pytest.approx((lo, hi))
    viewer.apply_preset("Bone")
    p50, p995 = np.percentile(pixels, (50, 99.5))
    assert viewer.levels() == pytest.approx((p50, p995), abs=0.5)
    viewer.preset_combo.activated.emit(0)  # the toolbar's "File window"
    assert viewer.window_level() == display.FILE_WINDOW
    qtbot.keyClick(viewer, Qt.Key.Key_I)
    assert viewer.invert_action.isChecked()
    assert viewer.image_item.lut[0] == 255 and viewer.image_item.lut[255] == 0
    viewer.set_inverted(False)
    assert viewer.image_item.lut is None
    assert viewer._info.isVisible() and rows[2].patient_key in viewer._info.text()
    viewer.overlay_action.trigger()
    assert not viewer._info.isVisible() and not viewer._wl.isVisible()
    viewer.overlay_action.trigger()
    assert viewer._info.isVisible()


def test_rotate_and_flip_change_the_display_only(qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    show(qtbot, viewer, rows[0])
    h, w = FULL_SHAPE
    viewer.rotate_action.trigger()
    assert viewer.orientation() == (90, False, False)
    np.testing.assert_array_equal(viewer.image_item.image, full_pixels(0))  # pixels untouched
    # rotated 90° clockwise: the image's top-left corner is now at the top right
    corner = viewer.image_item.mapToView(QPointF(0, 0))
    far = viewer.image_item.mapToView(QPointF(w, h))
    assert corner.x() > far.x() and corner.y() < far.y()
    (x0, x1), (y0, y1) = viewer.view_box.viewRange()
    assert x1 - x0 >= h - 1 and y1 - y0 >= w - 1  # fitted to the rotated image
    viewer.reset()
    viewer.flip_h_action.trigger()
    a, b = viewer.image_item.mapToView(QPointF(0, 0)), viewer.image_item.mapToView(QPointF(w, 0))
    assert a.x() > b.x() and a.y() == pytest.approx(b.y())
    viewer.flip_v_action.trigger()
    assert viewer.orientation() == (0, True, True)
    viewer.reset_action.trigger()
    assert viewer.orientation() == (0, False, False)


def test_one_to_one_shows_one_cached_pixel_per_screen_pixel(qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    show(qtbot, viewer, rows[0])
    viewer.one_to_one_action.trigger()
    (x0, x1), _ = viewer.view_box.viewRange()
    assert x1 - x0 == pytest.approx(viewer.view_box.width(), rel=0.02)


def test_ruler_measures_millimetres_from_pixel_spacing(qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    row = dataclasses.replace(rows[0], pixel_spacing_row=0.2, pixel_spacing_col=0.2,
                              study_date="20240131")
    show(qtbot, viewer, row)
    assert "2024-01-31" in viewer._info.text() and "0.2 × 0.2 mm/px" in viewer._info.text()
    viewer.ruler_action.trigger()
    # half the cached width (80 px) = 1000 source px (2000 / 160 per px) = 200 mm
    assert viewer.ruler.label() == "200.0 mm"
    h0, h1 = viewer.ruler.line.getHandles()
    viewer.ruler.line.movePoint(h1, viewer.ruler.line.mapToParent(h0.pos() + QPointF(0, 40)))
    assert viewer.ruler.label() == f"{np.hypot(0, 40 * 12.5) * 0.2:.1f} mm"  # 100.0 mm
    show(qtbot, viewer, rows[1])  # no pixel spacing: source pixels, said so
    assert viewer.ruler.label().endswith("px (no pixel spacing)")
    viewer.ruler_action.trigger()
    assert viewer.ruler.line is None


def drag(qtbot, widget, start: QPoint, end: QPoint, steps: int = 8):
    """A left-button drag as a hand makes it: hover, press, moves, release.

    pyqtgraph drops mouse moves closer than 10 ms apart (``mouseRateLimit``) and
    picks drag targets from hover events, so the moves are paced.
    """
    qtbot.mouseMove(widget, start)
    qtbot.wait(15)
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, steps + 1):
        qtbot.wait(15)
        qtbot.mouseMove(widget, start + (end - start) * (k / steps))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end)


def image_point(viewer, pos: QPoint) -> QPointF:
    return viewer.image_item.mapFromScene(viewer._view.mapToScene(pos))


def test_draw_move_and_delete_a_box_stored_in_source_pixels(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    viewer = window.viewer
    image_id = window.grid.current_image_id()
    qtbot.waitUntil(lambda: viewer.image_item.image is not None)
    with Project.open(project_path) as project:
        project.rois.add(image_id, (100, 100, 600, 500), "manifest", source="import")
    window.grid.select_next()
    window.grid.select_next(-1)  # back: the import box is read from the store
    assert list(viewer.rois.sources.values()) == ["import"]
    imported = next(iter(viewer.rois.items.values()))
    assert imported.getHandles() == [] and not imported.translatable  # ground truth: read-only
    qtbot.keyClick(window.grid, Qt.Key.Key_B)
    assert viewer.box_action.isChecked() and viewer.view_box.draw_mode
    vp = viewer._view.viewport()
    rect_center = viewer._view.mapFromScene(viewer.image_item.mapToScene(QPointF(80, 100)))
    start, end = rect_center + QPoint(-30, -40), rect_center + QPoint(30, 40)
    drag(qtbot, vp, start, end)
    with Project.open(project_path) as project:
        rois = [r for r in project.rois.for_image(image_id) if r.source == "gui"]
    assert len(rois) == 1
    roi = rois[0]
    a, b = image_point(viewer, start), image_point(viewer, end)
    assert (roi.x0, roi.y0, roi.x1, roi.y1) == pytest.approx(
        (a.x() * 12.5, a.y() * 12.5, b.x() * 12.5, b.y() * 12.5), abs=13)
    assert roi.reader == window.settings.reader
    item = viewer.rois.items[roi.id]
    assert item.pen.color().name() == USER_COLOR
    assert viewer.rois.items[next(i for i, s in viewer.rois.sources.items()
                                  if s == "import")].pen.color().name() == IMPORT_COLOR
    # move it: drag its middle right with the mouse (box mode off: left drag on a box moves it)
    viewer.set_draw_mode(False)
    mid = viewer._view.mapFromScene(item.mapToScene(item.boundingRect().center()))
    before = item.pos()
    drag(qtbot, vp, mid, mid + QPoint(30, 0))
    shift = viewer.rois.items[roi.id].pos().x() - before.x()
    assert shift > 3  # cached pixels
    with Project.open(project_path) as project:
        moved = next(r for r in project.rois.for_image(image_id) if r.id == roi.id)
    assert moved.x0 == pytest.approx(roi.x0 + shift * 12.5, abs=1)
    assert moved.y0 == pytest.approx(roi.y0, abs=13)
    assert moved.x1 - moved.x0 == pytest.approx(roi.x1 - roi.x0, abs=1)
    # resize: drag the corner handle right
    item = viewer.rois.items[roi.id]
    handle = item.getHandles()[0]
    corner = viewer._view.mapFromScene(handle.mapToScene(QPointF(0, 0)))
    width = item.size().x()
    drag(qtbot, vp, corner, corner + QPoint(30, 0))
    grown = viewer.rois.items[roi.id].size().x() - width
    assert grown > 3
    with Project.open(project_path) as project:
        resized = next(r for r in project.rois.for_image(image_id) if r.id == roi.id)
    assert resized.x1 - resized.x0 == pytest.approx(moved.x1 - moved.x0 + grown * 12.5, abs=1)
    assert resized.x0 == pytest.approx(moved.x0, abs=1)
    # delete (the box's context menu "Remove ROI")
    viewer.rois.items[roi.id].sigRemoveRequested.emit(viewer.rois.items[roi.id])
    with Project.open(project_path) as project:
        assert [r.source for r in project.rois.for_image(image_id)] == ["import"]
    assert list(viewer.rois.sources.values()) == ["import"]


def test_compare_pins_an_image_beside_the_next_with_linked_zoom_and_pan(qtbot, window,
                                                                        project_path):
    open_in(qtbot, window, project_path)
    ids = window.grid.model().image_ids()
    qtbot.waitUntil(lambda: window.viewer.image_item.image is not None)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_C)
    second = window.compare.viewer
    assert window.compare.action.isChecked() and second.isVisible()
    assert window.compare.pinned_id == ids[0]
    qtbot.waitUntil(lambda: second.image_item.image is not None)
    window.grid.select_image(ids[1])  # the first viewer follows the grid, the pin stays
    k = [int(window.grid.model().image_row(r).path[-7:-4]) for r in (0, 1)]
    qtbot.waitUntil(lambda: np.array_equal(window.viewer.image_item.image, full_pixels(k[1])))
    np.testing.assert_array_equal(second.image_item.image, full_pixels(k[0]))
    window.viewer.view_box.setRange(xRange=(10, 60), yRange=(20, 80), padding=0)
    # linked: the same part of the image (up to the two views' pixel sizes and locked aspect)
    for axis in (0, 1):
        a, b = second.view_box.viewRange()[axis], window.viewer.view_box.viewRange()[axis]
        assert np.mean(a) == pytest.approx(np.mean(b), abs=1)
        assert a[1] - a[0] == pytest.approx(b[1] - b[0], rel=0.1)
    qtbot.keyClick(window.grid, Qt.Key.Key_C)
    assert not second.isVisible() and window.compare.pinned_id is None
    window.close_project()
    assert second.image_item.image is None


def test_zooming_past_the_cache_reads_the_source_at_full_resolution(
        qtbot, viewer_and_rows, tmp_path):
    from PIL import Image

    viewer, rows = viewer_and_rows
    h, w = FULL_SHAPE
    source = np.kron(full_pixels(0), np.ones((4, 4), np.uint8))  # 4x the cached size
    source[::2, ::2] = 255  # detail the cached copy cannot hold
    path = tmp_path / "source.png"
    Image.fromarray(source).save(path)
    row = dataclasses.replace(rows[0], path=str(path), width=4 * w, height=4 * h)
    show(qtbot, viewer, rows[1])
    viewer.view_box.setRange(xRange=(-600, 800), yRange=(-600, 800), padding=0)  # zoomed out
    show(qtbot, viewer, row)
    assert viewer.full_res.zoom() < 1.0
    qtbot.wait(200)
    assert viewer.full_res.shown_id is None  # the cached copy is enough at this zoom
    with qtbot.waitSignal(viewer.full_res.sigShown, timeout=10_000) as blocker:
        viewer.view_box.setRange(xRange=(40, 60), yRange=(40, 60), padding=0)  # zoom in
    assert blocker.args == [row.id]
    layer = viewer.full_res.item
    np.testing.assert_array_equal(layer.image, source)
    corner = layer.mapToParent(QPointF(4 * w, 4 * h))  # lines up with the cached copy
    assert (corner.x(), corner.y()) == pytest.approx((w, h))
    viewer.set_window_level(100, 50)
    assert tuple(layer.levels) == (75.0, 125.0)
    viewer.set_inverted(True)
    assert layer.lut[0] == 255
    show(qtbot, viewer, rows[1])  # the next image starts from its cached copy again
    assert layer.image is None or viewer.full_res.shown_id is None


def test_compare_viewer_leaves_the_keys_to_the_main_viewer_and_stores_its_boxes(
        qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    qtbot.waitUntil(lambda: window.viewer.image_item.image is not None)
    pinned = window.grid.current_image_id()
    window.compare.set_enabled(True)
    window.grid.select_next()
    window.viewer.view_box.setRange(xRange=(10, 30), yRange=(10, 30), padding=0)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_F)  # one owner: no "ambiguous shortcut" warning
    (x0, x1), _ = window.viewer.view_box.viewRange()
    assert x1 - x0 > 100  # fitted again
    window.compare.viewer.sigRoiDrawn.emit(pinned, (100.0, 200.0, 400.0, 500.0))
    with Project.open(project_path) as project:
        boxes = project.rois.for_image(pinned)
    assert [(b.x0, b.y1, b.source) for b in boxes] == [(100.0, 500.0, "gui")]
    assert list(window.compare.viewer.rois.items) == [boxes[0].id]


def test_full_resolution_waits_for_the_fitted_image_and_the_ruler_stays_on_top(
        qtbot, viewer_and_rows, tmp_path):
    from PIL import Image

    viewer, rows = viewer_and_rows
    h, w = FULL_SHAPE
    path = tmp_path / "source.png"
    Image.fromarray(np.kron(full_pixels(0), np.ones((2, 2), np.uint8))).save(path)
    viewer.resize(120, 140)  # smaller than the cached copy: fitted zoom < 1
    row = dataclasses.replace(rows[0], path=str(path), width=2 * w, height=2 * h)
    show(qtbot, viewer, row)  # before the fit the view range is pyqtgraph's default 0..1
    assert viewer.full_res.zoom() < 1.0
    qtbot.wait(300)
    assert viewer.full_res.shown_id is None  # no needless decode of the source
    viewer.ruler_action.trigger()
    assert viewer.ruler.text.zValue() > viewer.full_res.item.zValue()
