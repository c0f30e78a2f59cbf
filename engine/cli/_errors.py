"""The CLI's exit codes and ``CliError``; command modules import them from here, never from
``engine.cli`` (which imports every command module: that would be an import circle)."""

from __future__ import annotations

from engine.errors import EngineError

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


class CliError(EngineError):
    """An error a user can fix; printed as ``affengine: error: ...`` with exit code 2."""
