"""Label changes with undo/redo: a QUndoStack whose commands write the store's history.

Every change is written at once (``project.labels.set_many`` / ``set_each``, one
SQLite transaction) and then pushed as one :class:`LabelCommand`, so a
patient-level label is one undo step. Undo reverts each image through
``labels.undo(reader, image_id)`` (source ``undo``, linked to the row it
undoes); redo writes the new labels again with source ``gui``. When the
session's stack is spent, Ctrl+Z goes on through the reader's earlier changes
in the store (``labels.undo(reader)``), as before the stack existed. The
store's history stays append-only and shows every step, undo included.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.store import LabelChange, NothingToUndo, Project

STORE_ERRORS = (sqlite3.Error, KeyError, ValueError)


class LabelCommand(QUndoCommand):
    """One user step: the label changes it made, as the store reported them."""

    def __init__(self, editor: LabelEditor, changes: list[LabelChange], text: str):
        super().__init__(text)
        self._editor = editor
        self.changes = changes
        self._written = True  # the store already holds the change when it is pushed

    def redo(self) -> None:
        if self._written:
            self._written = False
            return
        self._editor.write({c.image_id: c.new_label for c in self.changes}, "gui", self.text())

    def undo(self) -> None:
        self._editor.revert([c.image_id for c in self.changes], f"Undone: {self.text()}")


class LabelEditor(QObject):
    """Writes labels for the open project and keeps the session's undo stack."""

    sigLabelsApplied = Signal(list, str)  # LabelChanges written by undo/redo, description
    sigFailed = Signal(str, object)  # title, exception

    def __init__(self, reader: Callable[[], str], parent: QObject | None = None):
        super().__init__(parent)
        self._reader = reader
        self.project: Project | None = None
        self.stack = QUndoStack(self)

    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.stack.clear()

    def label(self, image_ids: Iterable[int], label: str | None, text: str) -> list[LabelChange]:
        """Set ``label`` on ``image_ids`` now and push it as one undo step."""
        if self.project is None:
            return []
        try:
            changes = self.project.labels.set_many(list(image_ids), label, self._reader(), "gui")
        except STORE_ERRORS as exc:
            self.sigFailed.emit("The label was not saved", exc)
            return []
        if changes:
            self.stack.push(LabelCommand(self, changes, text))
        return changes

    def confirm(self, image_ids: Iterable[int]) -> list[LabelChange]:
        """Record a ``confirm`` (same label, source ``gui``) for each labelled image; no undo step."""
        if self.project is None:
            return []
        try:
            return self.project.labels.confirm(list(image_ids), self._reader(), "gui")
        except STORE_ERRORS as exc:
            self.sigFailed.emit("The review was not saved", exc)
            return []

    def revert(self, image_ids: list[int], text: str) -> None:
        """Undo the latest change of each image through the store (linked by ``undoes``)."""
        if self.project is None:
            return
        changes = []
        try:
            for image_id in image_ids:
                changes.append(self.project.labels.undo(self._reader(), image_id=image_id))
        except (*STORE_ERRORS, NothingToUndo) as exc:
            self.sigFailed.emit("Undo failed", exc)
        self.sigLabelsApplied.emit(changes, text)

    def undo_earlier(self) -> LabelChange:
        """Undo the reader's latest change not undone yet, from an earlier session."""
        return self.project.labels.undo(self._reader())

    def write(self, labels: dict[int, str | None], source: str, text: str) -> None:
        """Write labels for an undo or redo step and report what changed."""
        if self.project is None:
            return
        try:
            changes = self.project.labels.set_each(labels, self._reader(), source)
        except STORE_ERRORS as exc:
            self.sigFailed.emit("Undo/redo failed", exc)
            return
        self.sigLabelsApplied.emit(changes, text)
