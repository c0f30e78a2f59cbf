"""The :class:`Shell` protocol: all a part may ask of the window it lives in.

A part is built from ``(session, shell)``: the :class:`~affgui.session.ProjectSession` is
its model, the shell gives it room (a dock, a menu entry) and a voice (a status line, an
error box). :class:`~affgui.main_window.MainWindow` implements it; a part never imports
the window, so a test can hand a part any object with these methods and a ``registry``.
A part's actions are the registry's (:mod:`affgui.menus` declares each with its keys):
``shell.registry.action("view.compare")``, placed with :meth:`Shell.add_action`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QWidget

if TYPE_CHECKING:
    from affgui.menus import ActionRegistry


@runtime_checkable
class Shell(Protocol):
    """Docks, menu entries, a status line and error boxes: the window as a part sees it."""

    registry: ActionRegistry  # the window's actions by command name (affgui.menus)

    def add_dock(self, widget: QWidget, name: str, title: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                 visible: bool = True) -> QDockWidget:
        """Put ``widget`` in a dock named ``name`` (saved layouts find it by that name);
        its show/hide action goes into the View menu."""
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

    def add_status_widget(self, widget: QWidget) -> None:
        """A permanent widget at the right of the status bar (the status part's labels)."""
        ...


@runtime_checkable
class WindowShell(Shell, Protocol):
    """The shell as the parts not yet moved onto the session still see it.

    The experiments, heatmaps, reads, key-map, prediction-info and project-flow parts
    read the browser's widgets (grid, viewer, filter bar) and the menus through these names.
    Each is a step to undo: a part that needs only the session and :class:`Shell` takes those.
    """

    session: Any
    grid: Any
    viewer: Any
    filter_bar: Any
    menu_actions: Any
    compare: Any
    heatmaps: Any
    sigProjectChanged: Any
    sigRowsChanged: Any

    @property
    def project(self) -> Any: ...

    @property
    def settings(self) -> Any: ...

    @property
    def tasks(self) -> Any: ...

    def current_row(self) -> Any: ...

    def reload_rows(self) -> None: ...

    def set_reader(self, name: str) -> None: ...
