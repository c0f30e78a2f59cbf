"""``affengine export``: an experiment's parameters, epochs and results to MLflow or TensorBoard."""

from __future__ import annotations

import sys

from engine.cli._common import open_project


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export an experiment to an MLflow file store or TensorBoard logs")
    p.add_argument("project")
    p.add_argument("--experiment", "-e", required=True, help="a finished experiment")
    p.add_argument("--mlflow", metavar="DIR", help="MLflow tracking folder (local file store)")
    p.add_argument("--tensorboard", metavar="DIR", help="TensorBoard log folder")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    from engine.cli._errors import CliError
    from engine.report import TrackingUnavailable, experiment_record, export_mlflow, export_tensorboard

    if not (args.mlflow or args.tensorboard):
        raise CliError("name at least one target: --mlflow DIR and/or --tensorboard DIR")
    with open_project(args.project) as project:
        try:
            record = experiment_record(project, args.experiment)
        except (KeyError, ValueError) as exc:
            raise CliError(str(exc.args[0]) if exc.args else str(exc)) from None
    try:
        if args.mlflow:
            exp_id = export_mlflow(record, args.mlflow)
            print(f"MLflow: experiment {record.name!r} (id {exp_id}), {len(record.folds)} fold runs "
                  f"under a parent run, in {args.mlflow}", file=sys.stderr)
        if args.tensorboard:
            written = export_tensorboard(record, args.tensorboard)
            print(f"TensorBoard: {len(written)} log folders under {args.tensorboard}", file=sys.stderr)
    except TrackingUnavailable as exc:
        raise CliError(str(exc)) from None
    return 0
