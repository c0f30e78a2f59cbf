"""``affengine init PATH``: create an empty project folder."""

from __future__ import annotations

from engine.store import Project, ProjectError


def add_parser(sub) -> None:
    p = sub.add_parser("init", help="create a new project folder (NAME.affproj)")
    p.add_argument("path", help="project folder to create; '.affproj' is appended when missing")
    p.set_defaults(func=run)


def run(args) -> int:
    from engine.cli._errors import CliError

    try:
        project = Project.create(args.path)
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    print(f"created {project.path}")
    project.close()
    return 0
