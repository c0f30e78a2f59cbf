"""The Results page: pick experiments and a level; see ROC/PR curves, the comparison and the compute cost.

A pure view: it emits what the user asks for (``sigRequestChanged``, ``sigExportRequested``)
and shows the plain data it is handed (:meth:`show_results`); the controller computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from affgui.parts.results._compute import ExperimentStatus, ResultsData
from affgui.parts.results._final_page import FinalModelsWidget
from affgui.parts.results._picker import ExperimentPickerWidget
from affgui.parts.results._plots import PrPlotWidget, RocPlotWidget
from affgui.parts.results._tables import StatsTableModel, comparison_model, cost_model, table_view

# Further statistics shown as tabs, in this order (keys of engine.report.statistics_section's tables).
STATS_TABS = {"partial_auc": "Partial AUC", "partial_auc_comparisons": "pAUC comparison",
              "operating_points": "Operating points", "operating_point_mcnemar": "McNemar (held-out)",
              "calibration_fit": "Calibration", "noninferiority": "Non-inferiority",
             "repeats": "Repeats", "repeated_tests": "Across repeats"}

ALL_PAIRS = "all pairs"


_table = table_view  # the Results view's tables (affgui.parts.results._tables)


class ResultsPageWidget(QWidget):
    """Experiments picker, level and reference choice, export button; plots and tables beside them."""

    sigRequestChanged = Signal()  # the checked experiments, the level or the reference changed
    sigExportRequested = Signal()
    sigExportCancelled = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._computing = self._exporting = False
        self.picker = ExperimentPickerWidget()
        self.level_combo = QComboBox()
        self.level_combo.addItem("Patient", "patient")
        self.level_combo.addItem("Image", "image")
        self.level_combo.setToolTip("Patient level: one mean score per patient (the unit to report)")
        self.reference_combo = QComboBox()
        self.reference_combo.addItem(ALL_PAIRS, None)
        self.reference_combo.setToolTip("Compare every pair, or each experiment with one reference")
        self.margin_spin = QDoubleSpinBox()
        self.margin_spin.setRange(0.0, 0.2)
        self.margin_spin.setSingleStep(0.01)
        self.margin_spin.setDecimals(3)
        self.margin_spin.setSpecialValueText("none")
        self.margin_spin.setToolTip("Non-inferiority / equivalence margin M for the AUC difference ViT - "
                                    "CNN: one-sided test of ViT - CNN > -M and TOST within ±M "
                                    "(none: not tested)")
        self.export_button = QPushButton("Export HTML report…")
        self.export_button.setToolTip("Write the study report (HTML, CSV tables, JSON) of the checked "
                                      "experiments into the project's reports folder")
        self.cancel_export_button = QPushButton("Cancel")
        self.cancel_export_button.setVisible(False)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(8)
        self.busy.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.roc_plot = RocPlotWidget()
        self.pr_plot = PrPlotWidget()
        self.comparison = comparison_model(self)
        self.costs = cost_model(self)
        self.comparison_view = _table(self.comparison)
        self.cost_view = _table(self.costs)
        self.tables = QTabWidget()
        self.tables.addTab(self.comparison_view, "Comparison")
        self.tables.addTab(self.cost_view, "Compute cost")
        self.stats_models = {key: StatsTableModel(self) for key in STATS_TABS}
        for key, title in STATS_TABS.items():
            self.tables.addTab(_table(self.stats_models[key]), title)
        self.final_models = FinalModelsWidget()  # filled by the controller, whatever is checked
        self.tables.addTab(self.final_models, "Final models")
        self._layout()
        self.picker.sigCheckedChanged.connect(self._on_checked)
        self.level_combo.currentIndexChanged.connect(lambda _i: self.sigRequestChanged.emit())
        self.reference_combo.currentIndexChanged.connect(lambda _i: self.sigRequestChanged.emit())
        self.margin_spin.valueChanged.connect(lambda _v: self.sigRequestChanged.emit())
        self.export_button.clicked.connect(self.sigExportRequested)
        self.cancel_export_button.clicked.connect(self.sigExportCancelled)
        self._update_export_enabled()

    def _layout(self) -> None:
        side = QWidget()
        box = QVBoxLayout(side)
        box.setContentsMargins(6, 6, 6, 6)
        box.addWidget(QLabel("Experiments (complete ones can be plotted)"))
        box.addWidget(self.picker, 1)
        form = QFormLayout()
        form.addRow("Level", self.level_combo)
        form.addRow("Compare", self.reference_combo)
        form.addRow("NI margin", self.margin_spin)
        box.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(self.export_button, 1)
        row.addWidget(self.cancel_export_button)
        box.addLayout(row)
        box.addWidget(self.busy)
        box.addWidget(self.message)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.roc_plot)
        plots.addWidget(self.pr_plot)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plots)
        right.addWidget(self.tables)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        outer = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(side)
        outer.addWidget(right)
        outer.setStretchFactor(1, 1)
        outer.setSizes([360, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(outer)

    # -- what the user asked for ----------------------------------------------------
    def level(self) -> str:
        return self.level_combo.currentData()

    def set_level(self, level: str) -> None:
        self.level_combo.setCurrentIndex(self.level_combo.findData(level))

    def reference(self) -> str | None:
        return self.reference_combo.currentData()

    def margin(self) -> float | None:
        """The non-inferiority margin, or ``None`` when none is set."""
        value = round(self.margin_spin.value(), 3)
        return value if value > 0 else None

    def set_margin(self, margin: float | None) -> None:
        self.margin_spin.setValue(0.0 if margin is None else margin)

    def checked(self) -> list[str]:
        return self.picker.checked()

    def set_checked(self, names: Iterable[str]) -> None:
        self.picker.set_checked(names)

    def _on_checked(self, names: list[str]) -> None:
        current = self.reference()
        self.reference_combo.blockSignals(True)
        try:
            self.reference_combo.clear()
            self.reference_combo.addItem(ALL_PAIRS, None)
            for name in names:
                self.reference_combo.addItem(f"each vs {name}", name)
            index = self.reference_combo.findData(current) if current in names else 0
            self.reference_combo.setCurrentIndex(index)
        finally:
            self.reference_combo.blockSignals(False)
        self._update_export_enabled()
        self.sigRequestChanged.emit()

    # -- what the controller shows ----------------------------------------------------
    def set_statuses(self, statuses: Sequence[ExperimentStatus], check: Iterable[str] = ()) -> None:
        self.picker.set_statuses(statuses, check)
        self._update_export_enabled()

    def show_results(self, data: ResultsData) -> None:
        """Plot and tabulate one computed request (the controller drops superseded ones)."""
        named = [(r.name, r.level(data.level)) for r in data.results]
        self.roc_plot.set_results(named)
        self.pr_plot.set_results(named)
        self.comparison.set_records(data.comparison)
        self.costs.set_records(data.costs)
        self._show_statistics(data.statistics)
        level = "patients" if data.level == "patient" else "images"
        lines = []
        if data.results:
            n = {r.level(data.level).n_cases for r in data.results}
            lines.append(f"{len(data.results)} experiment(s), {', '.join(map(str, sorted(n)))} {level}.")
        if len(data.results) == 1:
            lines.append("Check a second experiment to compare AUCs.")
        lines += list(data.notes)
        if data.statistics:
            lines += list(data.statistics.get("notes", []))
            lines += [_margin_line(r) for r in data.statistics.get("noninferiority", [])
                      if r["level"] == data.level]
        self.set_message("\n".join(lines))

    def _show_statistics(self, statistics: dict | None) -> None:
        tables = (statistics or {}).get("tables", {})
        for key, model in self.stats_models.items():
            t = tables.get(key) or {"header": [], "rows": []}
            model.set_table(t["header"], t["rows"])

    def clear_results(self) -> None:
        self._show_statistics(None)
        self.roc_plot.set_results([])
        self.pr_plot.set_results([])
        self.comparison.set_records([])
        self.costs.set_records([])

    def set_message(self, text: str) -> None:
        self.message.setText(text)

    def set_busy(self, busy: bool) -> None:
        """Show the busy bar while results are computed."""
        self._computing = busy
        self.busy.setVisible(self._computing or self._exporting)

    def set_exporting(self, exporting: bool) -> None:
        """While a report is written: busy bar, a Cancel button, no second export."""
        self._exporting = exporting
        self.cancel_export_button.setVisible(exporting)
        self.busy.setVisible(self._computing or self._exporting)
        self._update_export_enabled()

    def _update_export_enabled(self) -> None:
        self.export_button.setEnabled(bool(self.checked()) and not self._exporting)


def _margin_line(r: dict) -> str:
    """One sentence per ViT-CNN pair: non-inferior / equivalent within the margin, or not shown."""
    m = r["margin"]
    ni = "non-inferior" if r["noninferior"] else "non-inferiority not shown"
    eq = "equivalent" if r["equivalent"] else "equivalence not shown"
    return (f"{r['vit']} vs {r['cnn']} ({r['method']}): {ni} within {m:g}; {eq} within ±{m:g} "
            f"(90% CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f}).")
