"""Remappable keys: the commands a reader may rebind, their defaults, and the Settings flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog

from affgui.settings import save_settings
from affgui.widgets.settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from affgui.shell import WindowShell

PORTABLE = QKeySequence.SequenceFormat.PortableText


def command_actions(window: WindowShell) -> dict[str, QAction]:
    """``name -> action`` of every command with a remappable key, in the dialog's order."""
    a = window.menu_actions
    actions = {f"label.{label}": action for label, action in a.labels.items()}
    actions["label.clear"] = a.clear_label
    actions.update({f"patient.{label}": action for label, action in a.patient_labels.items()})
    actions.update({"undo": a.undo, "redo": a.redo, "next": a.next_image,
                    "previous": a.previous_image})
    actions.update({f"view.{action.objectName()}": action
                    for action in window.viewer.actions_for_menu()})
    actions["view.compare"] = window.compare.action
    actions["view.compareHeatmaps"] = window.heatmaps.action
    return actions


def current_keys(actions: dict[str, QAction]) -> dict[str, str]:
    return {name: action.shortcut().toString(PORTABLE) for name, action in actions.items()}


class KeyMap:
    """Applies the reader's key bindings (settings) over the built-in defaults."""

    def __init__(self, window: WindowShell):
        self.window = window
        self.actions = command_actions(window)
        self.defaults = current_keys(self.actions)
        self._default_lists = {n: a.shortcuts() for n, a in self.actions.items()}
        self.apply(window.settings.key_bindings)

    def apply(self, bindings: dict[str, str]) -> None:
        """Give each command its bound key; commands not in ``bindings`` get their defaults."""
        for name, action in self.actions.items():
            if name in bindings:
                action.setShortcut(QKeySequence(bindings[name]))
            else:
                action.setShortcuts(self._default_lists[name])

    def set_bindings(self, keys: dict[str, str]) -> None:
        """Store (only the changed keys) and apply ``keys``, a full ``name -> key`` map."""
        changed = {n: k for n, k in keys.items() if n in self.actions and k != self.defaults[n]}
        self.window.settings.key_bindings = changed
        save_settings(self.window.settings)
        self.apply(changed)

    def dialog(self) -> SettingsDialog:
        w = self.window
        commands = [(name, action.text().replace("&", ""), action.shortcut().toString(PORTABLE))
                    for name, action in self.actions.items()]
        mine = set(self.actions.values())
        reserved = {key.toString(PORTABLE): action.text().replace("&", "")
                    for action in w.findChildren(QAction)
                    if action not in mine
                    and action.shortcutContext() != Qt.ShortcutContext.WidgetWithChildrenShortcut
                    for key in action.shortcuts()}
        return SettingsDialog(w.settings.reader, w.settings.auto_advance, commands,
                              self.defaults, w, reserved=reserved)

    def edit(self) -> SettingsDialog:
        """Open the Settings dialog (non-blocking); OK stores and applies its choices."""
        dialog = self.dialog()

        def done(result: int) -> None:
            if result == QDialog.DialogCode.Accepted:
                self.set_bindings(dialog.bindings())
                self.window.set_reader(dialog.reader_edit.text())
                self.window.menu_actions.auto_advance.setChecked(
                    dialog.auto_advance_box.isChecked())

        dialog.finished.connect(done)
        dialog.open()
        return dialog
