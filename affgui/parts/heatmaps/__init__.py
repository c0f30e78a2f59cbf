"""Heatmap comparison: one radiograph, 2-4 experiments' maps side by side (issue #7).

``HeatmapController(session, shell)`` adds View > Compare Heatmaps…; reading
stored maps never imports torch (``engine.explain`` loads its names lazily).
"""

from __future__ import annotations

from affgui.parts.heatmaps.compare_widget import HeatmapCompareWidget
from affgui.parts.heatmaps.controller import HeatmapController
from affgui.parts.heatmaps.overlay import COLORMAPS, METHODS, overlay_pixels
from affgui.parts.heatmaps.pane import HeatmapPaneWidget

__all__ = [
    "COLORMAPS",
    "METHODS",
    "HeatmapCompareWidget",
    "HeatmapController",
    "HeatmapPaneWidget",
    "overlay_pixels",
]
