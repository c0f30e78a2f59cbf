"""The :class:`Shell` protocol: all a part may ask of the window it lives in.

A part is built from ``(session, shell)``: the :class:`~affgui.session.ProjectSession` is
its model, the shell gives it room (a dock, a menu entry) and a voice (a status line, an
error box). :class:`~affgui.main_window.MainWindow` implements it; a part never imports
the window, so a test can hand a part any object with these methods and a ``registry``.
A part's actions are the registry's (:mod:`affgui.menus` declares each with its keys):
``shell.registry.action("view.compare")``, placed with :meth:`Shell.add_action`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

if TYPE_CHECKING:
    from affgui.menus import ActionRegistry


@runtime_checkable
class Shell(Protocol):
    """Docks, menu entries, a status line and error boxes: the window as a part sees it."""

    registry: ActionRegistry  # the window's actions by command name (affgui.menus)

    def add_dock(self, widget: QWidget, name: str, title: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                 visible: bool = True, view_menu: bool = True) -> QDockWidget:
        """Put ``widget`` in a dock named ``name`` (saved layouts find it by that name); its
        show/hide action goes into the View menu (unless ``view_menu`` is False: the part
        places it itself)."""
        ...

    def add_menu(self, name: str, title: str) -> QMenu:
        """The top-level menu ``name`` (``"file"``, ``"label"``, ``"view"``, ``"experiments"``,
        ...), made with ``title`` before the Help menu when it does not exist yet."""
        ...

    def add_action(self, action: QAction, menu: str | None = None) -> None:
        """Add ``action`` (declared in :mod:`affgui.menus`) to the menu named ``menu``
        (``"view"``, ``"experiments"``, ...) or, with ``None``, to the window alone (its key)."""
        ...

    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        """A line in the status bar (``0``: until the next one)."""
        ...

    def show_error(self, title: str, error: object) -> None:
        """A non-blocking error box (and the text in the status bar)."""
        ...

    def add_status_widget(self, widget: QWidget, permanent: bool = True, stretch: int = 0) -> None:
        """A widget in the status bar: permanent ones at the right (the status part's
        labels), others at the left, where messages show over them."""
        ...

    def dialog_parent(self) -> QWidget:
        """The widget a part's dialogs and windows belong to (they centre on it, close with it)."""
        ...

    def set_window_visible(self, visible: bool) -> None:
        """Hide the main window (a blind reading session) or show it again."""
        ...

    def window_visible(self) -> bool:
        ...
