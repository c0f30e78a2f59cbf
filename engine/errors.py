"""The engine's error vocabulary: every error a user can act on derives from ``EngineError``.

``str(error)`` is the plain message a person reads (what went wrong and where); the CLI
prints it as ``affengine: error: ...`` with exit code 2 in one place
(:func:`engine.cli.main`), and the GUI catches ``(EngineError, sqlite3.Error)``.
Subclasses may also derive from a built-in (``ValueError``, ``LookupError`` ...) so that
existing ``except`` clauses keep working.
"""

from __future__ import annotations


class EngineError(Exception):
    """An error whose message tells the user what is wrong and where; never a traceback."""

    def __str__(self) -> str:
        # KeyError (a base of some subclasses) quotes its message; the plain text is wanted.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class NotFound(EngineError, LookupError):
    """Something named (a project, experiment, split, image, model, weights file) does not exist."""


class InvalidInput(EngineError, ValueError):
    """A value or file a user supplied is not acceptable (name, CSV, option value)."""


__all__ = ["EngineError", "InvalidInput", "NotFound"]
