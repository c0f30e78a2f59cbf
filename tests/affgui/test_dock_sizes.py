"""Docks open at sensible sizes: with Experiments and Results open, the grid and viewer keep room."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget


def _central_share(window) -> float:
    central = window.centralWidget().height()
    bottom = max(d.height() for d in window.findChildren(QDockWidget)
                 if d.isVisible() and d.objectName() in {"experimentsDock", "resultsDock"})
    return central / (central + bottom)


def test_experiments_and_results_docks_leave_the_grid_and_viewer_half_the_height(qtbot, window):
    window.resize(1400, 900)
    qtbot.wait(20)
    for name in ("experimentsDock", "resultsDock"):
        window.findChild(QDockWidget, name).show()
    qtbot.waitUntil(lambda: _central_share(window) >= 0.5, timeout=2_000)
    assert window.centralWidget().height() >= 400  # no thin strip (it was 232 px of 900)


def test_a_dock_the_user_made_smaller_is_not_grown_back(qtbot, window):
    window.resize(1400, 900)
    qtbot.wait(20)
    dock = window.findChild(QDockWidget, "experimentsDock")
    dock.show()
    qtbot.waitUntil(lambda: _central_share(window) >= 0.5, timeout=2_000)
    qtbot.wait(50)
    window.resizeDocks([dock], [260], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: abs(dock.height() - 260) <= 15, timeout=2_000)
    window.keep_central_share()
    qtbot.wait(50)
    assert abs(dock.height() - 260) <= 15
