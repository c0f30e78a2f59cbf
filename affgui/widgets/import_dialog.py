"""Dialogs of File > Import Images: what to import, and what the import did."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

REPORT_FIELDS = (  # ImportReport attribute (a count or a list) and its caption
    ("total", "Files found"),
    ("added", "Added"),
    ("changed", "Changed since the last import (added again)"),
    ("relocated", "Found moved"),
    ("unchanged", "Already in the project"),
    ("duplicates", "Duplicates skipped"),
    ("labelled", "Labels applied"),
    ("rois", "ROIs applied"),
)


def _count(value) -> int:
    return len(value) if isinstance(value, list | tuple) else int(value or 0)


class ImportDialog(QDialog):
    """Asks for a folder of radiographs and an optional manifest CSV."""

    def __init__(self, parent: QWidget | None = None, folder: str = "", manifest: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Import Images")
        self.setMinimumWidth(560)
        self._folder = QLineEdit(folder, placeholderText="Folder with DICOM/PNG/TIFF/JPEG files")
        self._manifest = QLineEdit(manifest, placeholderText="Optional: CSV with path, "
                                   "patient_id, label, view, laterality")
        self._folder_labels = QCheckBox("Take labels from folder names (…/AFF/…, …/NFF/…)")
        self._folder_labels.setChecked(True)
        form = QFormLayout()
        form.addRow("Folder:", self._row(self._folder, self._browse_folder))
        form.addRow("Manifest:", self._row(self._manifest, self._browse_manifest))
        form.addRow("", self._folder_labels)
        note = QLabel("Files are read in place; nothing is copied. Labels from a manifest "
                      "or folder names never overwrite a reader's label.")
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(placeholder-text);")
        self._buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                         | QDialogButtonBox.StandardButton.Cancel)
        self._buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self._buttons)
        self._folder.textChanged.connect(self._update_ok)
        self._update_ok()

    def folder(self) -> Path:
        return Path(self._folder.text().strip()).expanduser()

    def manifest(self) -> Path | None:
        text = self._manifest.text().strip()
        return Path(text).expanduser() if text else None

    def folder_labels(self) -> bool:
        return self._folder_labels.isChecked()

    def _row(self, edit: QLineEdit, browse) -> QWidget:
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        button = QPushButton("Browse…")
        button.clicked.connect(browse)
        layout.addWidget(edit, 1)
        layout.addWidget(button)
        return box

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of radiographs", self._folder.text())
        if path:
            self._folder.setText(path)

    def _browse_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Manifest CSV", self._folder.text(),
                                              "CSV files (*.csv);;All files (*)")
        if path:
            self._manifest.setText(path)

    def _update_ok(self) -> None:
        ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self._folder.text().strip()))


class ImportReportDialog(QDialog):
    """What an import did: counts, and every skipped file with its reason."""

    def __init__(self, report, parent: QWidget | None = None, title: str = "Import finished"):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumSize(620, 300)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        for attr, text in REPORT_FIELDS:
            value = QLabel(f"{_count(getattr(report, attr, 0)):,}")
            value.setObjectName(f"count_{attr}")
            form.addRow(f"{text}:", value)
        errors = [(p, r) for p, r in report.errors]
        error_label = QLabel(f"{len(errors):,}")
        error_label.setObjectName("count_errors")
        form.addRow("Skipped with errors:", error_label)
        layout.addLayout(form)
        rows = errors + [(p, f"note: {r}") for p, r in getattr(report, "notes", [])]
        self.errors_table = QTableWidget(len(rows), 2, self)
        self.errors_table.setHorizontalHeaderLabels(["File", "Reason"])
        self.errors_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.errors_table.horizontalHeader().setStretchLastSection(True)
        self.errors_table.verticalHeader().hide()
        self.errors_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for k, (path, reason) in enumerate(rows):
            for col, text in enumerate((str(path), str(reason))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.errors_table.setItem(k, col, item)
        self.errors_table.setVisible(bool(rows))
        layout.addWidget(self.errors_table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setDefault(True)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
