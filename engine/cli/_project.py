"""``affengine project backup|recover PROJECT``: copies of the database, and the way back."""

from __future__ import annotations

from pathlib import Path

from engine.cli._common import open_project


def add_parser(sub) -> None:
    p = sub.add_parser("project", help="back up a project's database, or recover a damaged one")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    b = verbs.add_parser("backup", help="copy project.sqlite with SQLite's online backup API")
    b.add_argument("project")
    b.add_argument("--to", help="destination file (default PROJECT/backups/project-<time>.sqlite)")
    b.set_defaults(func=run_backup)
    r = verbs.add_parser("recover", help="replace a damaged project.sqlite with what can be read")
    r.add_argument("project")
    r.add_argument("--no-cli", action="store_true",
                   help="do not use the sqlite3 command's .recover; copy readable rows instead")
    r.set_defaults(func=run_recover)


def run_backup(args) -> int:
    with open_project(args.project) as project:
        dest = project.backup(Path(args.to) if args.to else None)
    print(f"backed up to {dest}")
    return 0


def _folder(arg: str) -> Path:
    from engine.cli._errors import CliError
    from engine.store._project import DB_NAME, SUFFIX

    path = Path(arg).expanduser().resolve()
    if path.name == DB_NAME:
        path = path.parent
    if not (path / DB_NAME).exists() and (path.with_name(path.name + SUFFIX) / DB_NAME).exists():
        path = path.with_name(path.name + SUFFIX)
    if not (path / DB_NAME).exists():
        raise CliError(f"{path}: no {DB_NAME} to recover")
    return path


def run_recover(args) -> int:
    from engine.store._health import recover_project

    path = _folder(args.project)
    method, counts, kept = recover_project(path, use_cli=not args.no_cli)
    print(f"recovered {path / 'project.sqlite'} ({method}); the damaged file is kept as {kept}")
    for table, n in counts.items():
        print(f"  {table}: {n} row(s)")
    open_project(str(path)).close()  # the recovered database opens (and migrates) cleanly
    print("the project opens again; check `affengine info` and your labels")
    return 0
