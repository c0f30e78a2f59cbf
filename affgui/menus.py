"""The action registry: every command of the GUI, its default key(s) and its menu, in one table.

:data:`COMMANDS` declares each command once (name, text, keys, menu, tips, whether a reader
may rebind it). :class:`ActionRegistry`, owned by the main window and handed to its parts
(``shell.registry``), makes the window's one :class:`QAction` of each and applies the
reader's key bindings (``settings.key_bindings``) in one place, :meth:`ActionRegistry.apply`.
A part takes its action by name (``registry.action("view.compare")``) and never makes its
own with a key; a window of its own (the reading window, a second viewer) asks for a fresh
copy (``registry.make("read.AFF", parent)``). :class:`affgui.parts.keymap.KeyMap` lists
:meth:`ActionRegistry.remappable`. The rule for what may stay local is in docs/interfaces.md;
``tests/affgui/test_action_registry.py`` enforces it.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QToolBar, QWidget

from affgui import __version__
from engine.reads import READ_LABELS

PORTABLE = QKeySequence.SequenceFormat.PortableText
Key = str | QKeySequence.StandardKey

# Label key -> stored label (None clears). The order is the Label menu's.
LABEL_KEYS: tuple[tuple[str, str | None, str], ...] = (
    ("A", "AFF", "&AFF (atypical)"),
    ("N", "NFF", "&NFF (normal)"),
    ("U", "uncertain", "&Uncertain"),
    ("X", "exclude", "E&xclude"),
)
CONFIDENCES = range(1, 6)  # a confidence session's digits


@dataclass(frozen=True)
class Command:
    """One command: what its action says, which keys run it and where it is found.

    ``name`` is an interface: ``settings.key_bindings`` stores remapped keys under it
    (``{"label.AFF": "Q"}``). ``menu`` is the title (without ``&``) of the main window's
    menu the action is in (``None``: the window alone, or a window of its own).
    ``window=False`` marks a command of a window of its own (reading, adjudication), which
    that window makes with :meth:`ActionRegistry.make`; ``follows`` names a command whose
    current keys it takes (the reading keys are the labelling keys, remapped or not).
    """

    name: str
    text: str
    keys: tuple[Key, ...] = ()
    menu: str | None = None
    tip: str = ""  # the status-bar tip
    tooltip: str = ""  # the toolbar button's tooltip (the viewer's and Experiments' own)
    remappable: bool = False
    checkable: bool = False
    window: bool = True
    follows: str | None = None


def _viewer(name: str, text: str, key: str, tooltip: str = "", checkable: bool = False) -> Command:
    # the key-map names of the viewer's commands ("view.1_1", "view.rotate_90") were derived
    # from their texts once and are stored in readers' settings files: keep them
    return Command(f"view.{name}", text, (key,), "View", tooltip=tooltip or f"{text} ({key})",
                   remappable=True, checkable=checkable)


_STD = QKeySequence.StandardKey
_VIEWER: tuple[Command, ...] = (
    _viewer("fit", "Fit", "F", "Fit to window (F)"),
    _viewer("reset", "Reset", "R", "Reset window/level, rotation and flips, and fit (R)"),
    _viewer("1_1", "1:1", "1", "One cached pixel per screen pixel (1)"),
    _viewer("invert", "Invert", "I", checkable=True),
    _viewer("rotate_90", "Rotate 90°", "]", "Rotate 90° clockwise, display only (])"),
    _viewer("flip_horizontal", "Flip Horizontal", "H", "Mirror left-right, display only (H)"),
    _viewer("flip_vertical", "Flip Vertical", "V", "Mirror top-bottom, display only (V)"),
    _viewer("info", "Info", "O", "Show the metadata overlay (O)", checkable=True),
    _viewer("ruler", "Ruler", "M", "Distance ruler in mm (M)", checkable=True),
    _viewer("box", "Box", "B", "Draw a fracture box with the left mouse button (B)", checkable=True),
)
VIEWER_COMMANDS: tuple[str, ...] = tuple(c.name for c in _VIEWER)  # the image viewer's, in order


COMMANDS: tuple[Command, ...] = (
    # File
    Command("file.new", "&New Project…", (_STD.New,), "File",
            "Create an empty project folder (.affproj)"),
    Command("file.open", "&Open Project…", (_STD.Open,), "File", "Open a project folder (.affproj)"),
    Command("file.demo", "Open &Demo Project", (), "File",
            "Open the phantom demo study (built on first use)"),
    Command("file.import", "&Import Images…", ("Ctrl+I",), "File",
            "Add a folder of radiographs, optionally with a manifest CSV"),
    Command("file.rebuildCache", "Re&build Pixel Cache", (), "File",
            "Decode the source files again where cached pixels are missing"),
    Command("file.exportHistory", "&Export Label History CSV…", (), "File",
            "Write every label change (who, what, when) to a CSV file"),
    Command("file.settings", "&Settings…", ("Ctrl+,",), "File",
            "Reader name, auto-advance and keyboard shortcuts"),
    Command("file.close", "&Close Project", (_STD.Close,), "File"),
    Command("file.quit", "&Quit", (_STD.Quit,), "File"),
    # Label (the remappable ones first: the Settings dialog lists them in this order)
    *(Command(f"label.{label}", text, (key,), "Label", f"Label the current image {label}",
              remappable=True) for key, label, text in LABEL_KEYS),
    Command("label.clear", "&Clear Label", ("Backspace", "Delete"), "Label",
            "Remove the current image's label", remappable=True),
    *(Command(f"patient.{label}", f"Patient: {text.replace('&', '')}", (f"Shift+{key}",), "Label",
              f"Label every image of the current patient {label} (one undo step)", remappable=True)
      for key, label, text in LABEL_KEYS),
    Command("undo", "&Undo Label Change", ("Ctrl+Z",), "Label", "Revert your latest label change",
            remappable=True),
    Command("redo", "&Redo Label Change", ("Ctrl+Shift+Z", "Ctrl+Y"), "Label",
            "Apply the label change you undid again", remappable=True),
    Command("next", "Ne&xt Image", ("Space",), "Label", remappable=True),
    Command("previous", "&Previous Image", ("Shift+Space",), "Label", remappable=True),
    Command("label.autoAdvance", "A&uto-advance After Labelling", (), "Label",
            "Move to the next image after a label key", checkable=True),
    Command("label.readerName", "&Reader Name…", (), "Label",
            "The name stored with every label change"),
    Command("reads.new", "New &Reading Session…", ("Ctrl+Shift+R",), "Label",
            "Read images as one reader, blind or open, apart from the labels"),
    Command("reads.continue", "C&ontinue Reading Session…", (), "Label"),
    Command("reads.queue", "&Disagreement Queue…", (), "Label",
            "Where readers differ: their reads side by side, set the consensus"),
    # View: the image viewer's toolbar (the main viewer's actions are the window's)
    *_VIEWER,
    Command("view.compare", "&Compare (Pin Current Image)", ("C",), "View",
            "Show the current image beside the next one you choose, with linked zoom and pan",
            remappable=True, checkable=True),
    Command("view.compareHeatmaps", "Compare &Heatmaps…", ("Ctrl+H",), "View",
            "The current image with 2-4 experiments' heatmaps side by side", remappable=True),
    Command("view.refresh", "Re&fresh List", (_STD.Refresh,), "View",
            "Re-read the image list (and labels other programs changed)"),
    Command("view.resetLayout", "Reset &Layout", (), "View",
            "Docks and panes back to their first layout"),
    # Experiments
    Command("experiments.new", "&New Experiment…", ("Ctrl+E",), "Experiments"),
    Command("experiments.startWorkers", "&Start Workers", (), "Experiments"),
    Command("experiments.stopWorkers", "S&top Workers", (), "Experiments"),
    Command("experiments.autoStart", "Start a Worker &When Queueing", (), "Experiments",
            checkable=True),
    Command("experiments.cluster", "&Cluster Settings…", (), "Experiments",
            tooltip="Slurm partition, account, GPUs, time limit, … of this project"),
    # Help
    Command("help.about", "&About AFF Workbench", (), "Help"),
    # The reading window (affgui.parts.reads): its own keys, the labelling keys for the calls
    *(Command(f"read.{label}", f"Read {label}", (), window=False, follows=f"label.{label}")
      for label in READ_LABELS),
    *(Command(f"read.confidence{digit}", f"Confidence {digit}", (str(digit),), window=False)
      for digit in CONFIDENCES),
    Command("read.next", "Next Image", ("Space", "Right"), window=False),
    Command("read.previous", "Previous Image", ("Shift+Space", "Left"), window=False),
    # The disagreement queue (affgui.parts.reads): the labelling keys set the consensus
    *(Command(f"adjudicate.{label}", f"Consensus {label}", (), window=False,
              follows=f"label.{label}") for _key, label, _text in LABEL_KEYS),
    Command("adjudicate.next", "Next Item", ("Space",), window=False),
    Command("adjudicate.previous", "Previous Item", ("Shift+Space",), window=False),
    # The heatmap window (affgui.parts.heatmaps): steps through the browser's list, as the browser does
    Command("heatmaps.next", "Next Image", ("Right", "J", "PgDown", "Space"), window=False),
    Command("heatmaps.previous", "Previous Image", ("Left", "K", "PgUp", "Shift+Space"), window=False),
)
BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}


def default_keys(name: str) -> list[QKeySequence]:
    """The built-in keys of command ``name`` (those of the command it follows, if any)."""
    command = BY_NAME[name]
    if command.follows is not None:
        return default_keys(command.follows)
    return [QKeySequence(key) for key in command.keys]


def make_action(name: str, parent: QObject | None, keys: Iterable[QKeySequence] | None = None) -> QAction:
    """A new action of command ``name`` with ``keys`` (default: its built-in keys).

    The one place a :class:`QAction` gets a key (tests/affgui/test_action_registry.py).
    Without a registry (a window built alone in a test) the defaults are all there is.
    """
    command = BY_NAME[name]
    action = QAction(command.text, parent)
    action.setObjectName(name)
    action.setCheckable(command.checkable)
    action.setShortcuts(list(default_keys(name) if keys is None else keys))
    if command.tip:
        action.setStatusTip(command.tip)
    if command.tooltip:
        action.setToolTip(command.tooltip)
    return action


def without_keys(make: Callable[[str, QObject | None], QAction], taken: Iterable[str]
                 ) -> Callable[[str, QObject | None], QAction]:
    """An action source like ``make`` whose actions drop every key in ``taken``.

    For a window whose own commands hold keys a second viewer would also claim: in the
    reading window the digits are the confidence keys, so its viewer's 1:1 is a toolbar
    button only (two actions on one key and Qt runs neither).
    """
    taken = {QKeySequence(k).toString(PORTABLE) for k in taken}

    def source(name: str, parent: QObject | None) -> QAction:
        action = make(name, parent)
        action.setShortcuts([k for k in action.shortcuts() if k.toString(PORTABLE) not in taken])
        return action

    return source


class ActionRegistry(QObject):
    """The main window's action of every window command, with the reader's keys applied.

    Built once by the window (``parent``) with ``settings.key_bindings``; parts get it as
    ``shell.registry``.
    """

    def __init__(self, parent: QObject, bindings: dict[str, str] | None = None):
        super().__init__(parent)
        self._actions = {c.name: make_action(c.name, parent) for c in COMMANDS if c.window}
        self.apply(bindings or {})

    def action(self, name: str) -> QAction:
        """The window's action of command ``name`` (a ``KeyError`` names an undeclared one)."""
        return self._actions[name]

    def actions(self) -> dict[str, QAction]:
        """``name -> action`` of every window command, in the table's order."""
        return dict(self._actions)

    def remappable(self) -> dict[str, QAction]:
        """``name -> action`` of every command a reader may rebind, in the Settings dialog's order."""
        return {n: a for n, a in self._actions.items() if BY_NAME[n].remappable}

    def defaults(self) -> dict[str, str]:
        """The built-in (first) key of each remappable command, as portable text."""
        return {n: (default_keys(n) or [QKeySequence()])[0].toString(PORTABLE)
                for n in self.remappable()}

    def reserved(self) -> dict[str, str]:
        """``key -> command text`` of the window's fixed keys (no remapped key may take one)."""
        return {key.toString(PORTABLE): action.text().replace("&", "")
                for name, action in self._actions.items() if not BY_NAME[name].remappable
                for key in action.shortcuts()}

    def keys(self, name: str) -> list[QKeySequence]:
        """The keys command ``name`` runs on now (a followed command's, remapped or not)."""
        command = BY_NAME[name]
        source = command.follows or name
        if source in self._actions:
            keys = [k for k in self._actions[source].shortcuts() if not k.isEmpty()]
            if keys or command.follows is None:
                return keys
        return default_keys(name)

    def apply(self, bindings: dict[str, str]) -> None:
        """Give each remappable command its bound key; those not in ``bindings`` get their defaults."""
        for name, action in self.remappable().items():
            if name in bindings:
                action.setShortcut(QKeySequence(bindings[name]))
            else:
                action.setShortcuts(default_keys(name))

    def make(self, name: str, parent: QObject | None) -> QAction:
        """A new action of ``name`` for a window of its own (or a second viewer).

        It runs on the keys of the command it follows (the labelling keys, as remapped), else
        on its built-in keys: a second viewer keeps ``F``, ``R``, … whatever the main one has.
        """
        command = BY_NAME[name]
        return make_action(name, parent, self.keys(name) if command.follows else None)


