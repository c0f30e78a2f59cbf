"""Label ▸ Disagreement Queue…: where readers differ, their reads side by side, the consensus.

The queue lists the images (or patients) read in every chosen session on which the calls
differ, in the browser's order. The adjudicator sees each reader's label, confidence and time
beside the image and sets the consensus with the labelling keys (A / N / U / X): it becomes the
current label with source ``adjudication``, linked in the history to the reads it settled, and
the item leaves the queue. *Majority* and *Any AFF* settle what they decide at once; ties stay.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from affgui import theme
from affgui.display import esc
from affgui.menus import ActionRegistry, make_action
from affgui.parts.reads._common import READ_ERRORS
from affgui.widgets.image_viewer import ImageViewerWidget
from engine.reads import LEVELS, QueueItem, adjudicate, auto_adjudicate, disagreement_queue, list_sessions
from engine.store import LABELS, Project

READ_COLUMNS = ("session", "reader", "image", "view", "label", "confidence", "seconds")


class AdjudicationWindow(QWidget):
    """The disagreement queue of a set of reading sessions, and the adjudication of each item."""

    sigAdjudicated = Signal(list)  # the Adjudication rows written

    def __init__(self, project: Project, adjudicator: str, registry: ActionRegistry | None = None,
                 parent: QWidget | None = None):
        """``registry``: the main window's (its label keys, remapped, set the consensus)."""
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Disagreement Queue")
        self.resize(1300, 850)
        self.project = project
        self.adjudicator = adjudicator
        self.queue: list[QueueItem] = []

        self.sessions_list = QListWidget()
        self.sessions_list.setMaximumHeight(110)
        for s in list_sessions(project):
            it = QListWidgetItem(f"{s.name} ({s.reader}, {s.mode}, {s.n_images} images)")
            it.setData(Qt.ItemDataRole.UserRole, s.name)
            it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked)
            self.sessions_list.addItem(it)
        self.level_combo = QComboBox()
        for level in LEVELS:
            self.level_combo.addItem(f"per {level}", level)
        self.majority_button = QPushButton("Settle by Majority")
        self.any_aff_button = QPushButton("Settle by Any AFF")
        self.queue_list = QListWidget()
        self.queue_list.setObjectName("disagreementQueue")
        self.count_label = QLabel()
        make = registry.make if registry is not None else make_action  # affgui.menus declares the keys
        self.viewer = ImageViewerWidget(actions=make)
        self.viewer.set_cache(project.cache)
        self.reads_table = QTableWidget(0, len(READ_COLUMNS))
        self.reads_table.setHorizontalHeaderLabels(list(READ_COLUMNS))
        self.reads_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.reads_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.reads_table.setMaximumHeight(200)
        self.calls_label = QLabel()
        self.calls_label.setWordWrap(True)
        self.message = QLabel()
        self.message.setObjectName("adjudicationMessage")
        self.message.setWordWrap(True)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(QLabel("Sessions"))
        lv.addWidget(self.sessions_list)
        row = QHBoxLayout()
        row.addWidget(self.level_combo)
        lv.addLayout(row)
        lv.addWidget(self.count_label)
        lv.addWidget(self.queue_list, 1)
        rules = QHBoxLayout()
        rules.addWidget(self.majority_button)
        rules.addWidget(self.any_aff_button)
        lv.addLayout(rules)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.calls_label)
        rv.addWidget(self.viewer, 1)
        rv.addWidget(self.reads_table)
        rv.addWidget(self.message)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([340, 960])
        QVBoxLayout(self).addWidget(splitter)

        self.set_actions: dict[str, QAction] = {}
        for label in LABELS:
            action = make(f"adjudicate.{label}", self)
            action.triggered.connect(lambda _=False, lab=label: self.settle(lab))
            self.addAction(action)
            self.set_actions[label] = action
        for name, step in (("adjudicate.next", 1), ("adjudicate.previous", -1)):
            action = make(name, self)
            action.triggered.connect(lambda _=False, s=step: self._step(s))
            self.addAction(action)
        self.sessions_list.itemChanged.connect(lambda _it: self.refresh())
        self.level_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        self.queue_list.currentRowChanged.connect(self._show_item)
        self.majority_button.clicked.connect(lambda: self.apply_rule("majority"))
        self.any_aff_button.clicked.connect(lambda: self.apply_rule("any-aff"))
        self.refresh()

    # -- public -------------------------------------------------------------------
    def sessions(self) -> list[str]:
        return [self.sessions_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.sessions_list.count())
                if self.sessions_list.item(i).checkState() == Qt.CheckState.Checked]

    def level(self) -> str:
        return self.level_combo.currentData()

    def current(self) -> QueueItem | None:
        row = self.queue_list.currentRow()
        return self.queue[row] if 0 <= row < len(self.queue) else None

    def refresh(self, keep_row: int = 0) -> None:
        """Rebuild the queue from the store (after an adjudication, or other sessions chosen)."""
        sessions = self.sessions()
        self.queue_list.blockSignals(True)
        self.queue_list.clear()
        self.queue = []
        if len(sessions) < 2:
            self.count_label.setText("Choose at least two reading sessions")
        else:
            try:
                self.queue = disagreement_queue(self.project, sessions, self.level())
            except READ_ERRORS as exc:
                self.count_label.setText(f"No queue: {exc}")
            else:
                self.count_label.setText(f"{len(self.queue)} disagreement(s) to settle")
        for q in self.queue:
            calls = ", ".join(f"{s}: {lab}" for s, lab in q.calls.items())
            what = f"{len(q.image_ids)} images" if len(q.image_ids) > 1 else f"image #{q.image_ids[0]}"
            self.queue_list.addItem(f"{q.patient_key} · {what} · {calls}")
        self.queue_list.blockSignals(False)
        if self.queue:
            self.queue_list.setCurrentRow(min(keep_row, len(self.queue) - 1))
        else:
            self._show_item(-1)

    def settle(self, label: str) -> None:
        """Set ``label`` as the consensus of the current item and go to the next one."""
        item = self.current()
        if item is None:
            return
        row = self.queue_list.currentRow()
        try:
            done = adjudicate(self.project, list(item.image_ids), label, self.adjudicator, self.sessions())
        except READ_ERRORS as exc:
            self.message.setText(f"Not adjudicated: {exc}")
            return
        self.message.setText(f"{item.patient_key}: consensus {label} on {len(done)} image(s), "
                             f"settling {sum(len(a.read_ids) for a in done)} read(s)")
        self.sigAdjudicated.emit(done)
        self.refresh(keep_row=row)

    def apply_rule(self, rule: str) -> None:
        try:
            result = auto_adjudicate(self.project, self.sessions(), rule, level=self.level())
        except READ_ERRORS as exc:
            self.message.setText(f"Rule not applied: {exc}")
            return
        self.message.setText(f"{rule}: {len(result.settled)} image(s) settled, {len(result.queued)} "
                             "tie(s) left in the queue"
                             + (f", {result.skipped_incomplete} not read in every session"
                                if result.skipped_incomplete else ""))
        if result.settled:
            self.sigAdjudicated.emit(list(result.settled))
        self.refresh()

    def closeEvent(self, event) -> None:
        self.viewer.wait(5000)
        super().closeEvent(event)

    # -- internals --------------------------------------------------------------------
    def _step(self, by: int) -> None:
        if self.queue:
            self.queue_list.setCurrentRow(max(0, min(self.queue_list.currentRow() + by, len(self.queue) - 1)))

    def _show_item(self, row: int) -> None:
        item = self.queue[row] if 0 <= row < len(self.queue) else None
        self.reads_table.setRowCount(0)
        if item is None:
            self.viewer.show_image(None)
            self.calls_label.setText("Nothing to settle" if self.sessions() else "")
            return
        self.viewer.show_image(self.project.images.get(item.image_ids[0]))
        current = ", ".join(f"#{i}: {lab or 'unlabelled'}" for i, lab in item.current_labels.items())
        calls = " · ".join(f"{esc(s)}: {theme.badge_html(lab) if lab in theme.LABEL_COLORS else esc(lab)}"
                           for s, lab in item.calls.items())
        keys = " / ".join(f"{a.shortcut().toString()} {lab}" for lab, a in self.set_actions.items())
        self.calls_label.setText(f"<b>{esc(item.patient_key)}</b> · calls: {calls}<br>"
                                 f"current label: {esc(current)}<br>"
                                 f"<span style='color:{theme.TEXT_DIM}'>Set the consensus: {keys}; "
                                 "Space next</span>")
        views = {i: self.project.images.get(i).view for i in item.image_ids}
        sessions = {s.name: s.reader for s in list_sessions(self.project)}
        for r in item.reads:
            n = self.reads_table.rowCount()
            self.reads_table.insertRow(n)
            values = (r.session, sessions.get(r.session, r.reader), f"#{r.image_id}",
                      views.get(r.image_id) or "", r.label, "" if r.confidence is None else str(r.confidence),
                      "" if r.seconds is None else f"{r.seconds:.1f}")
            for c, v in enumerate(values):
                self.reads_table.setItem(n, c, QTableWidgetItem(v))
