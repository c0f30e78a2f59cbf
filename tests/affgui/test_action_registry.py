"""One action registry (issue 17): every QAction with a key is declared in affgui/menus.py.

The rule (docs/interfaces.md, "The action registry"): a part takes its actions from the
window's :class:`~affgui.menus.ActionRegistry` by command name; a window of its own asks it for
copies. Only a keyless action that lives in a part's own widget (a button row, a right-click
menu) may be made locally, and Qt's own toggle actions (docks, toolbars) are Qt's. The AST
scan below fails on anything else outside menus.py unless the allow-lists name it, with a reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

import affgui
from affgui.menus import BY_NAME, COMMANDS, PORTABLE, VIEWER_COMMANDS, ActionRegistry, make_action
from affgui.settings import get_settings

from .conftest import open_in

ROOT = Path(affgui.__file__).resolve().parent.parent
REGISTRY_FILE = "affgui/menus.py"

# Files that still make a QAction of their own (none with a key, unless LOCAL_KEYS says so).
LOCAL_ACTIONS = {
    "affgui/parts/experiments/job_queue.py": "the job table's button row and right-click menu: keyless, "
                                       "in the part's own widget, never in the menu bar",
    "affgui/widgets/image_viewer.py": "keyless_action: a viewer built without the registry has no keys "
                                      "(the widgets layer may not import affgui.menus)",
}
# Files that still give an action a key outside the registry: known exceptions, to remove.
LOCAL_KEYS: dict[str, str] = {}
KEY_METHODS = {"setShortcut", "setShortcuts"}

# The names readers' settings files store remapped keys under: an interface, pinned here.
REMAPPABLE = [
    "label.AFF", "label.NFF", "label.uncertain", "label.exclude", "label.clear",
    "patient.AFF", "patient.NFF", "patient.uncertain", "patient.exclude",
    "undo", "redo", "next", "previous",
    "view.fit", "view.reset", "view.1_1", "view.invert", "view.rotate_90", "view.flip_horizontal",
    "view.flip_vertical", "view.info", "view.ruler", "view.box", "view.compare",
    "view.compareHeatmaps",
]
_STD = QKeySequence.StandardKey
# Every default key as it was before the registry (docs/gui.md, Keys).
DEFAULT_KEYS = {
    "file.new": [_STD.New], "file.open": [_STD.Open], "file.import": ["Ctrl+I"],
    "file.settings": ["Ctrl+,"], "file.close": [_STD.Close], "file.quit": [_STD.Quit],
    "label.AFF": ["A"], "label.NFF": ["N"], "label.uncertain": ["U"], "label.exclude": ["X"],
    "label.clear": ["Backspace", "Delete"],
    "patient.AFF": ["Shift+A"], "patient.NFF": ["Shift+N"], "patient.uncertain": ["Shift+U"],
    "patient.exclude": ["Shift+X"],
    "undo": ["Ctrl+Z"], "redo": ["Ctrl+Shift+Z", "Ctrl+Y"], "next": ["Space"], "previous": ["Shift+Space"],
    "reads.new": ["Ctrl+Shift+R"],
    "view.fit": ["F"], "view.reset": ["R"], "view.1_1": ["1"], "view.invert": ["I"],
    "view.rotate_90": ["]"], "view.flip_horizontal": ["H"], "view.flip_vertical": ["V"],
    "view.info": ["O"], "view.ruler": ["M"], "view.box": ["B"],
    "view.compare": ["C"], "view.compareHeatmaps": ["Ctrl+H"], "view.refresh": [_STD.Refresh],
    "experiments.new": ["Ctrl+E"],
    "read.AFF": ["A"], "read.NFF": ["N"], "read.uncertain": ["U"],
    **{f"read.confidence{d}": [str(d)] for d in range(1, 6)},
    "read.next": ["Space", "Right"], "read.previous": ["Shift+Space", "Left"],
    "adjudicate.AFF": ["A"], "adjudicate.NFF": ["N"], "adjudicate.uncertain": ["U"],
    "adjudicate.exclude": ["X"], "adjudicate.next": ["Space"], "adjudicate.previous": ["Shift+Space"],
    "heatmaps.next": ["Right", "J", "PgDown", "Space"],
    "heatmaps.previous": ["Left", "K", "PgUp", "Shift+Space"],
}


def _texts(keys) -> list[str]:
    return [QKeySequence(k).toString(PORTABLE) for k in keys]


# -- the AST scan -------------------------------------------------------------------------
def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _makes_key(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and _called(n) == "QKeySequence" for n in ast.walk(node))


def scan(source: str) -> tuple[list[int], list[int]]:
    """Lines of ``source`` that make an action, and lines that give one a key."""
    makes, keys = [], []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _called(node)
        keywords = {k.arg for k in node.keywords}
        if name in ("QAction", "QShortcut"):
            makes.append(node.lineno)
            if name == "QShortcut" or keywords & {"shortcut", "shortcuts"}:
                keys.append(node.lineno)
        elif name in KEY_METHODS:
            keys.append(node.lineno)
        elif name == "addAction" and node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr):
            makes.append(node.lineno)  # QMenu.addAction("text", ...) makes an action
            if "shortcut" in keywords or any(_makes_key(a) for a in node.args[1:]):
                keys.append(node.lineno)
    return sorted(makes), sorted(keys)


def test_the_scan_sees_every_way_of_giving_an_action_a_key():
    source = ("a = QAction('x', w, shortcut=QKeySequence('F'))\n"
              "b = QAction(w, shortcuts=[QKeySequence('J')])\n"
              "c.setShortcut(QKeySequence('K'))\n"
              "d.setShortcuts([])\n"
              "QShortcut(QKeySequence('L'), w)\n"
              "menu.addAction('Go', slot, QKeySequence('M'))\n"
              "e = QAction('keyless', w)\n"
              "menu.addAction(action)\n"
              "menu.addAction(f'{name}')\n")
    makes, keys = scan(source)
    assert keys == [1, 2, 3, 4, 5, 6]
    assert makes == [1, 2, 5, 6, 7, 9]


def _affgui_files() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted((ROOT / "affgui").rglob("*.py"))}


def test_no_part_gives_an_action_a_key_outside_the_registry():
    found = {}
    for path, source in _affgui_files().items():
        makes, keys = scan(source)
        if path != REGISTRY_FILE and keys and path not in LOCAL_KEYS:
            found[path] = keys
    assert not found, ("actions given a key outside affgui/menus.py (declare the command in "
                       f"COMMANDS and take it from the registry): {found}")


def test_no_part_makes_an_action_the_allow_list_does_not_name():
    found = {}
    for path, source in _affgui_files().items():
        makes, _keys = scan(source)
        if path != REGISTRY_FILE and makes and path not in LOCAL_ACTIONS:
            found[path] = makes
    assert not found, f"QActions made outside affgui/menus.py: {found}"


@pytest.mark.parametrize("path", sorted({*LOCAL_ACTIONS, *LOCAL_KEYS}))
def test_each_allow_list_entry_is_still_needed(path):
    makes, keys = scan((ROOT / path).read_text(encoding="utf-8"))
    assert makes, f"{path} makes no QAction now: remove it from LOCAL_ACTIONS"
    if path in LOCAL_KEYS:
        assert keys, f"{path} gives no action a key now: remove it from LOCAL_KEYS"


# -- the table ------------------------------------------------------------------------------
def test_the_table_keeps_every_default_key():
    with_keys = {c.name: _texts(make_action(c.name, None).shortcuts()) for c in COMMANDS
                 if make_action(c.name, None).shortcuts()}
    assert with_keys == {name: _texts(keys) for name, keys in DEFAULT_KEYS.items()}
    assert len(BY_NAME) == len(COMMANDS)  # each name once
    assert all(BY_NAME[c.follows].window for c in COMMANDS if c.follows)
    assert all(BY_NAME[n].checkable == (n in {"view.invert", "view.info", "view.ruler", "view.box"})
               for n in VIEWER_COMMANDS)


# -- the built window -------------------------------------------------------------------------
def _menus(window) -> dict[str, QMenu]:
    return {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions() if a.menu()}


def _live(window) -> list[QAction]:
    """The window's actions whose keys work anywhere in it (not only inside one widget)."""
    return [a for a in window.findChildren(QAction)
            if a.shortcutContext() != Qt.ShortcutContext.WidgetWithChildrenShortcut]


