"""View > Reset Layout puts docks and panes back as on a first start."""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget


def test_reset_layout_restores_the_first_layout(qtbot, window):
    window.resize(1600, 1000)
    qtbot.wait(20)
    docks = {d.objectName(): d for d in window.findChildren(QDockWidget)}
    before = {name: d.isVisible() for name, d in docks.items()}
    assert "experimentsDock" in docks and "resultsDock" in docks
    for d in docks.values():
        d.setVisible(not d.isVisible())
    window.splitter.setSizes([50, 1000, 0])
    assert {name: d.isVisible() for name, d in docks.items()} != before
    window.menu_actions.reset_layout.trigger()
    qtbot.wait(50)
    assert {name: d.isVisible() for name, d in docks.items()} == before
    grid, viewer, compare = window.splitter.sizes()
    assert compare == 0 and grid > 50 and viewer > 0  # the squeezed grid is back, compare hidden
    assert window.menu_actions.reset_layout in window.menu_actions.view_menu.actions()
