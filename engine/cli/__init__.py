"""``affengine``: the headless command line (also ``python -m engine``).

Each subcommand lives in its own module with ``add_parser(subparsers)``,
which registers the command and sets ``func(args) -> int`` as its handler.
Exit codes: 0 success, 1 finished with per-item errors (e.g. skipped files),
2 usage or input error (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine import __version__
from engine.cli._errors import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, CliError
from engine.errors import EngineError


def _command_modules():
    from engine.cli import (
        _cache,
        _evaluate,
        _experiment,
        _explain,
        _export,
        _export_model,
        _finalize,
        _import,
        _info,
        _init,
        _jobs,
        _labels,
        _models,
        _phantom,
        _predict,
        _project,
        _reads,
        _report,
        _slurm,
        _split,
        _study,
        _train,
        _weights,
        _workers,
    )

    return (_init, _import, _info, _labels, _phantom, _split, _models, _train, _experiment, _jobs,
            _explain, _report, _export, _cache, _workers, _slurm, _weights, _study,
            _finalize, _evaluate, _predict, _export_model, _project, _reads)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="affengine",
        description="AFF Workbench engine: projects, import, labels, phantom data.",
    )
    parser.add_argument("--version", action="version", version=f"affengine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EngineError as exc:  # CliError and every engine error a user can act on
        print(f"affengine: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("affengine: interrupted", file=sys.stderr)
        return 130


__all__ = ["EXIT_OK", "EXIT_PARTIAL", "EXIT_USAGE", "CliError", "build_parser", "main"]
