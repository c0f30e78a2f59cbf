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
from affgui.parts.heatmaps.overlay import COLORMAPS, METHODS
from engine.explain import CLASS_TOKEN_METHODS, DEFAULT_METHOD, method_kind


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
        self.method_combo.setToolTip("Heatmap method, the same for every pane; occlusion and ig are "
                                     "model-agnostic, the others family-specific extras; grey: not "
                                     "computed for every chosen experiment")
        for method in METHODS:
            kind = method_kind(method)
            self.method_combo.addItem(method if kind == "model-agnostic" else f"{method} (extra)", method)
        self.method_combo.setCurrentIndex(self.method_combo.findData(DEFAULT_METHOD))
        self.method_combo.currentIndexChanged.connect(lambda _i: self.sigMethodChanged.emit(self.method()))
        self.method_combo.activated.connect(lambda _i: setattr(self, "method_chosen", True))
        self.method_chosen = False  # True once the reader (or set_method) picked one
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
        self.method_chosen = True
        self.method_combo.setCurrentIndex(k)

    def default_method(self, available: dict[str, set[str]], experiments: list[str],
                       blocked: set[str] = frozenset()) -> str:
        """The pairing shown until the reader picks one: the same method for every pane.

        Occlusion when every chosen experiment has it, else the first method (model-agnostic
        first) computed for all of them, else occlusion (its panes offer to compute it).
        """
        common = set.intersection(*[available.get(e, set()) for e in experiments]) if experiments else set()
        order = [DEFAULT_METHOD] + [m for m in METHODS if m != DEFAULT_METHOD]
        return next((m for m in order if m in common and m not in blocked), DEFAULT_METHOD)

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

    def set_available(self, available: dict[str, set[str]], experiments: list[str],
                      no_class_token: set[str] = frozenset()) -> None:
        """Grey out methods not computed for every chosen experiment (they stay selectable);
        rollout methods are not offered (disabled) when a chosen model has no class token."""
        model = self.method_combo.model()
        blocked = [e for e in experiments if e in no_class_token]
        for k in range(self.method_combo.count()):
            method = self.method_combo.itemData(k)
            missing = [e for e in experiments if method not in available.get(e, set())]
            item = model.item(k)
            if method in CLASS_TOKEN_METHODS:
                item.setEnabled(not blocked)
                if blocked:
                    item.setToolTip(f"needs a class token; {', '.join(blocked)} has none")
                    continue
            item.setForeground(QColor(theme.TEXT_DIM) if missing else QColor(theme.TEXT))
            item.setToolTip(f"{method_kind(method)}; " + (f"not computed for {', '.join(missing)}"
                                                          if missing else "computed"))
        if blocked and self.method() in CLASS_TOKEN_METHODS:
            self.method_combo.setCurrentIndex(self.method_combo.findData(DEFAULT_METHOD))
        if not self.method_chosen and experiments and all(e in available for e in experiments):
            pick = self.default_method(available, experiments, set(CLASS_TOKEN_METHODS) if blocked else set())
            if pick != self.method():
                self.method_combo.setCurrentIndex(self.method_combo.findData(pick))

    def offered(self, method: str) -> bool:
        """Whether the method list lets the reader pick ``method`` now."""
        k = self.method_combo.findData(method)
        return k >= 0 and self.method_combo.model().item(k).isEnabled()

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