def test_every_command_with_a_key_is_in_the_built_window_exactly_once(window):
    registry = window.registry
    live = _live(window)
    menus = _menus(window)
    holders: dict[str, list[QAction]] = {}
    for action in live:
        for key in action.shortcuts():
            holders.setdefault(key.toString(PORTABLE), []).append(action)
    for name, action in registry.actions().items():
        command = BY_NAME[name]
        assert action.objectName() == name and action.parent() is window
        if command.menu is not None:
            assert action in menus[command.menu].actions(), f"{name} is not in {command.menu}"
        if not command.keys:
            continue
        assert action.associatedObjects(), f"{name} is in no menu or widget: its keys are dead"
        for key in action.shortcuts():
            assert holders[key.toString(PORTABLE)] == [action], (name, key.toString())
    registered = set(registry.actions().values())
    strays = [a.text() for a in live if a.shortcuts() and a not in registered]
    assert not strays, f"actions with keys that the registry did not make: {strays}"
    # the parts' actions are the registry's
    assert window.compare.action is registry.action("view.compare")
    assert window.heatmaps.action is registry.action("view.compareHeatmaps")
    assert window.experiments_panel.new_action is registry.action("experiments.new")
    assert window.reads.new_action is registry.action("reads.new")
    assert window.viewer.fit_action is registry.action("view.fit")
    assert window.compare.viewer.fit_action is not registry.action("view.fit")  # its own copy