@dataclass
class Actions:
    """The window's own actions by attribute (the registry's, under the names tests use)."""

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


def build_menus(window: QMainWindow, registry: ActionRegistry) -> Actions:
    """Create the menu bar of ``window`` from ``registry``'s actions."""
    r = registry.action
    a = Actions(
        new_project=r("file.new"), open_project=r("file.open"), open_demo=r("file.demo"),
        import_images=r("file.import"), rebuild_cache=r("file.rebuildCache"),
        close_project=r("file.close"), quit=r("file.quit"), clear_label=r("label.clear"),
        undo=r("undo"), redo=r("redo"), export_history=r("file.exportHistory"),
        next_image=r("next"), previous_image=r("previous"), auto_advance=r("label.autoAdvance"),
        reader_name=r("label.readerName"), refresh=r("view.refresh"), about=r("help.about"),
        settings=r("file.settings"), recent_menu=QMenu("Open &Recent", window),
        reset_layout=r("view.resetLayout"),
    )
    for _key, label, _text in LABEL_KEYS:
        a.labels[label] = r(f"label.{label}")
        a.patient_labels[label] = r(f"patient.{label}")

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
    view_menu.addActions([r(name) for name in VIEWER_COMMANDS])
    view_menu.addSeparator()
    view_menu.addAction(a.refresh)
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
