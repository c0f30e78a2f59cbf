"""The main window's actions and menus, in one place with their shortcuts."""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QToolBar, QWidget

from affgui import __version__

# Label key -> stored label (None clears). The order is the Label menu's.
LABEL_KEYS: tuple[tuple[str, str | None, str], ...] = (
    ("A", "AFF", "&AFF (atypical)"),
    ("N", "NFF", "&NFF (normal)"),
    ("U", "uncertain", "&Uncertain"),
    ("X", "exclude", "E&xclude"),
)


@dataclass
class Actions:
    new_project: QAction
    open_project: QAction
    open_demo: QAction
    import_images: QAction
    rebuild_cache: QAction
    close_project: QAction
    quit: QAction
    clear_label: QAction
    undo: QAction
    redo: QAction
    export_history: QAction
    next_image: QAction
    previous_image: QAction
    auto_advance: QAction
    reader_name: QAction
    refresh: QAction
    about: QAction
    settings: QAction
    recent_menu: QMenu
    labels: dict[str, QAction] = field(default_factory=dict)
    patient_labels: dict[str, QAction] = field(default_factory=dict)
    view_menu: QMenu | None = None
    reset_layout: QAction | None = None  # View > Reset Layout (the docks as first shipped)

    def project_actions(self) -> list[QAction]:
        """Actions that need an open project."""
        return [self.import_images, self.rebuild_cache, self.close_project, self.clear_label,
                self.undo, self.redo,
                self.export_history, self.next_image, self.previous_image, self.refresh,
                *self.labels.values(), *self.patient_labels.values()]


def _action(window: QMainWindow, text: str, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        else:
            action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
    return action


def build_menus(window: QMainWindow, view_actions: list[QAction]) -> Actions:
    """Create the menu bar of ``window``; ``view_actions`` come from the image viewer."""
    a = Actions(
        new_project=_action(window, "&New Project…", QKeySequence.StandardKey.New,
                            "Create an empty project folder (.affproj)"),
        open_project=_action(window, "&Open Project…", QKeySequence.StandardKey.Open,
                             "Open a project folder (.affproj)"),
        open_demo=_action(window, "Open &Demo Project",
                          tip="Open the phantom demo study (built on first use)"),
        import_images=_action(window, "&Import Images…", "Ctrl+I",
                              "Add a folder of radiographs, optionally with a manifest CSV"),
        rebuild_cache=_action(window, "Re&build Pixel Cache",
                              tip="Decode the source files again where cached pixels are missing"),
        close_project=_action(window, "&Close Project", QKeySequence.StandardKey.Close),
        quit=_action(window, "&Quit", QKeySequence.StandardKey.Quit),
        clear_label=_action(window, "&Clear Label", ["Backspace", "Delete"],
                            "Remove the current image's label"),
        undo=_action(window, "&Undo Label Change", "Ctrl+Z", "Revert your latest label change"),
        redo=_action(window, "&Redo Label Change", ["Ctrl+Shift+Z", "Ctrl+Y"],
                     "Apply the label change you undid again"),
        export_history=_action(window, "&Export Label History CSV…",
                               tip="Write every label change (who, what, when) to a CSV file"),
        next_image=_action(window, "Ne&xt Image", "Space"),
        previous_image=_action(window, "&Previous Image", "Shift+Space"),
        auto_advance=_action(window, "A&uto-advance After Labelling",
                             tip="Move to the next image after a label key"),
        reader_name=_action(window, "&Reader Name…",
                            tip="The name stored with every label change"),
        refresh=_action(window, "Re&fresh List", QKeySequence.StandardKey.Refresh,
                        "Re-read the image list (and labels other programs changed)"),
        about=_action(window, "&About AFF Workbench"),
        settings=_action(window, "&Settings…", "Ctrl+,",
                         "Reader name, auto-advance and keyboard shortcuts"),
        recent_menu=QMenu("Open &Recent", window),
    )
    a.auto_advance.setCheckable(True)
    for key, label, text in LABEL_KEYS:
        a.labels[label] = _action(window, text, key, f"Label the current image {label}")
        a.patient_labels[label] = _action(
            window, f"Patient: {text.replace('&', '')}", f"Shift+{key}",
            f"Label every image of the current patient {label} (one undo step)")

    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([a.new_project, a.open_project, a.open_demo])
    file_menu.addMenu(a.recent_menu)
    file_menu.addSeparator()
    file_menu.addActions([a.import_images, a.rebuild_cache, a.export_history])
    file_menu.addSeparator()
    file_menu.addAction(a.settings)
    file_menu.addSeparator()
    file_menu.addActions([a.close_project, a.quit])

    label_menu = bar.addMenu("&Label")
    label_menu.addActions(list(a.labels.values()))
    label_menu.addAction(a.clear_label)
    label_menu.addSeparator()
    label_menu.addActions(list(a.patient_labels.values()))
    label_menu.addSeparator()
    label_menu.addActions([a.undo, a.redo])
    label_menu.addSeparator()
    label_menu.addActions([a.next_image, a.previous_image, a.auto_advance, a.reader_name])

    view_menu = bar.addMenu("&View")
    view_menu.addActions(view_actions)
    view_menu.addSeparator()
    view_menu.addAction(a.refresh)
    a.reset_layout = _action(window, "Reset &Layout", tip="Docks and panes back to their first layout")
    view_menu.addAction(a.reset_layout)
    view_menu.addSeparator()
    a.view_menu = view_menu

    bar.addMenu("&Help").addAction(a.about)
    return a


def build_toolbar(window: QMainWindow, a: Actions) -> QToolBar:
    """The labelling toolbar (left edge, so the grid keeps its height)."""
    bar = QToolBar("Labelling", window)
    bar.setObjectName("labelToolBar")  # saveState/restoreState find it by name
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for label, action in a.labels.items():
        action.setIconText({"uncertain": "UNC", "exclude": "EXC"}.get(label, label))
        bar.addAction(action)
    a.clear_label.setIconText("Clear")
    a.undo.setIconText("Undo")
    a.redo.setIconText("Redo")
    bar.addActions([a.clear_label])
    bar.addSeparator()
    bar.addActions([a.undo, a.redo])
    window.addToolBar(Qt.ToolBarArea.LeftToolBarArea, bar)
    return bar


def fill_recent_menu(menu: QMenu, paths: list[str], open_project: Callable[[str], None]) -> None:
    """(Re)fill File > Open Recent, newest first."""
    menu.clear()
    for path in paths:
        menu.addAction(path, partial(open_project, path))
    if not paths:
        menu.addAction("(none)").setEnabled(False)


def versions() -> dict[str, str]:
    """Versions of the application and the libraries it shows images with."""
    import numpy
    import pyqtgraph
    import PySide6
    from PySide6.QtCore import qVersion

    return {"AFF Workbench": __version__, "Python": platform.python_version(),
            "Qt": qVersion(), "PySide6": PySide6.__version__, "pyqtgraph": pyqtgraph.__version__,
            "NumPy": numpy.__version__, "platform": platform.platform(terse=True)}


def show_about(parent: QWidget, reader: str) -> QMessageBox:
    rows = "".join(f"<tr><td>{k}</td><td>&nbsp;{v}</td></tr>" for k, v in versions().items())
    box = QMessageBox(QMessageBox.Icon.Information, "About AFF Workbench", "", parent=parent)
    box.setText("<b>AFF Workbench</b>: atypical vs normal femur fracture studies: labelling, "
                f"CNN vs ViT comparison, heatmaps.<br>Reader: {reader}<table>{rows}</table>")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
