"""Heatmap comparison: one radiograph, 2-4 experiments' maps side by side (issue #7).

Install in the main window with ``self.heatmaps = install(self)``; reading stored maps
never imports torch (``engine.explain`` loads its names lazily).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from affgui.heatmaps.compare_widget import HeatmapCompareWidget
from affgui.heatmaps.controller import HeatmapController
from affgui.heatmaps.overlay import COLORMAPS, METHODS, overlay_pixels
from affgui.heatmaps.pane import HeatmapPaneWidget

if TYPE_CHECKING:
    from affgui.shell import WindowShell


def install(window: WindowShell) -> HeatmapController:
    """Add View > Compare Heatmaps… (Ctrl+H) to ``window``; returns the controller."""
    return HeatmapController(window)


__all__ = [
    "COLORMAPS",
    "METHODS",
    "HeatmapCompareWidget",
    "HeatmapController",
    "HeatmapPaneWidget",
    "install",
    "overlay_pixels",
]
