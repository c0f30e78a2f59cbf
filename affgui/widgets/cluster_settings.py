"""Cluster settings of a project (``slurm.json``): partition, resources, set-up, checked as you type."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from affgui import theme
from engine.slurm import ClusterSettings, SettingsError

_TEXT = (("partition", "Partition:", "cluster default"), ("account", "Account:", "none"),
         ("qos", "QoS:", "none"), ("mem", "Memory:", "16G, 8000M, 0 = whole node"),
         ("time", "Time limit:", "04:00:00, 90 (minutes), 1-12:00:00"),
         ("command", "Engine command:", "this installation's interpreter (python -m engine)"))
_NUMBERS = (("gpus", "GPUs:", 0, 64, ""), ("cpus", "CPUs:", 1, 1024, ""),
            ("signal_grace_s", "Checkpoint warning:", 0, 86400, " s before the limit"),
            ("max_submissions", "Submissions at most:", 1, 100, ""))


class ClusterSettingsDialog(QDialog):
    """Edits ``PROJECT/slurm.json``; OK saves (atomically) and is disabled while a value is wrong."""

    def __init__(self, project_path: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.project_path = Path(project_path)
        self.setWindowTitle("Cluster Settings (Slurm)")
        self.resize(560, 620)
        load_error = ""
        try:
            current = ClusterSettings.load(self.project_path)
        except SettingsError as exc:
            current, load_error = ClusterSettings(), f"{exc}; showing the defaults"
        except ValueError as exc:  # UnicodeDecodeError: not UTF-8 text, which the engine lets through
            path = ClusterSettings.path(self.project_path)
            load_error = f"{path}: cannot read cluster settings: {exc}; showing the defaults"
            current = ClusterSettings()
        form = QFormLayout()
        self.edits: dict[str, QLineEdit] = {}
        for name, label, hint in _TEXT:
            edit = QLineEdit(getattr(current, name))
            edit.setPlaceholderText(hint)
            edit.textChanged.connect(self._check)
            form.addRow(label, edit)
            self.edits[name] = edit
        self.spins: dict[str, QSpinBox] = {}
        for name, label, low, high, suffix in _NUMBERS:
            spin = QSpinBox()
            spin.setRange(low, high)
            spin.setSuffix(suffix)
            spin.setValue(getattr(current, name))
            spin.valueChanged.connect(self._check)
            form.addRow(label, spin)
            self.spins[name] = spin
        self.extra_edit = QPlainTextEdit("\n".join(current.extra))
        self.extra_edit.setPlaceholderText("--constraint=a100\n--exclusive")
        self.extra_edit.setMaximumHeight(70)
        self.extra_edit.textChanged.connect(self._check)
        form.addRow("Extra #SBATCH lines:", self.extra_edit)
        self.setup_edit = QPlainTextEdit(current.setup)
        self.setup_edit.setPlaceholderText("module load cuda/12\nsource ~/affwb/bin/activate")
        self.setup_edit.setMaximumHeight(70)
        self.setup_edit.textChanged.connect(self._check)
        form.addRow("Set-up on the cluster:", self.setup_edit)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.problem_label = QLabel(load_error)
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet(f"color: {theme.LABEL_COLORS['uncertain']};")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Jobs of {self.project_path.name} sent to Slurm run with:"))
        layout.addLayout(form)
        layout.addWidget(QLabel("#SBATCH options:"))
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.buttons)
        self._load_error = load_error
        self._check()

    def settings(self) -> ClusterSettings:
        """The settings as the fields show them (not checked)."""
        extra = tuple(x.strip() for x in self.extra_edit.toPlainText().splitlines() if x.strip())
        return ClusterSettings(**{n: e.text().strip() for n, e in self.edits.items()},
                               **{n: s.value() for n, s in self.spins.items()},
                               extra=extra, setup=self.setup_edit.toPlainText().strip())

    def accept(self) -> None:
        try:
            self.settings().save(self.project_path)
        except (SettingsError, OSError) as exc:
            self.problem_label.setText(f"Not saved: {exc}")
            return
        super().accept()

    def _check(self, *_args) -> None:
        settings = self.settings()
        problems = settings.problems()
        ok = not problems
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        self.problem_label.setText("; ".join(problems) if problems else self._load_error)
        self.preview.setPlainText("\n".join(f"#SBATCH {o}" for o in settings.sbatch_options())
                                  if ok else "")
