"""ROC and PR plots keep 0..1 axes in a wide, short dock, with the legend inside the plot."""

from __future__ import annotations

import numpy as np
import pytest

from affgui.parts.results._plots import PrPlotWidget, RocPlotWidget


@pytest.mark.parametrize("cls", [RocPlotWidget, PrPlotWidget])
def test_axes_stay_at_zero_to_one_in_a_wide_dock(qtbot, cls):
    plot = cls()
    qtbot.addWidget(plot)
    plot.resize(1200, 220)  # a docked plot: wide and short
    plot.show()
    qtbot.waitExposed(plot)
    x = np.linspace(0, 1, 20)
    plot.plot(x, np.sqrt(x), name="cnn AUC 0.81")
    qtbot.wait(20)
    (x0, x1), (y0, y1) = plot.getPlotItem().getViewBox().viewRange()
    assert -0.03 <= x0 <= 0.0 and 1.0 <= x1 <= 1.03
    assert -0.03 <= y0 <= 0.0 and 1.0 <= y1 <= 1.03
    legend = plot.legend.sceneBoundingRect()
    view = plot.getPlotItem().getViewBox().sceneBoundingRect()
    assert view.contains(legend)
