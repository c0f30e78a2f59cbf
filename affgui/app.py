"""``affgui``: start the desktop application.

``affgui --demo`` opens the demo project (building it on first run),
``affgui PATH`` opens a project, and plain ``affgui`` reopens the last project
(or shows the start page). ``affgui --version`` prints the versions and GPUs seen,
``affgui --self-test`` runs a short end-to-end check offscreen (``affgui.self_test``), and
``affgui --engine ARGS`` runs the ``affengine`` CLI: a frozen bundle has no Python
interpreter, so its workers are this executable in engine mode (``engine.jobs.engine_command``).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from affgui import __version__
from affgui.icons import ICON, ResourceError, resource_path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="affgui", description="AFF Workbench: label femur radiographs (AFF/NFF).")
    parser.add_argument("project", nargs="?", type=Path, help="project folder (.affproj) to open")
    parser.add_argument("--demo", action="store_true",
                        help="open the demo project (built on first use, ~300 phantom images)")
    parser.add_argument("--version", action="store_true",
                        help="print the versions of the app, torch, timm and Qt and the GPUs seen, and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="build a small demo, open it, train a tiny model in a worker, and exit "
                             "(0 when everything worked)")
    parser.add_argument("--engine", action="store_true",
                        help="run the affengine command line with the arguments that follow (first argument)")
    if "--engine" in (argv or []):  # main() handles it when it comes first
        parser.error("--engine must come first: affgui --engine COMMAND ...")
    args = parser.parse_args(argv)
    if sum([args.demo, args.project is not None, args.self_test]) > 1:
        parser.error("give one of a project, --demo or --self-test")
    return args


def create_window(args: argparse.Namespace):
    """The main window for ``args``, shown, with its project opening on a worker."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from affgui.main_window import MainWindow
    from affgui.settings import get_settings

    app = QApplication.instance()
    try:
        with resources.as_file(resource_path(ICON)) as icon:
            app.setWindowIcon(QIcon(str(icon)))
    except ResourceError as exc:  # a broken install still opens, without its icon
        print(f"affgui: warning: no window icon: {exc}", file=sys.stderr)
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
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--engine"]:  # before anything imports Qt: workers start fast
        from engine.cli import main as engine_main

        return engine_main(argv[1:])
    args = parse_args(argv)
    if args.version:
        from affgui.versions import version_lines

        print("\n".join(version_lines()))
        return 0
    if args.self_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from affgui.theme import apply_dark_theme

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "affgui"])
        apply_dark_theme(app)
    from affgui import gc_guard

    gc_guard.install(app)  # garbage collection only on this thread, between events
    app.setApplicationName("AFF Workbench")
    app.setOrganizationName("aff-workbench")
    app.setApplicationVersion(__version__)
    if args.self_test:
        from affgui.self_test import run_self_test

        return run_self_test(app)
    window = create_window(args)
    code = app.exec()
    del window
    return code


if __name__ == "__main__":
    raise SystemExit(main())
