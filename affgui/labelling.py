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

import dataclasses
import sqlite3
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QInputDialog

from affgui.settings import save_settings
from engine.store import UNLABELLED, LabelChange, NothingToUndo, Project

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


class LabellingMixin:
    """The main window's label commands (it provides grid, editor, panels, counts)."""

    def set_label(self, label: str | None) -> None:
        """Store ``label`` (``None`` clears) for the current image; label keys advance."""
        image_id = self.current_image_id()
        if self.project is None or image_id is None:
            return
        if label is not None and label == self.project.labels.get(image_id):
            self._confirm(image_id)  # "looked at, agrees": a history row, not a no-op
        else:
            text = f"#{image_id} {label or 'cleared'}"
            self._apply_changes(self.editor.label([image_id], label, text))
        if label is not None and self.settings.auto_advance and self.outside_image is None:
            self.grid.select_next()

    def set_patient_label(self, label: str | None) -> None:
        """Store ``label`` for every image of the current image's patient (one undo step)."""
        row = self.current_row()
        if self.project is None or row is None:
            return
        ids = [r.id for r in self.project.images.patient_images(row.patient_key)]
        changes = self.editor.label(ids, label, f"patient {row.patient_key} {label}")
        self._apply_changes(changes)
        self.statusBar().showMessage(
            f"Patient {row.patient_key}: {len(changes)} of {len(ids)} images set to {label}", 4000)

    @Slot()
    def undo(self) -> None:
        """Revert the latest label step (this session's, then earlier ones) and show its image."""
        if self.editor.stack.canUndo():
            self.editor.stack.undo()
            return
        if self.project is None:
            return
        try:  # this session's stack is spent: go on through the reader's earlier changes
            change = self.editor.undo_earlier()
        except NothingToUndo:
            self.statusBar().showMessage("Nothing to undo", 3000)
            return
        except STORE_ERRORS as exc:
            self.show_error("Undo failed", exc)
            return
        self._on_history_step([change], f"Undone: #{change.image_id} (an earlier change)")

    @Slot()
    def redo(self) -> None:
        if not self.editor.stack.canRedo():
            self.statusBar().showMessage("Nothing to redo", 3000)
            return
        self.editor.stack.redo()

    def _on_history_step(self, changes: list, text: str) -> None:
        self._apply_changes(changes)
        if changes and not any(c.image_id == self.grid.current_image_id() for c in changes):
            self.grid.select_image(changes[0].image_id)
        self.statusBar().showMessage(text, 3000)

    def _confirm(self, image_id: int) -> None:
        confirmed = self.editor.confirm([image_id])
        if confirmed:
            self.reviewed.add(image_id)
            self._update_status()
            self.statusBar().showMessage(f"#{image_id} {confirmed[0].new_label}: confirmed", 3000)

    def _apply_changes(self, changes: list[LabelChange]) -> None:
        current = self.grid.current_image_id()
        outside = self.outside_image
        self.reviewed.update(c.image_id for c in changes if c.source == "gui")
        for change in changes:
            for key, step in ((change.old_label or UNLABELLED, -1),
                              (change.new_label or UNLABELLED, 1)):
                self.counts[key] = self.counts.get(key, 0) + step
            self.grid.set_label(change.image_id, change.new_label)
        self.panels.labels_changed(changes)
        if outside is not None and any(c.image_id == outside.id for c in changes):
            label = next(c.new_label for c in reversed(changes) if c.image_id == outside.id)
            self.show_outside_filter(dataclasses.replace(outside, label=label))
        elif any(c.image_id == current for c in changes):
            self._on_current_image_changed(current)
        self._update_status()

    def set_reader(self, name: str) -> None:
        if name.strip():
            self.settings.reader = name.strip()
            save_settings(self.settings)
            self.statusBar().showMessage(f"Labels are now saved as reader '{name.strip()}'", 4000)

    def _ask_reader_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Reader Name", "Name stored with your labels:",
                                        text=self.settings.reader)
        if ok:
            self.set_reader(name)
