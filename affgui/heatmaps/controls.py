"""The comparison's controls: experiment picker, method, colour map, opacity, smoothing, W/L."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QWidget,
)

from affgui import theme
from affgui.heatmaps.overlay import COLORMAPS, METHODS


class HeatmapControlsWidget(QWidget):
    """One row of controls; it holds no data, it only says what the reader chose."""

    sigExperimentsChanged = Signal(list)  # ticked experiment names, in list order
    sigMethodChanged = Signal(str)
    sigColormapChanged = Signal(str)
    sigOpacityChanged = Signal(float)
    sigSmoothChanged = Signal(bool)
    sigFitRequested = Signal()
    sigResetLevelsRequested = Signal()
    sigMessage = Signal(str)

    def __init__(self, max_experiments: int = 4, parent: QWidget | None = None):
        super().__init__(parent)
        self.max_experiments = max_experiments
        self.picker = QListWidget()
        self.picker.setObjectName("experimentPicker")
        self.picker.setToolTip(f"Tick 2 to {max_experiments} experiments to compare")
        self.picker.setFlow(QListWidget.Flow.LeftToRight)
        self.picker.setWrapping(True)
        self.picker.setMaximumHeight(56)
        self.picker.itemChanged.connect(self._on_item_changed)
        self.method_combo = QComboBox()
        self.method_combo.setToolTip("Heatmap method; grey: not computed for every chosen experiment")
        for method in METHODS:
            self.method_combo.addItem(method, method)
        self.method_combo.currentIndexChanged.connect(lambda _i: self.sigMethodChanged.emit(self.method()))
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(COLORMAPS)
        self.colormap_combo.currentTextChanged.connect(self.sigColormapChanged)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setMaximumWidth(140)
        self.opacity_slider.setToolTip("Heatmap opacity")
        self.opacity_slider.valueChanged.connect(lambda v: self.sigOpacityChanged.emit(v / 100))
        self.smooth_box = QCheckBox("Smooth")
        self.smooth_box.setChecked(True)
        self.smooth_box.setToolTip("Bilinear map (as the ROI measures use it); off: the stored cells")
        self.smooth_box.toggled.connect(self.sigSmoothChanged)
        fit = QPushButton("Fit")
        fit.clicked.connect(self.sigFitRequested)
        reset = QPushButton("Reset W/L")
        reset.clicked.connect(self.sigResetLevelsRequested)
        self.levels_label = QLabel()
        for w in (self.picker, self.method_combo, self.colormap_combo, self.opacity_slider,
                  self.smooth_box, fit, reset):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the arrow keys step through images
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.picker, 1)
        for label, w in (("Method", self.method_combo), ("Colours", self.colormap_combo),
                         ("Opacity", self.opacity_slider)):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        for w in (self.smooth_box, fit, reset, self.levels_label):
            row.addWidget(w)
        self.show_levels(127.5, 255.0)

    # -- state ------------------------------------------------------------------------
    def method(self) -> str:
        return self.method_combo.currentData() or METHODS[0]

    def set_method(self, method: str) -> None:
        k = self.method_combo.findData(method)
        if k < 0:
            raise ValueError(f"unknown heatmap method {method!r} (use one of {', '.join(METHODS)})")
        self.method_combo.setCurrentIndex(k)

    def colormap(self) -> str:
        return self.colormap_combo.currentText()

    def opacity(self) -> float:
        return self.opacity_slider.value() / 100

    def smooth(self) -> bool:
        return self.smooth_box.isChecked()

    def chosen(self) -> list[str]:
        items = [self.picker.item(k) for k in range(self.picker.count())]
        return [i.text() for i in items if i.checkState() == Qt.CheckState.Checked]

    def set_experiment_names(self, names: list[str], chosen: list[str] | None = None) -> None:
        """List ``names`` with ``chosen`` ticked (at most ``max_experiments``)."""
        tick = set((chosen or [])[:self.max_experiments])
        self.picker.blockSignals(True)
        self.picker.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in tick else Qt.CheckState.Unchecked)
            self.picker.addItem(item)
        self.picker.blockSignals(False)
        self.sigExperimentsChanged.emit(self.chosen())

    def set_chosen(self, names: list[str]) -> None:
        """Tick exactly ``names`` (unknown names are ignored)."""
        self.set_experiment_names([self.picker.item(k).text() for k in range(self.picker.count())],
                                  names)

    def set_available(self, available: dict[str, set[str]], experiments: list[str]) -> None:
        """Grey out methods not computed for every chosen experiment (they stay selectable)."""
        model = self.method_combo.model()
        for k in range(self.method_combo.count()):
            method = self.method_combo.itemData(k)
            missing = [e for e in experiments if method not in available.get(e, set())]
            item = model.item(k)
            item.setForeground(QColor(theme.TEXT_DIM) if missing else QColor(theme.TEXT))
            item.setToolTip(f"not computed for {', '.join(missing)}" if missing else "computed")

    def show_levels(self, center: float, width: float) -> None:
        self.levels_label.setText(f"W {width:.0f}  L {center:.0f}")

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        chosen = self.chosen()
        if len(chosen) > self.max_experiments:
            self.picker.blockSignals(True)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.picker.blockSignals(False)
            self.sigMessage.emit(f"At most {self.max_experiments} experiments side by side")
            return
        self.sigExperimentsChanged.emit(chosen)
