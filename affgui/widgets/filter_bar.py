"""The filter bar above the grid: label, patient search, view, side, import folder, order, predictions."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QWidget,
)

from affgui.predictions.query import MODES, PredictionQuery
from engine.store import LATERALITIES, UNLABELLED, VIEWS, ImageFilter

LABEL_CHOICES = (("All images", None), ("Unlabelled", UNLABELLED), ("AFF", "AFF"),
                 ("NFF", "NFF"), ("Uncertain", "uncertain"), ("Excluded", "exclude"))
PROBABILITY_ORDERS = {"p_desc": "desc", "p_asc": "asc"}  # need an experiment's predictions
ORDERS = (("By patient", "patient"), ("Import order", "id"), ("P(AFF) high → low", "p_desc"),
          ("P(AFF) low → high", "p_asc"))
SEARCH_DELAY_MS = 250  # typing a patient ID re-lists once the reader pauses
PREDICTION_MODES = (("Any prediction", None), ("Predicted AFF (p ≥ t)", "aff"),
                    ("Predicted NFF (p < t)", "nff"),
                    ("Likely AFF, not yet labelled (screening, p ≥ t)", "unlabelled_aff"),
                    ("Wrong prediction (vs label)", "wrong"),
                    ("Label review queue (most doubtful first)", "review"),
                    ("The two experiments disagree", "models_disagree"),
                    ("{a} right, {b} wrong", "a_right_b_wrong"), ("{b} right, {a} wrong", "b_right_a_wrong"))


REVIEW_CHOICES = (("Reviewed or not", None), ("Reviewed", True), ("Not reviewed", False))


class FilterBarWidget(QWidget):
    """Emits :attr:`sigFilterChanged` whenever the listed images should change."""

    sigFilterChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label_combo = self._combo(LABEL_CHOICES)
        self.view_combo = self._combo((("Any view", None), *((v, v) for v in VIEWS)))
        self.side_combo = self._combo((("Any side", None),
                                       *((("Left", "Right")[i], s) for i, s in enumerate(LATERALITIES))))
        self.folder_combo = self._combo((("Any folder", None),))
        self.order_combo = self._combo(ORDERS)
        self.experiment_combo = self._combo((("No predictions", None),))
        self.experiment_combo.setToolTip("Experiment whose P(AFF) filters and orders the list: out of fold, "
                                         "else its final model's screening prediction")
        self.other_combo = self._combo((("vs. —", None),))
        self.other_combo.setToolTip("A second experiment, to list where the two disagree")
        self.prediction_combo = self._combo(PREDICTION_MODES)
        self.prediction_combo.setToolTip("Which images to list:\n"
                                         + "\n".join(f"• {text}" for _, text in MODES.values()))
        self.threshold_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05,
                                             value=0.5, prefix="t = ")
        self.threshold_spin.valueChanged.connect(self._threshold_changed)
        self.review_combo = self._combo(REVIEW_CHOICES)
        self.review_combo.setToolTip("Reviewed: labelled or confirmed (press its key again) in the GUI")
        self.prediction_info = QLabel()
        self.prediction_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.prediction_info.setVisible(False)
        self._names: list[str] | None = None
        for combo in (self.experiment_combo, self.other_combo):
            combo.currentIndexChanged.connect(self._experiments_chosen)
        self.set_experiments([])
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Patient ID or path…")
        self.search_edit.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.sigFilterChanged)
        self.search_edit.textChanged.connect(lambda _text: self._search_timer.start())
        self.search_edit.returnPressed.connect(self._search_now)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Show:"), 0, 0)
        grid.addWidget(self.label_combo, 0, 1)
        grid.addWidget(self.search_edit, 0, 2, 1, 2)
        grid.addWidget(self.view_combo, 1, 0, 1, 2)
        grid.addWidget(self.side_combo, 1, 2)
        grid.addWidget(self.folder_combo, 1, 3)
        grid.addWidget(self.order_combo, 2, 0, 1, 2)
        grid.addWidget(self.experiment_combo, 2, 2)
        grid.addWidget(self.other_combo, 2, 3)
        grid.addWidget(self.prediction_combo, 3, 0, 1, 3)
        grid.addWidget(self.threshold_spin, 3, 3)
        grid.addWidget(self.review_combo, 4, 0, 1, 2)
        grid.addWidget(self.prediction_info, 5, 0, 1, 4)
        grid.setColumnStretch(3, 1)

    def image_filter(self) -> ImageFilter:
        """The store filter for the current choices."""
        return ImageFilter(label=self.label_combo.currentData(), view=self.view_combo.currentData(),
                           laterality=self.side_combo.currentData(),
                           source_folder=self.folder_combo.currentData(),
                           search=self.search_edit.text().strip() or None)

    def reviewed(self) -> bool | None:
        """``True``: only reviewed images; ``False``: only not yet reviewed; ``None``: both."""
        return self.review_combo.currentData()

    def prediction(self) -> PredictionQuery | None:
        """What the experiments' predictions keep and how they order the list; ``None`` when off."""
        a, b = self.experiment_combo.currentData(), self.other_combo.currentData()
        if not a:
            return None
        b = b if b and b != a else None
        mode = self.prediction_combo.currentData()
        if mode is not None and MODES[mode][0] and b is None:
            mode = None  # a comparison of two experiments needs the second one
        sort = PROBABILITY_ORDERS.get(self.order_combo.currentData())
        return PredictionQuery(a, mode, round(self.threshold_spin.value(), 4), b, sort)

    def set_experiments(self, names: list[str]) -> None:
        """Offer these experiments' predictions (the filter is off without any)."""
        names = list(names)
        if names == self._names:
            return
        self._names = names
        lost = False
        for combo, none_text, prefix in ((self.experiment_combo, "No experiment", ""),
                                         (self.other_combo, "vs. —", "vs. ")):
            chosen = combo.currentData()
            lost = lost or (chosen is not None and chosen not in names)
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(none_text if names else "No predictions", None)
            for name in names:
                combo.addItem(prefix + name, name)
            index = combo.findData(chosen) if chosen is not None else 0
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)
        for w in (self.experiment_combo, self.other_combo, self.prediction_combo, self.threshold_spin):
            w.setEnabled(bool(names))
        self._experiments_chosen()
        if lost:  # a chosen experiment is gone: the listing must drop its filter
            self.sigFilterChanged.emit()

    def set_prediction_info(self, text: str, tooltip: str = "") -> None:
        """The current image's probabilities (and review rank), shown under the filters."""
        self.prediction_info.setText(text)
        self.prediction_info.setToolTip(tooltip or text)
        self.prediction_info.setVisible(bool(text))

    def order(self) -> str:
        """The store's order of the listing (a probability order sorts that listing afterwards)."""
        order = self.order_combo.currentData()
        return "patient" if order is None or order in PROBABILITY_ORDERS else order

    def set_folders(self, folders: list[str]) -> None:
        """Offer these import folders (keeps the chosen one when it is still there)."""
        chosen = self.folder_combo.currentData()
        self.folder_combo.blockSignals(True)
        self.folder_combo.clear()
        self.folder_combo.addItem("Any folder", None)
        for folder in folders:
            self.folder_combo.addItem(folder, folder)
        index = self.folder_combo.findData(chosen) if chosen is not None else 0
        self.folder_combo.setCurrentIndex(max(index, 0))
        self.folder_combo.blockSignals(False)

    def _combo(self, choices) -> QComboBox:
        combo = QComboBox()
        for text, data in choices:
            combo.addItem(text, data)
        combo.currentIndexChanged.connect(self.sigFilterChanged)
        return combo

    def _experiments_chosen(self, *_args) -> None:
        """Enable what the chosen experiments allow; reset choices they no longer allow (quietly:
        the listing already ignores them)."""
        a, b = self.experiment_combo.currentData(), self.other_combo.currentData()
        b = b if b and b != a else None
        names = {"a": a or "first", "b": b or "second"}
        for k, (text, mode) in enumerate(PREDICTION_MODES):
            self.prediction_combo.setItemText(k, text.format(**names))
            pair = mode is not None and MODES[mode][0]
            self._enable_item(self.prediction_combo, k, bool(a) and (b is not None or not pair))
        for k in range(self.order_combo.count()):
            if self.order_combo.itemData(k) in PROBABILITY_ORDERS:
                self._enable_item(self.order_combo, k, bool(a))
        mode = self.prediction_combo.currentData()
        if not a or (mode is not None and MODES[mode][0] and b is None):
            self._quietly(self.prediction_combo, 0)
        if not a and self.order_combo.currentData() in PROBABILITY_ORDERS:
            self._quietly(self.order_combo, 0)

    @staticmethod
    def _enable_item(combo: QComboBox, index: int, enabled: bool) -> None:
        combo.model().item(index).setEnabled(enabled)

    @staticmethod
    def _quietly(combo: QComboBox, index: int) -> None:
        combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.blockSignals(False)

    def _threshold_changed(self, _value: float) -> None:
        query = self.prediction()
        if query is not None and query.mode is not None:
            self._search_timer.start()  # spinning re-lists once, when the value settles

    def _search_now(self) -> None:
        self._search_timer.stop()
        self.sigFilterChanged.emit()
