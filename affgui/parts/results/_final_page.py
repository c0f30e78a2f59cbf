"""The Results view's "Final models" tab: final models with their provenance, evaluation sets.

A pure view, like the rest of the page: it shows :class:`~affgui.parts.results._final.FinalModelsData`
and emits what the user asks for (add an external project, screen unlabelled images, cancel);
:class:`~affgui.parts.results._final_controller.FinalModelsController` does the work.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from affgui.parts.results._final import CV, EvaluationRow, FinalModelInfo, FinalModelsData
from affgui.parts.results._tables import Column, RecordTableModel, table_view


def _f3(v: float) -> str:
    return f"{v:.3f}"


def _ci(r: EvaluationRow) -> tuple[float, float] | None:
    return None if r.auc_ci_low is None or r.auc_ci_high is None else (r.auc_ci_low, r.auc_ci_high)


def _set_name(r: EvaluationRow) -> str:
    return {"test": "held-out test", "external": "external"}.get(r.kind, r.kind)


FINAL_COLUMNS: tuple[Column, ...] = (
    Column("Final", lambda f: f.id),
    Column("Experiment", lambda f: f.experiment),
    Column("Mode", lambda f: f.mode, tip="ensemble: the fold models' mean P(AFF); refit: one model on "
                                         "all cross-validation patients"),
    Column("Model", lambda f: f.model),
    Column("Split", lambda f: f.split, tip="the split version the members were trained on"),
    Column("Members", lambda f: f.members),
    Column("Weights SHA-256", lambda f: f.weights_short, tip="first 12 hex digits of each member's "
                                                             "weight file hash (details: in full)"),
    Column("Image size", lambda f: f.image_size),
    Column("Orientation", lambda f: f.orientation),
    Column("Code version", lambda f: f.code_version),
    Column("Created", lambda f: f.created_at[:19].replace("T", " ")),
    Column("Usable", lambda f: f.ready or "yes",
           tip="no: why not (a refit job still running, a weight file changed or missing)"),
)

EVALUATION_COLUMNS: tuple[Column, ...] = (
    Column("Experiment", lambda r: r.experiment),
    Column("Final", lambda r: r.final_model_id),
    Column("Evaluation set", lambda r: _set_name(r), tip="cross-validation (internal, out of fold), "
                                                         "held-out test or external: never pooled"),
    Column("Data", lambda r: r.target),
    Column("Cases", lambda r: r.n, tip="patients or images, as the level says"),
    Column("AFF", lambda r: r.n_aff),
    Column("AUC", lambda r: r.auc, _f3),
    Column("AUC 95% CI", _ci, lambda ci: f"{ci[0]:.3f}–{ci[1]:.3f}", "DeLong"),
    Column("Brier", lambda r: r.brier, _f3),
    Column("Calibration slope", lambda r: r.slope, lambda v: f"{v:.2f}",
           "1 is ideal; below 1: too extreme (expect it on another site)"),
    Column("Calibration in the large", lambda r: r.citl, lambda v: f"{v:+.2f}",
           "0 is ideal; above 0: AFF under-predicted"),
    Column("Sensitivity", lambda r: r.sensitivity, _f3, "at the Youden threshold fixed on cross-validation"),
    Column("Specificity", lambda r: r.specificity, _f3, "at the Youden threshold fixed on cross-validation"),
    Column("Evaluated", lambda r: r.created_at[:19].replace("T", " ") if r.kind != CV else ""),
)


_table = table_view


class FinalModelsWidget(QWidget):
    """Final models (with their provenance) above their evaluation sets; actions on the side."""

    sigAddExternal = Signal()  # "Add external project…": the controller asks for the folder
    sigScreen = Signal()  # "Screen unlabelled images": queue a predict job
    sigCancel = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.finals = RecordTableModel(FINAL_COLUMNS, self)
        self.evaluations = RecordTableModel(EVALUATION_COLUMNS, self)
        self.final_view = _table(self.finals)
        self.final_view.setObjectName("finalModelsTable")
        self.final_view.setSelectionMode(QTableView.SelectionMode.ExtendedSelection)
        self.evaluation_view = _table(self.evaluations)
        self.evaluation_view.setObjectName("evaluationSetsTable")
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setObjectName("finalModelDetails")
        self.details.setPlaceholderText("Select a final model to see its provenance as stored")
        self.add_button = QPushButton("Add external project…")
        self.add_button.setToolTip("Evaluate the selected experiments' final models (all with one, when "
                                   "none is selected) on another project's AFF/NFF-labelled images, "
                                   "with the same pre-processing (affengine evaluate --on OTHER)")
        self.screen_button = QPushButton("Screen unlabelled images")
        self.screen_button.setToolTip("Queue a predict job: the selected final model's P(AFF) for every "
                                      "unlabelled image (the browser then filters and sorts by it)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.message = QLabel()
        self.message.setObjectName("finalModelsMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._running = False
        self._layout()
        self.add_button.clicked.connect(self.sigAddExternal)
        self.screen_button.clicked.connect(self.sigScreen)
        self.cancel_button.clicked.connect(self.sigCancel)
        self.final_view.selectionModel().selectionChanged.connect(self._selection_changed)
        self._update_buttons()

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.screen_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.final_view)
        top.addWidget(self.details)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 1)
        lower = QWidget()
        box = QVBoxLayout(lower)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("Evaluation sets (cross-validation next to held-out test and external)"))
        box.addWidget(self.evaluation_view, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)

    # -- what the controller shows --------------------------------------------------------
    def show_data(self, data: FinalModelsData) -> None:
        chosen = set(self.selected_ids())
        self.finals.set_records(data.finals)
        self.evaluations.set_records(data.evaluations)
        for row, f in enumerate(data.finals):
            if f.id in chosen:
                self.final_view.selectRow(row)
        self._selection_changed()

    def clear(self) -> None:
        self.finals.set_records([])
        self.evaluations.set_records([])
        self.details.clear()
        self.set_message("")
        self._update_buttons()

    def set_message(self, text: str) -> None:
        self.message.setText(text)

    def set_running(self, running: bool) -> None:
        """While an evaluation runs: a Cancel button, no second one."""
        self._running = running
        self.cancel_button.setVisible(running)
        self._update_buttons()

    # -- what the user chose ---------------------------------------------------------------
    def selected(self) -> list[FinalModelInfo]:
        rows = sorted({i.row() for i in self.final_view.selectionModel().selectedRows()})
        return [self.finals.records[r] for r in rows]

    def selected_ids(self) -> list[int]:
        return [f.id for f in self.selected()]

    def select_final(self, final_id: int) -> None:
        for row, f in enumerate(self.finals.records):
            if f.id == final_id:
                self.final_view.selectRow(row)

    def _selection_changed(self, *_args) -> None:
        chosen = self.selected()
        self.details.setPlainText("\n\n".join(f.details() for f in chosen))
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.add_button.setEnabled(not self._running)  # without a final model it says so
        self.screen_button.setEnabled(len({f.experiment for f in self.selected()}) == 1)
