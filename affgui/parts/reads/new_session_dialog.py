"""Label ▸ New Reading Session…: name, reader, blind or open, confidence, and which images."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from affgui.parts.reads._common import READ_ERRORS
from engine.reads import ImageSet, ReadingSession, create_session
from engine.splits import list_splits
from engine.store import ImageFilter, Project

SET_CHOICES = (("all", "Whole project"), ("filter", "The browser's current filter"),
               ("fold", "A fold of a split"))


class NewReadingSessionDialog(QDialog):
    """Creates a reading session; ``created`` holds it after OK."""

    def __init__(self, project: Project, reader: str, image_filter: ImageFilter | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New Reading Session")
        self.project = project
        self.image_filter = image_filter or ImageFilter()
        self.created: ReadingSession | None = None
        self.name_edit = QLineEdit(f"{reader or 'reader'}-1")
        self.reader_edit = QLineEdit(reader)
        self.blind_box = QCheckBox("Blind: no labels, predictions, other readers or patient IDs; "
                                   "patients in random order")
        self.blind_box.setChecked(True)
        self.confidence_box = QCheckBox("Ask for a confidence score 1-5 with every read")
        self.set_combo = QComboBox()
        for key, text in SET_CHOICES:
            self.set_combo.addItem(text, key)
        self.split_combo = QComboBox()
        for s in list_splits(project):
            self.split_combo.addItem(f"{s['name']} v{s['version']} (K = {s['k']})", (s["name"], s["version"]))
        self.fold_spin = QSpinBox()
        self.fold_spin.setRange(-1, 99)
        self.fold_spin.setSpecialValueText("held-out test set")
        self.sample_spin = QSpinBox()
        self.sample_spin.setRange(0, 1_000_000)
        self.sample_spin.setSpecialValueText("all patients")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.error = QLabel()
        self.error.setObjectName("readingSessionError")
        self.error.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Session name", self.name_edit)
        form.addRow("Reader", self.reader_edit)
        form.addRow("", self.blind_box)
        form.addRow("", self.confidence_box)
        form.addRow("Images", self.set_combo)
        form.addRow("Split", self.split_combo)
        form.addRow("Fold", self.fold_spin)
        form.addRow("Random sample (patients)", self.sample_spin)
        form.addRow("Sample seed", self.seed_spin)
        ok_cancel = QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        buttons = QDialogButtonBox(ok_cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start Reading")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.set_combo.currentIndexChanged.connect(self._sync)
        self._sync()

    def image_set(self) -> ImageSet:
        kind = self.set_combo.currentData()
        sample = self.sample_spin.value() or None
        seed = self.seed_spin.value()
        if kind == "filter":
            f = self.image_filter
            fields = {k: getattr(f, k) for k in f.__dataclass_fields__ if getattr(f, k) is not None}
            return ImageSet(kind="filter", filter=fields, sample=sample, seed=seed)
        if kind == "fold":
            name, version = self.split_combo.currentData() or (None, None)
            return ImageSet(kind="fold", split=name, split_version=version, fold=self.fold_spin.value(),
                            sample=sample, seed=seed)
        return ImageSet(sample=sample, seed=seed)

    def accept(self) -> None:
        if self.set_combo.currentData() == "fold" and self.split_combo.count() == 0:
            self.error.setText("This project has no split yet: create one (Experiments > New Experiment "
                               "or affengine split create) or read the whole project")
            return
        try:
            self.created = create_session(
                self.project, self.name_edit.text(), self.reader_edit.text(), self.image_set(),
                mode="blind" if self.blind_box.isChecked() else "open",
                confidence=self.confidence_box.isChecked())
        except READ_ERRORS as exc:
            self.error.setText(str(exc))
            return
        super().accept()

    def _sync(self) -> None:
        fold = self.set_combo.currentData() == "fold"
        self.split_combo.setEnabled(fold)
        self.fold_spin.setEnabled(fold)
