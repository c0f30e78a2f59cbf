"""Pick a stored split or create one (K, seed, held-out share) and see its fold balance.

Listing, loading and creating splits read or write the project's split tables, so each
runs on a worker thread; the widget shows "Reading…" meanwhile and any refusal (too few
patients for K folds, no labelled images) in its message line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from affgui.parts.experiments.plan import split_summary

if TYPE_CHECKING:
    from affgui.tasks import TaskRunner
    from engine.splits import FoldBalance, Split
    from engine.store import Project

BALANCE_COLUMNS = ("Fold", "Images", "AFF images", "NFF images", "Patients", "AFF patients",
                   "NFF patients")


def _split_names(project: Project) -> list[str]:
    from engine.splits import list_splits

    return list(dict.fromkeys(s["name"] for s in list_splits(project)))


def _create(project: Project, name: str, k: int, seed: int, test_share: float):
    from engine.splits import create_split

    create_split(project, name, k=k, seed=seed, test_share=test_share)
    return _split_names(project), split_summary(project, name)


class SplitPickerWidget(QWidget):
    """A split combo, a "new split" form and the chosen split's per-fold AFF/NFF counts."""

    sigSplitChanged = Signal(str)  # the chosen split's name ("" for none)
    sigLoaded = Signal()  # the balance of the chosen split is shown (or there is none)

    def __init__(self, project: Project, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.tasks = tasks
        self.split: Split | None = None
        self.counts: list[FoldBalance] = []
        self.combo = QComboBox()
        self.combo.currentTextChanged.connect(self._chosen)
        self.summary = QLabel()
        self.message = QLabel(wordWrap=True)
        self.message.setObjectName("splitMessage")
        self.message.setStyleSheet("color: #e8a33d;")

        self.new_name = QLineEdit("default")
        self.k = QSpinBox(minimum=2, maximum=20, value=5)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.test_share = QDoubleSpinBox(minimum=0.0, maximum=0.5, singleStep=0.05, decimals=2)
        self.create_button = QPushButton("Create Split")
        self.create_button.clicked.connect(self.create_split)
        new = QGroupBox("New split (stratified, grouped by patient)")
        grid = QGridLayout(new)
        for k, (label, widget) in enumerate((("Name", self.new_name), ("K (folds)", self.k),
                                             ("Seed", self.seed), ("Held-out share", self.test_share))):
            grid.addWidget(QLabel(label), k // 2, 2 * (k % 2))
            grid.addWidget(widget, k // 2, 2 * (k % 2) + 1)
        grid.addWidget(self.create_button, 2, 3)

        self.table = QTableWidget(0, len(BALANCE_COLUMNS))
        self.table.setHorizontalHeaderLabels(BALANCE_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(190)

        form = QFormLayout()
        form.addRow("Split:", self.combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(new)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        self.refresh()

    def current_split(self) -> str:
        return self.combo.currentText()

    def refresh(self) -> None:
        """List the project's splits again (off the GUI thread)."""
        self.summary.setText("Reading splits…")
        project = self.project
        self.tasks.submit(lambda _p: _split_names(project), done=self._set_names,
                          failed=self._failed)

    def create_split(self) -> None:
        """Create (or find, when labels and settings are unchanged) the split in the form."""
        name = self.new_name.text().strip()
        if not name:
            self.message.setText("A new split needs a name.")
            return
        self.message.setText("")
        self.create_button.setEnabled(False)
        self.summary.setText(f"Creating split {name}…")
        args = (self.project, name, self.k.value(), self.seed.value(), self.test_share.value())
        self.tasks.submit(lambda _p: _create(*args), done=lambda r: self._created(name, *r),
                          failed=self._failed)

    # -- GUI thread -----------------------------------------------------------------
    def _set_names(self, names: list[str], select: str | None = None,
                   summary: tuple[Split, list[FoldBalance]] | None = None) -> None:
        if not isValid(self):
            return  # closed before the worker answered
        keep = select or self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(names)
        if keep in names:
            self.combo.setCurrentText(keep)
        self.combo.blockSignals(False)
        if self.new_name.text().strip() in names:  # offer a fresh name, not a new version of one
            self.new_name.setText(next(f"split{n}" for n in range(2, len(names) + 3)
                                       if f"split{n}" not in names))
        if not names:
            self.summary.setText("No split yet: create one below.")
            self._show(None, [])
            self.sigSplitChanged.emit("")
            return
        if summary is not None and summary[0].name == self.combo.currentText():
            self.sigSplitChanged.emit(summary[0].name)
            self._show(*summary)  # just created and read: no second read
            return
        self._chosen(self.combo.currentText())

    def _created(self, name: str, names: list[str], summary: tuple[Split, list[FoldBalance]]) -> None:
        if not isValid(self):
            return  # closed before the worker answered
        self.create_button.setEnabled(True)
        self._set_names(names, select=name, summary=summary)

    def _chosen(self, name: str) -> None:
        self.sigSplitChanged.emit(name)
        if not name:
            return
        self.summary.setText(f"Reading split {name}…")
        project = self.project
        self.tasks.submit(lambda _p: split_summary(project, name),
                          done=lambda r: self._loaded(name, *r), failed=self._failed)

    def _loaded(self, name: str, split: Split, counts: list[FoldBalance]) -> None:
        if isValid(self) and name == self.current_split():  # else another split was chosen since
            self._show(split, counts)

    def _failed(self, exc: BaseException) -> None:
        if not isValid(self):
            return  # closed before the worker answered
        self.create_button.setEnabled(True)
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        self.message.setText(text)
        self.summary.setText("")
        self.sigLoaded.emit()

    def _show(self, split: Split | None, counts: list[FoldBalance]) -> None:
        if not isValid(self):
            return  # closed before the worker answered
        self.split, self.counts = split, counts
        self.table.setRowCount(len(counts))
        for r, c in enumerate(counts):
            values = ("held-out test" if c.fold == -1 else str(c.fold), c.images, c.aff_images,
                      c.nff_images, c.patients, c.aff_patients, c.nff_patients)
            for col, v in enumerate(values):
                self.table.setItem(r, col, QTableWidgetItem(str(v)))
        if split is not None:
            cv = [c for c in counts if c.fold != -1]
            test = next((c for c in counts if c.fold == -1), None)
            self.summary.setText(
                f"{split.name} v{split.version}: {split.k} folds, seed {split.seed}, "
                f"{sum(c.images for c in cv)} images of {sum(c.patients for c in cv)} patients in "
                "cross-validation" + (f", {test.images} images held out" if test else ""))
            self.message.setText("")
        self.sigLoaded.emit()
