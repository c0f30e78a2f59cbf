"""The image viewer: cached pixels, upright and aspect-locked, window/level by right-drag."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from affgui.widgets.image_viewer import FULL_RANGE

from .conftest import FULL_SHAPE, full_pixels


def show(qtbot, viewer, row):
    with qtbot.waitSignal(viewer.sigImageShown, timeout=5000) as blocker:
        viewer.show_image(row)
    assert blocker.args == [row.id]


def test_shows_the_cached_pixels_upright_with_locked_aspect(qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    show(qtbot, viewer, rows[3])
    np.testing.assert_array_equal(viewer.image_item.image, full_pixels(3))
    assert viewer.image_item.image.shape == FULL_SHAPE
    assert viewer.view_box.yInverted()
    assert viewer.view_box.state["aspectLocked"] is not False
    assert tuple(viewer.image_item.levels) == (0.0, 255.0)
    # the whole image is in view after loading (fit)
    (x0, x1), (y0, y1) = viewer.view_box.viewRange()
    assert x0 <= 0 and y0 <= 0 and x1 >= FULL_SHAPE[1] - 1 and y1 >= FULL_SHAPE[0] - 1
    assert rows[3].patient_key in viewer._info.text()


def test_right_drag_changes_window_and_level(qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    show(qtbot, viewer, rows[0])
    assert viewer.window_level() == FULL_RANGE
    view_range = viewer.view_box.viewRange()
    vp = viewer._view.viewport()
    start = vp.rect().center()
    with qtbot.waitSignal(viewer.sigLevelsChanged):
        qtbot.mousePress(vp, Qt.MouseButton.RightButton, pos=start)
        for k in range(1, 11):  # 10 steps: 60 px left (narrower), 40 px down (higher level)
            qtbot.mouseMove(vp, start + QPoint(-6 * k, 4 * k))
        qtbot.mouseRelease(vp, Qt.MouseButton.RightButton, pos=start + QPoint(-60, 40))
    center, width = viewer.window_level()
    assert width == pytest.approx(FULL_RANGE[1] - 60, abs=8)
    assert center == pytest.approx(FULL_RANGE[0] + 40, abs=8)
    lo, hi = viewer.image_item.levels
    assert (lo, hi) == pytest.approx((center - width / 2, center + width / 2))
    assert f"W {width:.0f}" in viewer._wl.text()
    # the view did not zoom (right-drag no longer scales the ViewBox)
    assert np.allclose(viewer.view_box.viewRange(), view_range)


def test_left_drag_pans_and_reset_restores(qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    show(qtbot, viewer, rows[0])
    before = viewer.view_box.viewRange()
    vp = viewer._view.viewport()
    start = vp.rect().center()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 11):
        qtbot.mouseMove(vp, start + QPoint(5 * k, 0))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=start + QPoint(50, 0))
    after = viewer.view_box.viewRange()
    assert after[0][0] < before[0][0]  # dragged right: the view moved left over the image
    assert viewer.window_level() == FULL_RANGE
    viewer.set_window_level(50, 20)
    assert tuple(viewer.image_item.levels) == (40.0, 60.0)
    viewer.reset_action.trigger()
    assert viewer.window_level() == FULL_RANGE
    assert tuple(viewer.image_item.levels) == (0.0, 255.0)
    assert viewer.view_box.viewRange()[0] == pytest.approx(before[0], abs=1)


def test_window_level_is_kept_for_the_next_image_and_prefetch_fills_the_cache(
        qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    show(qtbot, viewer, rows[0])
    viewer.set_window_level(100, 80)
    viewer.prefetch(rows[1].sha256)
    qtbot.waitUntil(lambda: rows[1].sha256 in viewer._arrays)
    with qtbot.waitSignal(viewer.sigImageShown):  # from memory: shown at once
        viewer.show_image(rows[1])
    assert tuple(viewer.image_item.levels) == (60.0, 140.0)
    np.testing.assert_array_equal(viewer.image_item.image, full_pixels(1))


def test_missing_pixels_show_a_message(qtbot, viewer_and_rows):
    viewer, rows = viewer_and_rows
    import dataclasses
    broken = dataclasses.replace(rows[0], sha256="0" * 64)
    viewer.show_image(broken)
    qtbot.waitUntil(lambda: "Cannot show this image" in viewer._message.text())
    assert viewer.image_item.image is None

