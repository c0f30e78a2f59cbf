"""Overlaid ROC and precision-recall curves (pyqtgraph) of the engine's per-experiment results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

if TYPE_CHECKING:
    from engine.evaluate import LevelResults

# A colour-blind-safe qualitative palette (Okabe-Ito, without black), then tab10 for more curves.
PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
           "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")
# Operating points marked on the ROC curve: engine rule key -> (marker symbol, legend text).
MARKERS = {"youden": ("o", "Youden"), "sensitivity": ("t", "sensitivity ≥ 0.90")}
GUIDE = "#8b949e"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def auc_legend(name: str, level: LevelResults) -> str:
    """``name  AUC 0.87 (0.83-0.91)`` with the DeLong confidence interval."""
    a = level.auc
    return f"{name}  AUC {a.auc:.2f} ({a.ci_low:.2f}-{a.ci_high:.2f})"


class _CurvesPlot(pg.PlotWidget):
    """A square unit plot with a legend; subclasses draw one curve per experiment."""

    x_label = y_label = ""
    legend_offset = (-10, -10)

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.setTitle(title)
        self.setLabel("bottom", self.x_label)
        self.setLabel("left", self.y_label)
        self.setXRange(0, 1, padding=0.02)
        self.setYRange(0, 1, padding=0.02)
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.showGrid(x=True, y=True, alpha=0.15)
        # 0..1 on both axes whatever the dock's shape (a locked aspect widened them to -1..2)
        view = self.getPlotItem().getViewBox()
        view.setLimits(xMin=-0.02, xMax=1.02, yMin=-0.02, yMax=1.02)
        view.disableAutoRange()
        self.legend = self.addLegend(offset=self.legend_offset)
        self.curves: dict[str, pg.PlotDataItem] = {}

    def clear_curves(self) -> None:
        self.clear()
        self.legend.clear()  # the marker entries are not plot items
        self.curves = {}

    def legend_texts(self) -> list[str]:
        return [label.text for _, label in self.legend.items]

    def set_results(self, named: Sequence[tuple[str, LevelResults]]) -> None:
        self.clear_curves()
        self._draw_guides(named)
        for i, (name, level) in enumerate(named):
            self._draw(i, name, level)

    def _draw_guides(self, named) -> None:
        raise NotImplementedError

    def _draw(self, i: int, name: str, level: LevelResults) -> None:
        raise NotImplementedError


class RocPlotWidget(_CurvesPlot):
    """ROC curves with AUC and CI in the legend, the chance diagonal and the operating points."""

    x_label, y_label = "1 - specificity (false positive rate)", "sensitivity (true positive rate)"
    legend_offset = (-10, -10)

    def __init__(self, parent=None):
        super().__init__("ROC", parent)
        self.points: dict[str, dict[str, pg.ScatterPlotItem]] = {}

    def clear_curves(self) -> None:
        super().clear_curves()
        self.points = {}

    def _draw_guides(self, named) -> None:
        chance = pg.PlotDataItem([0, 1], [0, 1], pen=pg.mkPen(GUIDE, width=1, style=Qt.PenStyle.DashLine))
        self.addItem(chance)
        if not named:
            return
        for key, (symbol, text) in MARKERS.items():  # legend entries for the markers, drawn empty
            marker = pg.ScatterPlotItem(symbol=symbol, size=9, pen=pg.mkPen(GUIDE), brush=pg.mkBrush(None))
            marker.setObjectName(f"marker-{key}")
            self.legend.addItem(marker, text)

    def _draw(self, i: int, name: str, level: LevelResults) -> None:
        pen = pg.mkPen(color(i), width=2)
        self.curves[name] = self.plot(level.roc.fpr, level.roc.tpr, pen=pen, name=auc_legend(name, level))
        self.points[name] = {}
        for key, (symbol, _text) in MARKERS.items():
            op = level.operating_points.get(key)
            if op is None or not np.isfinite(op.specificity) or not np.isfinite(op.sensitivity):
                continue
            item = pg.ScatterPlotItem([1.0 - op.specificity], [op.sensitivity], symbol=symbol, size=10,
                                      pen=pg.mkPen("w", width=1), brush=pg.mkBrush(color(i)))
            item.setToolTip(f"{name}: {op.rule}, threshold {op.threshold:.3f}, "
                            f"sensitivity {op.sensitivity:.2f}, specificity {op.specificity:.2f}")
            self.addItem(item)
            self.points[name][key] = item


class PrPlotWidget(_CurvesPlot):
    """Precision-recall curves with average precision in the legend and the prevalence line(s)."""

    x_label, y_label = "recall (sensitivity)", "precision (PPV)"
    legend_offset = (10, -10)

    def __init__(self, parent=None):
        super().__init__("Precision-recall", parent)
        self.prevalence_lines: list[pg.InfiniteLine] = []

    def clear_curves(self) -> None:
        super().clear_curves()
        self.prevalence_lines = []

    def _draw_guides(self, named) -> None:
        for prevalence in sorted({round(float(level.pr.prevalence), 6) for _, level in named}):
            line = pg.InfiniteLine(pos=prevalence, angle=0, pen=pg.mkPen(GUIDE, style=Qt.PenStyle.DashLine),
                                   label=f"prevalence {prevalence:.2f}",
                                   labelOpts={"position": 0.85, "color": GUIDE,
                                              "anchors": [(0.5, 1), (0.5, 1)]})
            self.addItem(line)
            self.prevalence_lines.append(line)

    def _draw(self, i: int, name: str, level: LevelResults) -> None:
        pen = pg.mkPen(color(i), width=2)
        self.curves[name] = self.plot(level.pr.recall, level.pr.precision, pen=pen,
                                      name=f"{name}  AP {level.pr.average_precision:.2f}")