def test_the_key_map_lists_the_registrys_remappable_commands(window):
    remappable = [c.name for c in COMMANDS if c.remappable]
    assert remappable == REMAPPABLE
    assert window.keymap.actions == window.registry.remappable()
    assert list(window.keymap.actions) == REMAPPABLE
    dialog = window.keymap.dialog()
    assert list(dialog.edits) == REMAPPABLE
    assert dialog._reserved == window.registry.reserved()
    assert {"Ctrl+O", "Ctrl+E", "Ctrl+Shift+R", "F5"} <= set(dialog._reserved)
    assert not set(dialog._reserved) & {k for a in window.registry.remappable().values()
                                         for k in _texts(a.shortcuts())}
    dialog.close()


def test_a_remapped_key_from_settings_reaches_the_action(qtbot, project_path):
    from affgui.main_window import MainWindow

    settings = get_settings()
    settings.key_bindings = {"view.compare": "K", "label.AFF": "Q", "view.fit": "G"}
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    registry = window.registry
    assert _texts(window.compare.action.shortcuts()) == ["K"]
    assert _texts(window.viewer.fit_action.shortcuts()) == ["G"]
    assert _texts(window.menu_actions.labels["AFF"].shortcuts()) == ["Q"]
    assert _texts(registry.action("label.NFF").shortcuts()) == ["N"]  # the others keep theirs
    # the reading window's keys follow the labelling keys; a second viewer keeps the defaults
    assert _texts(registry.make("read.AFF", None).shortcuts()) == ["Q"]
    assert _texts(registry.make("adjudicate.AFF", None).shortcuts()) == ["Q"]
    assert _texts(window.compare.viewer.fit_action.shortcuts()) == ["F"]
    # pressed, the remapped key runs the part's command
    open_in(qtbot, window, project_path)
    qtbot.waitUntil(lambda: window.viewer.image_item.image is not None)
    window.activateWindow()
    window.grid.setFocus()
    qtbot.waitUntil(window.grid.hasFocus)
    qtbot.keyClick(window.grid, Qt.Key.Key_C)  # C no longer pins
    assert not window.compare.action.isChecked()
    qtbot.keyClick(window.grid, Qt.Key.Key_K)
    assert window.compare.action.isChecked() and window.compare.viewer.isVisible()
    # and the key map puts the defaults back
    window.keymap.set_bindings(window.keymap.defaults)
    assert _texts(window.compare.action.shortcuts()) == ["C"]
    assert get_settings().key_bindings == {}


def test_a_registry_applies_bindings_in_one_place(qtbot):
    from PySide6.QtWidgets import QWidget

    owner = QWidget()
    qtbot.addWidget(owner)
    registry = ActionRegistry(owner, {"redo": "Ctrl+R"})
    assert _texts(registry.action("redo").shortcuts()) == ["Ctrl+R"]
    registry.apply({})
    assert _texts(registry.action("redo").shortcuts()) == ["Ctrl+Shift+Z", "Ctrl+Y"]
    with pytest.raises(KeyError):
        registry.action("read.AFF")  # the reading window's: made per window, not the main one's


def _clashes(widget) -> dict[str, list[str]]:
    """Keys that two actions of ``widget``'s own window hold (Qt runs neither: ambiguous)."""
    holders: dict[str, list[str]] = {}
    for action in widget.findChildren(QAction):
        if action.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut:
            continue
        for key in action.shortcuts():
            holders.setdefault(key.toString(PORTABLE), []).append(action.objectName())
    return {k: names for k, names in holders.items() if len(names) > 1}


def test_the_disagreement_queue_holds_each_key_once(qtbot, window, project_path):
    open_in(qtbot, window, project_path)
    queue = window.reads.open_queue()
    qtbot.addWidget(queue)
    assert _texts(queue.set_actions["exclude"].shortcuts()) == ["X"]
    assert _clashes(queue) == {}
    queue.close()


def _reading_clashes(qtbot, window, project_path) -> dict[str, list[str]]:
    from engine.reads import create_session

    open_in(qtbot, window, project_path)
    reading = window.reads.open_session(create_session(window.project, "s", "Dr S", mode="open"))
    qtbot.addWidget(reading)
    clashes = _clashes(reading)
    reading.close()
    return clashes


def test_the_reading_window_holds_each_key_once(qtbot, window, project_path):
    assert _reading_clashes(qtbot, window, project_path) == {}
