"""``affgui``: start the desktop application.

``affgui --demo`` opens the demo project (building it on first run),
``affgui PATH`` opens a project, and plain ``affgui`` reopens the last project
(or shows the start page).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from affgui import __version__

ICON = Path(__file__).with_name("resources") / "affwb.svg"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="affgui", description="AFF Workbench: label femur radiographs (AFF/NFF).")
    parser.add_argument("project", nargs="?", type=Path, help="project folder (.affproj) to open")
    parser.add_argument("--demo", action="store_true",
                        help="open the demo project (built on first use, ~300 phantom images)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if args.demo and args.project:
        parser.error("give a project or --demo, not both")
    return args


def create_window(args: argparse.Namespace):
    """The main window for ``args``, shown, with its project opening on a worker."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from affgui.main_window import MainWindow
    from affgui.settings import get_settings

    app = QApplication.instance()
    app.setWindowIcon(QIcon(str(ICON)))
    settings = get_settings()
    window = MainWindow(settings)
    window.show()
    if args.demo:
        window.flows.open_demo()
    elif args.project is not None:
        window.open_project(args.project)
    elif settings.reopen_last_project and settings.last_project:
        window.open_project(settings.last_project, quiet=True)
    return window


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``affgui`` gui-script; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        print(f"affgui {__version__}")
        return 0
    from PySide6.QtWidgets import QApplication

    from affgui.theme import apply_dark_theme

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "affgui"])
        apply_dark_theme(app)
    app.setApplicationName("AFF Workbench")
    app.setOrganizationName("aff-workbench")
    app.setApplicationVersion(__version__)
    window = create_window(args)
    code = app.exec()
    del window
    return code


if __name__ == "__main__":
    raise SystemExit(main())
