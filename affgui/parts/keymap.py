"""Remappable keys: the Settings flow over the action registry's remappable commands.

The commands, their default keys and which a reader may rebind are declared in
:mod:`affgui.menus` (:data:`~affgui.menus.COMMANDS`); the registry applies the bindings.
This part only lists them in the Settings dialog and stores what the reader changed.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog

from affgui.menus import PORTABLE
from affgui.session import ProjectSession
from affgui.settings import save_settings
from affgui.shell import Shell
from affgui.widgets.settings_dialog import SettingsDialog


class KeyMap(QObject):
    """Edits the reader's key bindings (settings) over the registry's built-in defaults.

    Built from ``(session, shell)``; File > Settings… opens its dialog."""

    def __init__(self, session: ProjectSession, shell: Shell):
        super().__init__(session)
        self.session, self.shell = session, shell
        self.registry = shell.registry
        self.actions = self.registry.remappable()
        self.defaults = self.registry.defaults()
        self.registry.action("file.settings").triggered.connect(lambda: self.edit())

    def apply(self, bindings: dict[str, str]) -> None:
        """Give each command its bound key; commands not in ``bindings`` get their defaults."""
        self.registry.apply(bindings)

    def set_bindings(self, keys: dict[str, str]) -> None:
        """Store (only the changed keys) and apply ``keys``, a full ``name -> key`` map."""
        changed = {n: k for n, k in keys.items() if n in self.actions and k != self.defaults[n]}
        self.session.settings.key_bindings = changed
        save_settings(self.session.settings)
        self.apply(changed)

    def dialog(self) -> SettingsDialog:
        settings = self.session.settings
        commands = [(name, action.text().replace("&", ""), action.shortcut().toString(PORTABLE))
                    for name, action in self.actions.items()]
        return SettingsDialog(settings.reader, settings.auto_advance, commands,
                              self.defaults, self.shell.dialog_parent(), reserved=self.registry.reserved())

    def edit(self) -> SettingsDialog:
        """Open the Settings dialog (non-blocking); OK stores and applies its choices."""
        dialog = self.dialog()

        def done(result: int) -> None:
            if result == QDialog.DialogCode.Accepted:
                self.set_bindings(dialog.bindings())
                self.session.set_reader(dialog.reader_edit.text())
                self.registry.action("label.autoAdvance").setChecked(
                    dialog.auto_advance_box.isChecked())

        dialog.finished.connect(done)
        dialog.open()
        return dialog
