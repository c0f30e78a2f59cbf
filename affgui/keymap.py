"""Remappable keys: the Settings flow over the action registry's remappable commands.

The commands, their default keys and which a reader may rebind are declared in
:mod:`affgui.menus` (:data:`~affgui.menus.COMMANDS`); the registry applies the bindings.
This part only lists them in the Settings dialog and stores what the reader changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog

from affgui.menus import PORTABLE
from affgui.settings import save_settings
from affgui.widgets.settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from affgui.shell import WindowShell


class KeyMap:
    """Edits the reader's key bindings (settings) over the registry's built-in defaults."""

    def __init__(self, window: WindowShell):
        self.window = window
        self.registry = window.registry
        self.actions = self.registry.remappable()
        self.defaults = self.registry.defaults()

    def apply(self, bindings: dict[str, str]) -> None:
        """Give each command its bound key; commands not in ``bindings`` get their defaults."""
        self.registry.apply(bindings)

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
        return SettingsDialog(w.settings.reader, w.settings.auto_advance, commands,
                              self.defaults, w, reserved=self.registry.reserved())

    def edit(self) -> SettingsDialog:
        """Open the Settings dialog (non-blocking); OK stores and applies its choices."""
        dialog = self.dialog()

        def done(result: int) -> None:
            if result == QDialog.DialogCode.Accepted:
                self.set_bindings(dialog.bindings())
                self.window.set_reader(dialog.reader_edit.text())
                self.registry.action("label.autoAdvance").setChecked(
                    dialog.auto_advance_box.isChecked())

        dialog.finished.connect(done)
        dialog.open()
        return dialog
