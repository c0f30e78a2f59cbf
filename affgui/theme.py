"""Colours, label badges and the application's dark Fusion palette."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory

# Label -> badge colour. Unlabelled images have no badge.
LABEL_COLORS: dict[str, str] = {
    "AFF": "#d9453d",
    "NFF": "#2f80d1",
    "uncertain": "#e8a317",
    "exclude": "#7d8590",
}
# Short badge text (the full name is in tooltips and the status bar).
LABEL_BADGES: dict[str, str] = {"AFF": "AFF", "NFF": "NFF", "uncertain": "UNC", "exclude": "EXC"}

VIEWER_BACKGROUND = "#0b0d10"
TILE_BACKGROUND = "#23272e"
TILE_SELECTED = "#3b82c4"
TEXT = "#d8dde3"
TEXT_DIM = "#8b949e"
WARNING = "#e8a317"  # e.g. an image shown although the filter hides it
# Fusion outlines check boxes and radio buttons in the window colour darkened by 40 %, which on
# this palette is darker than the base they sit on: an unticked box disappeared (New Experiment's
# model list). Indicators are drawn as if the window were this grey, so the outline is visible.
INDICATOR_WINDOW = "#9aa4ae"

_INDICATORS = (QStyle.PrimitiveElement.PE_IndicatorCheckBox,
               QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck,
               QStyle.PrimitiveElement.PE_IndicatorRadioButton)


_STYLE: QProxyStyle | None = None


class DarkStyle(QProxyStyle):
    """Fusion, with check-box and radio-button outlines that stand out on the dark base."""

    def __init__(self):
        super().__init__(QStyleFactory.create("Fusion"))

    def drawPrimitive(self, element, option, painter, widget=None):  # noqa: N802 (Qt's name)
        if element in _INDICATORS and option is not None:
            saved = QPalette(option.palette)
            palette = QPalette(saved)
            palette.setColor(QPalette.ColorRole.Window, QColor(INDICATOR_WINDOW))
            option.palette = palette
            try:
                super().drawPrimitive(element, option, painter, widget)
            finally:
                option.palette = saved
            return
        super().drawPrimitive(element, option, painter, widget)


def label_color(label: str | None) -> QColor | None:
    """The badge colour of ``label`` (``None`` for unlabelled)."""
    return QColor(LABEL_COLORS[label]) if label in LABEL_COLORS else None


def badge_html(label: str | None) -> str:
    """Rich text for a label, coloured like its badge."""
    if label is None:
        return f"<span style='color:{TEXT_DIM}'>unlabelled</span>"
    return f"<span style='color:{LABEL_COLORS[label]}; font-weight:600'>{label}</span>"


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette: radiographs are read on dark surroundings."""
    global _STYLE
    _STYLE = DarkStyle()  # keep the Python wrapper alive as long as the application uses it
    app.setStyle(_STYLE)
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1b1f24",
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: "#15181c",
        QPalette.ColorRole.AlternateBase: "#1f242a",
        QPalette.ColorRole.ToolTipBase: "#2d333b",
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: "#2a3038",
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: TILE_SELECTED,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#58a6ff",
        QPalette.ColorRole.PlaceholderText: TEXT_DIM,
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6e7681"))
    app.setPalette(p)
