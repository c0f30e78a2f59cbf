"""Label ▸ New Reading Session…: one reader reads a session's images, blind or open.

The reader sees the image and the patient's other views, nothing else in a blind session: no
current label, no prediction, no other reader's read, no patient ID or file path (the main
window, which shows all of those, is hidden while a blind session is open). The keys are the
labelling keys (A / N / U by default), so reading is as fast as labelling: a key stores the
read (committed at once, append-only, with the time the image was on screen) and moves on.
Sessions that ask for a confidence take a digit 1-5 first. Space / Shift+Space step.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from affgui import theme
from affgui.display import esc
from affgui.menus import CONFIDENCES, ActionRegistry, make_action, without_keys
from affgui.parts.reads._common import READ_ERRORS, blind_row, view_button
from affgui.widgets.image_viewer import ImageViewerWidget
from engine.reads import READ_LABELS, ReadingSession, ReadItem, next_unread, reading_items, record_read
from engine.store import Project


class ReadingWindow(QWidget):
    """Reads one reading session, image by image, from the keyboard."""

    sigRead = Signal(object)  # the stored Read
    sigFinished = Signal(str)  # session name: every image has a read
    sigClosed = Signal()

    def __init__(self, project: Project, session: ReadingSession,
                 registry: ActionRegistry | None = None, parent: QWidget | None = None):
        """``registry``: the main window's (its label keys, remapped, are the read keys)."""
        super().__init__(parent, Qt.WindowType.Window)
        self.project = project
        self.session = session
        self.items: list[ReadItem] = reading_items(project, session)
        self.position = 0
        self.confidence: int | None = None
        self._clock = QElapsedTimer()
        self.setWindowTitle(f"Reading session {session.name} ({'blind' if session.blind else 'open'}) "
                            f"· reader {session.reader}")
        self.resize(1100, 850)

        make = registry.make if registry is not None else make_action  # affgui.menus declares the keys
        # the digits are the confidence keys here: the viewer's 1:1 stays a toolbar button
        self.viewer = ImageViewerWidget(actions=without_keys(make, [str(d) for d in CONFIDENCES]))
        self.viewer.set_cache(project.cache)
        self.viewer.label_badge = not session.blind
        self.header = QLabel()
        self.header.setObjectName("readingHeader")
        self.status = QLabel()
        self.status.setObjectName("readingStatus")
        self.views = QHBoxLayout()
        self.views.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addLayout(self.views)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.viewer, 1)
        layout.addWidget(self.status)
        self._view_buttons = []

        self.read_actions: dict[str, QAction] = {}
        for label in READ_LABELS:
            action = make(f"read.{label}", self)
            action.triggered.connect(lambda _=False, lab=label: self.read(lab))
            self.addAction(action)
            self.read_actions[label] = action
        for digit in CONFIDENCES:
            action = make(f"read.confidence{digit}", self)
            action.triggered.connect(lambda _=False, d=digit: self.set_confidence(d))
            self.addAction(action)
        for name, step in (("read.next", 1), ("read.previous", -1)):
            action = make(name, self)
            action.triggered.connect(lambda _=False, s=step: self.step(s))
            self.addAction(action)
        start = next_unread(project, session)
        self.show_position(0 if start is None else start)

    # -- public -------------------------------------------------------------------
    @property
    def item(self) -> ReadItem | None:
        return self.items[self.position] if 0 <= self.position < len(self.items) else None

    def show_position(self, position: int, image_id: int | None = None) -> None:
        """Show item ``position`` (or, with ``image_id``, one of its patient's other views)."""
        self.position = max(0, min(position, len(self.items) - 1))
        self.confidence = None
        item = self.item
        if item is None:
            self.viewer.show_image(None)
            return
        shown = item.image_id if image_id is None else image_id
        row = self.project.images.get(shown)
        self.viewer.show_image(blind_row(row, item) if self.session.blind else row)
        self._clock.start()
        self._fill_views(item, shown)
        self._update_text()

    def set_confidence(self, value: int) -> None:
        self.confidence = value
        self._update_text()

    def read(self, label: str) -> None:
        """Store the reader's ``label`` for the current image and go to the next one."""
        item = self.item
        if item is None:
            return
        if self.session.confidence and self.confidence is None:
            self.status.setText("This session asks for a confidence: press 1 (a guess) to 5 (certain), "
                                f"then the {label} key")
            return
        try:
            stored = record_read(self.project, self.session, item.image_id, label, self.confidence,
                                 self._clock.elapsed() / 1000.0)
        except READ_ERRORS as exc:
            self.status.setText(f"The read was not saved: {exc}")
            return
        self.items[self.position] = _with_read(item, stored)
        self.sigRead.emit(stored)
        if all(i.own_read is not None for i in self.items):
            self.sigFinished.emit(self.session.name)
        if self.position < len(self.items) - 1:
            self.show_position(self.position + 1)
        else:
            self._update_text()
            self.status.setText(f"Last image read: {self._done()} of {len(self.items)} read")

    def step(self, by: int) -> None:
        self.show_position(self.position + by)

    def closeEvent(self, event) -> None:
        self.viewer.wait(5000)
        self.sigClosed.emit()
        super().closeEvent(event)

    # -- internals --------------------------------------------------------------------
    def _done(self) -> int:
        return sum(i.own_read is not None for i in self.items)

    def _fill_views(self, item: ReadItem, shown: int) -> None:
        for b in self._view_buttons:
            self.views.removeWidget(b)
            b.deleteLater()
        self._view_buttons = []
        if len(item.patient_image_ids) < 2:
            return
        for image_id in item.patient_image_ids:
            row = self.project.images.get(image_id)
            b = view_button(self.project, row, row.view or "view ?")
            b.setChecked(image_id == shown)
            b.setToolTip("The patient's other view (read it when the session reaches it)"
                         if image_id != item.image_id else "The image being read")
            b.clicked.connect(lambda _=False, i=image_id: self.show_position(self.position, i))
            self.views.addWidget(b)
            self._view_buttons.append(b)

    def _update_text(self) -> None:
        item = self.item
        done, n = self._done(), len(self.items)
        if item is None:
            return
        own = item.own_read
        read = (f" · your read: <b>{esc(own.label)}</b>"
                + (f" ({own.confidence})" if own.confidence else "") if own is not None else "")
        conf = "" if not self.session.confidence else (
            f" · confidence: <b>{self.confidence}</b>" if self.confidence else " · confidence: press 1-5")
        self.header.setText(f"<b>{esc(item.patient)}</b> · image {self.position + 1} of {n} · "
                            f"{esc(item.view or 'view ?')}{read}{conf}")
        keys = " / ".join(f"{a.shortcut().toString()} {lab}" for lab, a in self.read_actions.items())
        self.status.setText(f"{done} of {n} read · {keys} · Space next, Shift+Space back")
        self.status.setStyleSheet(f"color: {theme.TEXT_DIM};")


def _with_read(item: ReadItem, read) -> ReadItem:
    import dataclasses

    return dataclasses.replace(item, own_read=read)
