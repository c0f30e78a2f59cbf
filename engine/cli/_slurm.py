"""``affengine slurm settings|submit|sync|log|exec``: run a project's jobs on a Slurm cluster."""

from __future__ import annotations

import sys
import time

from engine.cli._common import open_project
from engine.experiments import get_experiment
from engine.jobs import JobQueue
from engine.runs import RunFolder
from engine.slurm import (
    ClusterSettings,
    SettingsError,
    run_on_node,
    slurm_log,
    sync,
)

_INT_FIELDS = ("gpus", "cpus", "signal_grace_s", "max_submissions")
_TEXT_FIELDS = ("partition", "account", "qos", "mem", "time", "setup", "command")


def add_parser(sub) -> None:
    s = sub.add_parser("slurm", help="run jobs on a Slurm cluster (settings, submit, sync, log)")
    verbs = s.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    st = verbs.add_parser("settings", help="show or change the project's cluster settings (slurm.json)")
    st.add_argument("project")
    for name in _TEXT_FIELDS:
        st.add_argument(f"--{name.replace('_', '-')}", dest=name)
    for name in _INT_FIELDS:
        st.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int)
    st.add_argument("--extra", action="append", metavar="LINE",
                    help="an extra #SBATCH line: --extra=--constraint=a100 (repeatable; replaces the list)")
    st.add_argument("--clear-extra", action="store_true", help="remove every extra #SBATCH line")
    st.set_defaults(func=run_settings)

    sb = verbs.add_parser("submit", help="send an experiment's waiting jobs (or one job) to Slurm now")
    sb.add_argument("project")
    sb.add_argument("experiment", nargs="?", help="experiment name (its queued/failed/interrupted jobs)")
    sb.add_argument("--job", type=int, action="append", help="a job id instead (repeatable)")
    sb.set_defaults(func=run_submit)

    sy = verbs.add_parser("sync", help="follow Slurm and the run folders; update the project database")
    sy.add_argument("project")
    sy.add_argument("--watch", type=float, metavar="S", help="repeat every S seconds until no job is active")
    sy.add_argument("--no-submit", action="store_true", help="only follow; submit nothing")
    sy.set_defaults(func=run_sync)

    lg = verbs.add_parser("log", help="print a job's Slurm log (its last submission)")
    lg.add_argument("project")
    lg.add_argument("job_id", type=int)
    lg.add_argument("--all", action="store_true", help="every submission's log")
    lg.set_defaults(func=run_log)

    ex = verbs.add_parser("exec", help="(inside a Slurm job) run the job prepared in RUN_DIR")
    ex.add_argument("run_dir")
    ex.set_defaults(func=lambda args: run_on_node(args.run_dir))


def run_settings(args) -> int:
    from engine.cli._errors import CliError

    with open_project(args.project) as project:
        try:
            settings = ClusterSettings.load(project)
            changes = {n: getattr(args, n) for n in (*_TEXT_FIELDS, *_INT_FIELDS)
                       if getattr(args, n) is not None}
            if args.clear_extra:
                changes["extra"] = ()
            if args.extra:
                changes["extra"] = tuple(args.extra)
            if changes:
                settings = settings.replace(**changes)
                path = settings.save(project)
                print(f"saved {path}")
        except SettingsError as exc:
            raise CliError(str(exc)) from None
    for name, value in settings.to_json().items():
        print(f"{name:16} {value!r}" if not isinstance(value, list) else f"{name:16} {value}")
    return 0


def run_submit(args) -> int:
    from engine.cli._errors import CliError

    with open_project(args.project) as project:
        queue = JobQueue(project)
        if args.job:
            ids = args.job
        elif args.experiment:
            try:
                exp = get_experiment(project, args.experiment)
            except KeyError as exc:
                raise CliError(exc.args[0]) from None
            ids = [j.id for j in queue.list(experiment_id=exp.id)
                   if j.state in ("queued", "interrupted", "failed", "cancelled")]
        else:
            raise CliError("name an experiment or give --job ID")
        try:
            ClusterSettings.load(project).check()
            for job_id in ids:
                job = queue.get(job_id)
                if job.backend == "local" and RunFolder.of(project, job.run_id).checkpoints.is_dir():
                    raise CliError(f"job {job_id} has a checkpoint from a local worker; resume it "
                                   f"locally (affengine jobs retry {job_id}) or start a new experiment")
                if job.state in ("failed", "cancelled"):
                    queue.retry(job_id)
                queue.set_backend(job_id, "slurm")
        except (KeyError, ValueError) as exc:
            raise CliError(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
        report = sync(project)
    return _print_report(report)


def run_sync(args) -> int:
    from engine.cli._errors import CliError

    if args.watch is not None and not args.watch > 0:
        raise CliError(f"--watch {args.watch:g}: seconds between syncs, more than 0")
    with open_project(args.project) as project:
        while True:
            report = sync(project, submit=not args.no_submit)
            code = _print_report(report)
            if not args.watch or (not report.active and not report.errors):
                return code
            time.sleep(args.watch)


def _print_report(report) -> int:
    for job_id, what in report.changes:
        print(f"job {job_id}: {what}", flush=True)
    for error in report.errors:
        print(f"affengine: slurm: {error}", file=sys.stderr, flush=True)
    print(f"{report.active} Slurm job(s) queued or running", flush=True)
    return 1 if report.errors else 0


def run_log(args) -> int:
    from engine.cli._errors import CliError

    with open_project(args.project) as project:
        try:
            print(slurm_log(project, args.job_id, every=args.all), end="")
        except (KeyError, LookupError) as exc:
            raise CliError(f"{project.path}: {exc.args[0]}") from None
    return 0

