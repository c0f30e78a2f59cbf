"""Helpers shared by the subcommands."""

from __future__ import annotations

import sys
import time

from engine.store import Project, ProjectError


def open_project(path: str) -> Project:
    """Open a project or raise :class:`CliError` with the reason."""
    from engine.cli._errors import CliError

    try:
        project = Project.open(path)
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    if project.read_only:
        print(f"affengine: note: {project.read_only}; nothing can be changed", file=sys.stderr)
    return project


class ProgressPrinter:
    """A progress bar on a terminal, or a line every 10% when stderr is not a tty."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_decile = -1
        self._t0 = time.perf_counter()

    def __call__(self, done: int, total: int, *_ignored) -> None:
        if total <= 0:
            return
        frac = done / total
        if self.tty:
            bar = "#" * int(frac * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {done}/{total}")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
            return
        decile = int(frac * 10)
        if decile != self._last_decile:
            self._last_decile = decile
            elapsed = time.perf_counter() - self._t0
            self.stream.write(f"{self.label}: {done}/{total} ({frac:.0%}, {elapsed:.1f} s)\n")
            self.stream.flush()
