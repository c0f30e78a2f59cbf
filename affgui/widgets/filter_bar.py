"""The filter bar above the grid: label, patient search, view, side, import folder, order."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QGridLayout, QLabel, QLineEdit, QWidget

from engine.store import LATERALITIES, UNLABELLED, VIEWS, ImageFilter

LABEL_CHOICES = (("All images", None), ("Unlabelled", UNLABELLED), ("AFF", "AFF"),
                 ("NFF", "NFF"), ("Uncertain", "uncertain"), ("Excluded", "exclude"))
ORDERS = (("By patient", "patient"), ("Import order", "id"))
SEARCH_DELAY_MS = 250  # typing a patient ID re-lists once the reader pauses
PREDICTION_MODES = (("Any prediction", None), ("Predicted AFF (p ≥ t)", "aff"),
                    ("Predicted NFF (p < t)", "nff"), ("Label disagrees", "disagree"))


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
        self.experiment_combo.setToolTip("Experiment whose out-of-fold predictions filter the list")
        self.prediction_combo = self._combo(PREDICTION_MODES)
        self.threshold_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05,
                                             value=0.5, prefix="t = ")
        self.threshold_spin.valueChanged.connect(self._threshold_changed)
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
        pred = QGridLayout()
        pred.addWidget(self.prediction_combo, 0, 0)
        pred.addWidget(self.threshold_spin, 0, 1)
        grid.addLayout(pred, 2, 3)
        grid.setColumnStretch(3, 1)

    def image_filter(self) -> ImageFilter:
        """The store filter for the current choices."""
        return ImageFilter(label=self.label_combo.currentData(), view=self.view_combo.currentData(),
                           laterality=self.side_combo.currentData(),
                           source_folder=self.folder_combo.currentData(),
                           search=self.search_edit.text().strip() or None)

    def prediction(self) -> tuple[str, str, float] | None:
        """(experiment, mode, threshold) of the prediction filter, or ``None`` when off."""
        name, mode = self.experiment_combo.currentData(), self.prediction_combo.currentData()
        return (name, mode, self.threshold_spin.value()) if name and mode else None

    def set_experiments(self, names: list[str]) -> None:
        """Offer these experiments' predictions (the filter is off without any)."""
        chosen = self.experiment_combo.currentData()
        self.experiment_combo.blockSignals(True)
        self.experiment_combo.clear()
        self.experiment_combo.addItem("No predictions" if not names else "No experiment", None)
        for name in names:
            self.experiment_combo.addItem(name, name)
        index = self.experiment_combo.findData(chosen) if chosen is not None else 0
        self.experiment_combo.setCurrentIndex(max(index, 0))
        self.experiment_combo.blockSignals(False)
        for w in (self.experiment_combo, self.prediction_combo, self.threshold_spin):
            w.setEnabled(bool(names))

    def order(self) -> str:
        return self.order_combo.currentData() or "patient"

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

    def _threshold_changed(self, _value: float) -> None:
        if self.prediction() is not None:
            self._search_timer.start()  # spinning re-lists once, when the value settles

    def _search_now(self) -> None:
        self._search_timer.stop()
        self.sigFilterChanged.emit()
