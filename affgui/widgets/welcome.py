"""The page shown while no project is open: what this is and how to start."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from affgui import theme


class WelcomeWidget(QWidget):
    """A centred title and one large button per start action (open demo, open, new)."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        title = QLabel("AFF Workbench")
        title.setStyleSheet("font-size: 22pt; font-weight: 600;")
        subtitle = QLabel("Label femur radiographs as atypical (AFF) or normal (NFF) fractures, "
                          "then compare CNNs and vision transformers on them.")
        subtitle.setWordWrap(True)
        subtitle.setStyleSheet(f"color: {theme.TEXT_DIM}; font-size: 11pt;")
        for label in (title, subtitle):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label)
        layout.addSpacing(24)
        self.buttons: list[QToolButton] = []
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setMinimumSize(QSize(260, 38))
            button.setStyleSheet("font-size: 11pt;")
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
            self.buttons.append(button)
        layout.addStretch(3)
