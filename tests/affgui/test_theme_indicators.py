"""Walkthrough problem 2: unticked check boxes must be visible on the dark theme.

Fusion outlines an indicator in the window colour darkened by 40 %, which on our palette is
darker than the base colour inside the box, so an unticked model in New Experiment showed no
box at all. The test draws unticked boxes (a QCheckBox and a checkable tree item, as in the
dialog) and measures the contrast between the indicator's outline and what surrounds it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QCheckBox, QStyle, QStyleFactory, QStyleOptionButton

from affgui import theme


def _palette() -> QPalette:
    """The application's dark palette, as apply_dark_theme sets it (without touching the app)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    saved = QPalette(app.palette())
    saved_style = app.style().name()
    theme.apply_dark_theme(app)
    palette = QPalette(app.palette())
    app.setPalette(saved)
    app.setStyle(saved_style)
    return palette


def _indicator_contrast(style: QStyle, palette: QPalette, element, widget) -> float:
    """Largest luminance step between the indicator's pixels and the window background."""
    option = QStyleOptionButton()
    option.initFrom(widget)
    option.palette = palette
    option.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Off
    option.rect = QRect(2, 2, 16, 16)
    image = QImage(24, 24, QImage.Format.Format_RGB32)
    image.fill(palette.color(QPalette.ColorRole.Window))
    painter = QPainter(image)
    style.drawPrimitive(element, option, painter, widget)
    painter.end()
    ptr = image.constBits()
    rgb = np.frombuffer(ptr, np.uint8).reshape(24, image.bytesPerLine() // 4, 4)[:, :24, :3]
    luma = rgb.astype(float) @ np.array([0.114, 0.587, 0.299])  # BGRA in memory
    background = QColor(palette.color(QPalette.ColorRole.Window))
    bg = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return float(np.abs(luma - bg).max())


@pytest.mark.parametrize("element", [QStyle.PrimitiveElement.PE_IndicatorCheckBox,
                                     QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck])
def test_unticked_indicator_stands_out(qtbot, element):
    box = QCheckBox("model")
    qtbot.addWidget(box)
    box.resize(40, 24)
    palette = _palette()
    fusion = _indicator_contrast(QStyleFactory.create("Fusion"), palette, element, box)
    ours = _indicator_contrast(theme.DarkStyle(), palette, element, box)
    assert fusion < 15, f"plain Fusion was expected to hide the outline (contrast {fusion:.0f})"
    assert ours >= 40, f"the outline of an unticked box is too faint (contrast {ours:.0f})"


def test_dark_theme_uses_the_indicator_style(qtbot):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    saved, saved_style = QPalette(app.palette()), app.style().name()
    try:
        theme.apply_dark_theme(app)
        assert isinstance(app.style(), theme.DarkStyle)
        box = QCheckBox("x")
        qtbot.addWidget(box)
        assert box.checkState() == Qt.CheckState.Unchecked
    finally:
        app.setPalette(saved)
        app.setStyle(saved_style)
