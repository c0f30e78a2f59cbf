"""``affengine cache rebuild``: decode the source files again into ``cache/``."""

from __future__ import annotations

import sys

from engine.cli._common import ProgressPrinter, open_project


def add_parser(sub) -> None:
    p = sub.add_parser("cache", help="maintain the pixel cache")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    r = verbs.add_parser("rebuild", help="decode the sources again where cached pixels are missing")
    r.add_argument("project")
    r.add_argument("--all", action="store_true", help="rebuild every image, not only missing ones")
    r.add_argument("--workers", type=int, help="processes (default: all cores)")
    r.set_defaults(func=run_rebuild)


def run_rebuild(args) -> int:
    from engine.io import rebuild_cache

    with open_project(args.project) as project:
        report = rebuild_cache(project, everything=args.all, workers=args.workers,
                               progress=ProgressPrinter("rebuild"))
    for path, reason in report.errors:
        print(f"{path}: {reason}", file=sys.stderr)
    print(f"{report.rebuilt} rebuilt, {report.present} already cached, {len(report.errors)} failed")
    return 1 if report.errors else 0
