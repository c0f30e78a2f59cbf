"""Heatmap comparison: one radiograph, 2-4 experiments' maps side by side (issue #7).

``install(session, shell)`` adds View > Compare Heatmaps… and returns the part; reading
stored maps never imports torch (``engine.explain`` loads its names lazily).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from affgui.parts.heatmaps.compare_widget import HeatmapCompareWidget
from affgui.parts.heatmaps.controller import HeatmapController
from affgui.parts.heatmaps.overlay import COLORMAPS, METHODS, overlay_pixels
from affgui.parts.heatmaps.pane import HeatmapPaneWidget

if TYPE_CHECKING:
    from affgui.session import ProjectSession
    from affgui.shell import Shell


def install(session: ProjectSession, shell: Shell) -> HeatmapController:
    """Add View > Compare Heatmaps… (Ctrl+H); returns the controller."""
    return HeatmapController(session, shell)


__all__ = [
    "COLORMAPS",
    "METHODS",
    "HeatmapCompareWidget",
    "HeatmapController",
    "HeatmapPaneWidget",
    "install",
    "overlay_pixels",
]
