"""Settings: reader name, auto-advance, and the keyboard shortcut of every command."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from affgui import theme


class SettingsDialog(QDialog):
    """Edits a copy of the choices; the caller reads them back after ``accept``.

    ``commands`` are ``(name, description, key sequence text)``; a key may be
    bound to one command only (OK is disabled while two share one).
    """

    def __init__(self, reader: str, auto_advance: bool, commands: list[tuple[str, str, str]],
                 defaults: dict[str, str], parent: QWidget | None = None,
                 reserved: dict[str, str] | None = None):
        super().__init__(parent)
        self._reserved = reserved or {}  # fixed keys (Ctrl+O, F5, …) -> their command
        self.setWindowTitle("Settings")
        self.resize(560, 640)
        self._names = [name for name, _, _ in commands]
        self._defaults = defaults
        self.reader_edit = QLineEdit(reader)
        self.auto_advance_box = QCheckBox("Go to the next image after a label key")
        self.auto_advance_box.setChecked(auto_advance)
        form = QFormLayout()
        form.addRow("Reader name:", self.reader_edit)
        form.addRow("", self.auto_advance_box)

        self.table = QTableWidget(len(commands), 2)
        self.table.setHorizontalHeaderLabels(("Command", "Key"))
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.edits: dict[str, QKeySequenceEdit] = {}
        for row, (name, text, keys) in enumerate(commands):
            item = QTableWidgetItem(text)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.table.setItem(row, 0, item)
            edit = QKeySequenceEdit(QKeySequence(keys))
            edit.setMaximumSequenceLength(1)
            edit.keySequenceChanged.connect(self._check)
            self.table.setCellWidget(row, 1, edit)
            self.edits[name] = edit
        self.conflict_label = QLabel()
        self.conflict_label.setStyleSheet(f"color: {theme.LABEL_COLORS['uncertain']};")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Keyboard shortcuts (click a key, then press the new one):"))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.conflict_label)
        layout.addWidget(self.buttons)
        self._check()

    def bindings(self) -> dict[str, str]:
        """Every command's key as portable text ("" for none)."""
        return {name: edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
                for name, edit in self.edits.items()}

    def conflicts(self) -> dict[str, list[str]]:
        """Keys bound to more than one command (fixed keys count as taken)."""
        seen: dict[str, list[str]] = {k: [v] for k, v in self._reserved.items()}
        for name, keys in self.bindings().items():
            if keys:
                seen.setdefault(keys, []).append(name)
        return {k: names for k, names in seen.items() if len(names) > 1}

    def restore_defaults(self) -> None:
        for name, edit in self.edits.items():
            edit.setKeySequence(QKeySequence(self._defaults.get(name, "")))

    def _check(self, *_args) -> None:
        clash = self.conflicts()
        self.conflict_label.setText("; ".join(f"{k} is used by {', '.join(v)}"
                                              for k, v in clash.items()))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not clash)
