"""Experiments > New Experiment: split, models by family, hyper-parameters, where to run.

Each checked model becomes one experiment per weights choice (ImageNet, scratch or
both); the table at the bottom lists them with editable names. OK validates every spec
(``RunSpec``), name and pretrained weights first, then creates the experiments on a worker
thread; any refusal is shown in the dialog, which stays open.

*CNN vs ViT Study* (a checkable button) switches the dialog to the study preset: OK then runs
``affengine study create P --preset cnn-vs-vit`` with the Protocol box's quick, repeats, seeds,
tune-trials and drop-missing choices, so the GUI queues exactly the CLI's design, and shows
the engine's refusal (missing weights: the folder and the commands) when there is one.
*Import weights file…* runs ``affengine weights import FILE --model M``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from affgui.parts.experiments.plan import (
    PlannedExperiment,
    StudyOptions,
    build_specs,
    create_experiments,
    import_weights_file,
    missing_weights_hint,
    plan_experiments,
    probe_weights,
    queue_study,
)
from affgui.parts.experiments.split_picker import SplitPickerWidget
from engine.train import PRECISIONS

if TYPE_CHECKING:
    from collections.abc import Callable

    from affgui.tasks import TaskRunner
    from engine.store import Project

FAMILY_TITLES = {"cnn": "CNN", "vit": "ViT", "hybrid": "Hybrid"}
LAST_SETTINGS_KEY = "gui.new_experiment"  # project meta: the dialog's last queued choices
WEIGHTS_CHOICES = (("pretrained", "ImageNet pretrained"), ("scratch", "From scratch"),
                   ("both", "Both (pretrained and from scratch)"))
BACKENDS = (("local", "Local workers"), ("slurm", "Slurm cluster"))
WEIGHTS_COLUMN = 2  # of the model tree


def default_weights_probe() -> tuple[dict[str, bool], bool]:
    from engine.models import hub_reachable

    return probe_weights(), hub_reachable()


class NewExperimentDialog(QDialog):
    """Plans experiments and creates them; ``sigCreated(names, backend)`` after OK succeeded."""

    sigCreated = Signal(list, str)
    sigWeightsChanged = Signal()  # a weights file was imported: cached probes are stale

    def __init__(self, project: Project, tasks: TaskRunner, parent: QWidget | None = None,
                 weights_probe: Callable[[], tuple[dict[str, bool], bool]] | None = default_weights_probe):
        super().__init__(parent)
        self.setWindowTitle("New Experiment")
        self.project = project
        self.tasks = tasks
        self.weights: dict[str, bool] | None = None  # model -> weights on this machine
        self.hub = False
        self.created: list[str] = []
        self.busy = False
        self.weights_probe = weights_probe
        self._order: list[str] = []  # models in the order the plan lists them (the preset's pairs)
        self._auto: list[PlannedExperiment] = []  # the plan as last generated (names not edited)

        self.splits = SplitPickerWidget(project, tasks)
        self.models = self._model_tree()
        self.weights_mode = QComboBox()
        for key, text in WEIGHTS_CHOICES:
            self.weights_mode.addItem(text, key)
        self.prefix = QLineEdit(placeholderText="optional, e.g. study1-")
        preset = QPushButton("CNN vs ViT Study")
        preset.setCheckable(True)
        preset.setToolTip("the study preset (affengine study create --preset cnn-vs-vit): resnet50 vs "
                          "vit_base, densenet121 vs deit_small, each pretrained and from scratch, with "
                          "their family recipes, all under the Protocol box's repeats, seeds and tuning")
        preset.toggled.connect(self._study_toggled)
        self.preset_button = preset
        self.import_button = QPushButton("Import weights file…")
        self.import_button.setToolTip("check a .safetensors or state-dict file against a model and store "
                                      "it in the weights folder (affengine weights import)")
        self.import_button.clicked.connect(self.choose_weights_file)
        # the protocol (docs/training.md): the study preset's options; repeats/seeds/tuning also
        # apply to experiments queued from the model list
        self.quick = QCheckBox("Quick CPU demo (resnet10t, vit_tiny at 128 px)")
        self.repeats = QSpinBox(minimum=0, maximum=100, value=0, specialValueText="all of the split")
        self.train_seeds = QSpinBox(minimum=1, maximum=100, value=1)
        self.tune_trials = QSpinBox(minimum=0, maximum=1000, value=0, specialValueText="no tuning")
        self.drop_missing = QCheckBox("Leave out pretrained arms without weights")
        self.quick.toggled.connect(self._quick_toggled)
        self.drop_missing.toggled.connect(lambda *_: self.update_plan())

        self.image_size = QSpinBox(minimum=0, maximum=2048, value=0, specialValueText="model default")
        self.epochs = QSpinBox(minimum=1, maximum=10_000, value=30)
        self.batch_size = QSpinBox(minimum=1, maximum=4096, value=32)
        self.lr = QDoubleSpinBox(minimum=0.000001, maximum=1.0, decimals=6, singleStep=0.0001,
                                 value=3e-4)
        self.augment = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.1, value=0.5)
        self.precision = QComboBox()
        self.precision.addItems(list(PRECISIONS))
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.priority = QSpinBox(minimum=-1000, maximum=1000, value=0)
        self.backend = QComboBox()
        for key, text in BACKENDS:
            self.backend.addItem(text, key)

        self.plan_table = QTableWidget(0, 3)
        self.plan_table.setHorizontalHeaderLabels(["Experiment name", "Model", "Weights"])
        self.plan_table.verticalHeader().hide()
        self.plan_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.plan_table.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers)
        self.error = QLabel(wordWrap=True)
        self.error.setObjectName("errorLabel")
        self.error.setStyleSheet("color: #e15759;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Queue Experiments")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self._layout()

        self.models.itemChanged.connect(lambda *_: self.update_plan())
        self.weights_mode.currentIndexChanged.connect(lambda *_: self.update_plan())
        self.prefix.textChanged.connect(lambda *_: self.update_plan())
        self.splits.sigSplitChanged.connect(self._split_changed)
        self.update_plan()
        self.restore_last()
        if weights_probe is not None:
            tasks.submit(lambda _p: weights_probe(), done=self._set_weights,
                         failed=lambda exc: self._set_weights(None))

    def _layout(self) -> None:
        models_box = QGroupBox("Models")
        mb = QVBoxLayout(models_box)
        mb.addWidget(self.models)
        row = QHBoxLayout()
        row.addWidget(QLabel("Weights:"))
        row.addWidget(self.weights_mode, 1)
        row.addWidget(self.preset_button)
        row.addWidget(self.import_button)
        mb.addLayout(row)
        protocol = QGroupBox("Protocol")
        pf = QGridLayout(protocol)
        for k, (label, widget) in enumerate((("Repeats", self.repeats), ("Seeds per fold", self.train_seeds),
                                             ("Tuning trials", self.tune_trials))):
            pf.addWidget(QLabel(label), 0, 2 * k)
            pf.addWidget(widget, 0, 2 * k + 1)
        pf.addWidget(self.quick, 1, 0, 1, 3)
        pf.addWidget(self.drop_missing, 1, 3, 1, 3)
        hyper = QGroupBox("Training")
        grid = QGridLayout(hyper)
        for k, (label, widget) in enumerate((
                ("Image size", self.image_size), ("Epochs", self.epochs), ("Batch size", self.batch_size),
                ("Learning rate", self.lr), ("Augmentation", self.augment),
                ("Precision", self.precision), ("Seed", self.seed), ("Priority", self.priority))):
            grid.addWidget(QLabel(label), k // 2, 2 * (k % 2))
            grid.addWidget(widget, k // 2, 2 * (k % 2) + 1)
        form = QFormLayout()
        form.addRow("Name prefix:", self.prefix)
        form.addRow("Run on:", self.backend)
        split_box = QGroupBox("Cross-validation split")
        QVBoxLayout(split_box).addWidget(self.splits)
        top = QHBoxLayout()
        top.addWidget(split_box, 1)
        top.addWidget(models_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hyper)
        layout.addWidget(protocol)
        layout.addLayout(form)
        layout.addWidget(QLabel("Experiments to queue (one training job per fold each):"))
        layout.addWidget(self.plan_table)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(1100, 820)

    def _model_tree(self) -> QTreeWidget:
        from engine.models import FAMILIES, get_entry, list_models

        tree = QTreeWidget()
        tree.setHeaderLabels(["Model", "Input", "ImageNet weights", "Description"])
        tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.model_items: dict[str, QTreeWidgetItem] = {}
        for family in FAMILIES:
            group = QTreeWidgetItem(tree, [FAMILY_TITLES.get(family, family)])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for name in list_models(family):
                e = get_entry(name)
                desc = e.description + (" (test model)" if e.tiny else "")
                item = QTreeWidgetItem(group, [name, str(e.input_size), "checking…", desc])
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, Qt.CheckState.Unchecked)
                self.model_items[name] = item
            group.setExpanded(True)
        return tree

    # -- plan ---------------------------------------------------------------------
    # -- remembered per project ------------------------------------------------------
    def remember(self) -> None:
        """Store the choices in the project (meta ``gui.new_experiment``) for the next dialog."""
        self.project.set_meta(LAST_SETTINGS_KEY, json.dumps(dict(
            models=self._order_of_checked(), weights=self.weights_mode.currentData(),
            prefix=self.prefix.text(), image_size=self.image_size.value(), epochs=self.epochs.value(),
            batch_size=self.batch_size.value(), lr=float(self.lr.value()),
            augment=float(self.augment.value()), precision=self.precision.currentText(),
            seed=self.seed.value(), priority=self.priority.value(), backend=self.backend.currentData())))

    def restore_last(self) -> None:
        """Reopen with the choices last queued in this project (unreadable: the defaults)."""
        try:
            last = json.loads(self.project.meta(LAST_SETTINGS_KEY) or "{}")
        except ValueError:
            return
        if not isinstance(last, dict):
            return
        for key, box in (("image_size", self.image_size), ("epochs", self.epochs),
                         ("batch_size", self.batch_size), ("seed", self.seed), ("priority", self.priority)):
            if isinstance(last.get(key), int):
                box.setValue(last[key])
        for key, box in (("lr", self.lr), ("augment", self.augment)):
            if isinstance(last.get(key), int | float):
                box.setValue(float(last[key]))
        if isinstance(last.get("prefix"), str):
            self.prefix.setText(last["prefix"])
        for key, combo in (("backend", self.backend),):
            k = combo.findData(last.get(key))
            if k >= 0:
                combo.setCurrentIndex(k)
        if isinstance(last.get("precision"), str) and self.precision.findText(last["precision"]) >= 0:
            self.precision.setCurrentText(last["precision"])
        models = [m for m in last.get("models", []) if isinstance(m, str) and m in self.model_items]
        weights = last.get("weights") if self.weights_mode.findData(last.get("weights")) >= 0 else None
        if models or weights:
            self.set_models(models, weights)

    def _order_of_checked(self) -> list[str]:
        checked = self.checked_models()
        return [m for m in self._order if m in checked] + [m for m in checked if m not in self._order]

    def _split_changed(self, name: str) -> None:
        if name and self.error.text().startswith("Choose a split"):
            self.error.setText("")  # the problem it named is gone

    def checked_models(self) -> list[str]:
        return [n for n, i in self.model_items.items() if i.checkState(0) == Qt.CheckState.Checked]

    def set_models(self, models: list[str], weights: str | None = None) -> None:
        """Check exactly ``models`` (in that order in the plan) and optionally the weights choice."""
        self._order = list(models)
        self.models.blockSignals(True)
        for name, item in self.model_items.items():
            item.setCheckState(0, Qt.CheckState.Checked if name in models else Qt.CheckState.Unchecked)
        self.models.blockSignals(False)
        if weights is not None:
            self.weights_mode.setCurrentIndex(self.weights_mode.findData(weights))
        self.update_plan()

    def apply_study_preset(self) -> None:
        """Switch to the CNN vs ViT study preset (what the button does)."""
        self.preset_button.setChecked(True)

    def study_mode(self) -> bool:
        return self.preset_button.isChecked()

    def _study_toggled(self, on: bool) -> None:
        self.models.setEnabled(not on)
        self.weights_mode.setEnabled(not on)
        if on:  # the preset's own epochs unless changed afterwards (sent as --epochs)
            self._quick_toggled(self.quick.isChecked())
        self.update_plan()

    def _quick_toggled(self, quick: bool) -> None:
        from engine.experiments import preset_epochs

        if self.study_mode():
            self.epochs.setValue(preset_epochs(quick))
        self.update_plan()

    def study_options(self) -> StudyOptions:
        """The ``affengine study create`` options OK uses in study mode."""
        return StudyOptions(split=self.splits.current_split() or "", quick=self.quick.isChecked(),
                            repeats=self.repeats.value() or None, seeds=self.train_seeds.value(),
                            tune_trials=self.tune_trials.value(), drop_missing=self.drop_missing.isChecked(),
                            epochs=self.epochs.value(), backend=self.backend.currentData(),
                            prefix=self.prefix.text().strip())

    def _study_plan(self) -> list[PlannedExperiment]:
        from engine.experiments import preset_arms

        prefix = self.prefix.text().strip()
        arms = preset_arms("cnn-vs-vit", self.quick.isChecked())
        if self.drop_missing.isChecked() and self.weights is not None:
            arms = [a for a in arms if not a.pretrained or self.weights.get(a.model)]
        return [PlannedExperiment(prefix + a.name, a.model, a.pretrained) for a in arms]

    # -- weights -------------------------------------------------------------------------
    def choose_weights_file(self) -> None:
        """Import weights file…: pick a file and its model, then :meth:`import_weights`."""
        path, _ = QFileDialog.getOpenFileName(self, "Import ImageNet weights", "",
                                              "Weights (*.safetensors *.pth *.pt *.bin);;All files (*)")
        if not path:
            return
        models = list(self.model_items)
        current = self.models.currentItem()
        start = models.index(current.text(0)) if current is not None and current.text(0) in models else 0
        model, ok = QInputDialog.getItem(self, "Import ImageNet weights", "Weights of model:", models,
                                         start, False)
        if ok and model:
            self.import_weights(path, model)

    def import_weights(self, path: str, model: str) -> None:
        """Run ``affengine weights import`` off the GUI thread; then probe the weights again."""
        self.import_button.setEnabled(False)
        self.error.setText(f"Importing weights for {model}…")

        def done(message: str) -> None:
            if not isValid(self):
                return
            self.import_button.setEnabled(True)
            self.error.setText(message)
            self.sigWeightsChanged.emit()
            if self.weights_probe is not None:
                self.tasks.submit(lambda _p: self.weights_probe(), done=self._set_weights,
                                  failed=lambda exc: self._set_weights(None))

        def failed(exc: BaseException) -> None:
            if isValid(self):
                self.import_button.setEnabled(True)
                self.error.setText(f"Weights not imported: {exc}")

        self.tasks.submit(lambda _p: import_weights_file(path, model), done=done, failed=failed)

    def update_plan(self) -> None:
        if self.study_mode():
            self._show_plan(self._study_plan(), editable=False)
            return
        checked = self.checked_models()
        order = [m for m in self._order if m in checked]
        models = order + [m for m in checked if m not in order]
        plans = plan_experiments(models, self.weights_mode.currentData(), self.prefix.text().strip())
        edited = {(p.model, p.pretrained): p.name for p in self.planned()}
        auto = {(p.model, p.pretrained): p.name for p in self._auto}
        self._auto = plans
        named = [p.__class__(edited[(p.model, p.pretrained)], p.model, p.pretrained)
                 if (p.model, p.pretrained) in edited and edited[(p.model, p.pretrained)] != auto.get(
                     (p.model, p.pretrained)) else p for p in plans]  # a name typed by hand stays
        self._show_plan(named, editable=True)

    def _show_plan(self, plans: list[PlannedExperiment], editable: bool) -> None:
        self.plan_table.setRowCount(len(plans))
        for r, p in enumerate(plans):
            item = QTableWidgetItem(p.name)
            if not editable:  # the study preset names its arms itself
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.plan_table.setItem(r, 0, item)
            for c, text in ((1, p.model), (2, "ImageNet" if p.pretrained else "scratch")):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.plan_table.setItem(r, c, item)

    def planned(self) -> list[PlannedExperiment]:
        """The experiments OK creates, with the names as edited in the table."""
        t = self.plan_table
        return [PlannedExperiment(t.item(r, 0).text().strip(), t.item(r, 1).text(),
                                  t.item(r, 2).text() == "ImageNet") for r in range(t.rowCount())
                if t.item(r, 0) is not None and t.item(r, 1) is not None]

    def settings(self) -> dict:
        """The RunSpec fields shared by every planned experiment."""
        return dict(split=self.splits.current_split(), image_size=self.image_size.value() or None,
                    epochs=self.epochs.value(), batch_size=self.batch_size.value(),
                    lr=float(self.lr.value()), augment=float(self.augment.value()),
                    precision=self.precision.currentText(), seed=self.seed.value(),
                    tune_trials=self.tune_trials.value())

    # -- OK -------------------------------------------------------------------------
    def submit(self) -> None:
        """Validate and create every planned experiment off the GUI thread."""
        if self.busy:
            return
        plans, settings = self.planned(), self.settings()
        if not settings["split"]:
            self.error.setText("Choose a split, or create one above.")
            return
        available = None if self.weights is None else {
            m: ok or self.hub for m, ok in self.weights.items()}
        backend, priority, project = self.backend.currentData(), self.priority.value(), self.project
        repeats, seeds = self.repeats.value() or None, self.train_seeds.value()
        options, path, study = self.study_options(), str(project.path), self.study_mode()

        def work(_progress):
            if study:  # the CLI's design, through the CLI: same names, recipes, refusals
                return queue_study(path, options)
            specs = build_specs(project, plans, settings, available)
            return create_experiments(project, plans, specs, backend=backend, priority=priority,
                                      repeats=repeats, seeds=seeds)

        self.busy = True
        self.error.setText("Queueing…")
        self.buttons.setEnabled(False)
        self.tasks.submit(work, done=lambda names: self._done(names, backend), failed=self._failed)

    def _done(self, names: list[str], backend: str) -> None:
        if not isValid(self):
            return  # closed before the worker answered
        self.busy = False
        self.buttons.setEnabled(True)
        self.created = names
        self.error.setText("")
        try:
            self.remember()
        except Exception as exc:  # noqa: BLE001 - a read-only project still queued its jobs
            self.error.setText(f"Queued; the settings were not remembered: {exc}")
        self.sigCreated.emit(names, backend)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        if not isValid(self):
            return  # closed before the worker answered
        self.busy = False
        self.buttons.setEnabled(True)
        if isinstance(exc, KeyError) and exc.args:
            text = str(exc.args[0])
        elif isinstance(exc, ValueError):
            text = str(exc)
        else:
            text = f"{type(exc).__name__}: {exc}"
        self.error.setText(text)

    def _set_weights(self, result: tuple[dict[str, bool], bool] | None) -> None:
        if not isValid(self):
            return  # closed before the worker answered
        if result is None:
            for item in self.model_items.values():
                item.setText(WEIGHTS_COLUMN, "unknown")
            return
        self.weights, self.hub = result
        for name, item in self.model_items.items():
            ok = self.weights.get(name)
            item.setText(WEIGHTS_COLUMN, "on this machine" if ok else
                         "not on this machine (downloadable)" if self.hub else "not on this machine")
            item.setToolTip(WEIGHTS_COLUMN, "" if ok else missing_weights_hint(name))
        self.update_plan()  # drop-missing arms follow what is on this machine
