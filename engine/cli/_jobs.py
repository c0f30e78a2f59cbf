"""``affengine worker`` and ``affengine jobs list|cancel|retry|priority|prune``."""

from __future__ import annotations

import re

from engine.cli._common import open_project
from engine.errors import InvalidInput
from engine.jobs import (
    HEARTBEAT_S,
    STATES,
    JobQueue,
    JobTailer,
    Worker,
    cancel_job,
    check_priority,
    check_stale_after,
    format_eta,
    prune_checkpoints,
)


def check_device(device: str) -> str:
    """``cpu``, ``auto``, ``mps``, ``cuda`` or ``cuda:N`` for a GPU this process can see."""
    if device in ("cpu", "auto", "mps"):
        return device
    m = re.fullmatch(r"cuda(?::(\d+))?", device)
    if m is None:
        raise InvalidInput(f"--device {device!r}: use cpu, auto, mps, cuda or cuda:N")
    from engine.jobs import visible_gpus

    # CUDA numbers the GPUs this process sees from 0 (CUDA_VISIBLE_DEVICES=7 shows one: cuda:0)
    count, index = len(visible_gpus()), int(m.group(1) or 0)
    if index >= count:
        seen = f"cuda:0..cuda:{count - 1}" if count else "no GPU"
        raise InvalidInput(f"--device {device}: this machine shows {seen} "
                           "(nvidia-smi / CUDA_VISIBLE_DEVICES)")
    return device


def add_parser(sub) -> None:
    w = sub.add_parser("worker", help="claim queued jobs of a project and run them (one per device)")
    w.add_argument("project")
    w.add_argument("--device", default="auto", help="cpu, cuda:N or auto (default)")
    w.add_argument("--exit-when-idle", action="store_true", help="stop when the queue is empty")
    w.add_argument("--max-jobs", type=int, help="stop after this many jobs")
    w.add_argument("--stale-after", type=float, default=60.0,
                   help="seconds without a heartbeat before a running job counts as interrupted")
    w.set_defaults(func=run_worker)

    j = sub.add_parser("jobs", help="list and control the job queue")
    verbs = j.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    ls = verbs.add_parser("list", help="jobs with their state")
    ls.add_argument("project")
    ls.add_argument("--state", choices=STATES)
    ls.set_defaults(func=run_list)
    for name, helptext in (("cancel", "cancel a job (a running one is killed after --grace s)"),
                           ("retry", "queue a failed, cancelled or interrupted job again")):
        v = verbs.add_parser(name, help=helptext)
        v.add_argument("project")
        v.add_argument("job_id", type=int)
        if name == "cancel":
            v.add_argument("--grace", type=float, default=10.0)
        v.set_defaults(func=run_cancel if name == "cancel" else run_retry)
    pr = verbs.add_parser("priority", help="set a job's priority (higher runs first)")
    pr.add_argument("project")
    pr.add_argument("job_id", type=int)
    pr.add_argument("priority", type=_priority)
    pr.set_defaults(func=run_priority)
    pn = verbs.add_parser("prune", help="delete the resume checkpoints (last.pt) of finished runs "
                                        "(best.pt, predictions and metrics stay)")
    pn.add_argument("project")
    pn.add_argument("-e", "--experiment", help="only this experiment's runs")
    pn.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    pn.set_defaults(func=run_prune)


def run_worker(args) -> int:
    check_stale_after(args.stale_after, HEARTBEAT_S)
    device = check_device(args.device)
    open_project(args.project).close()  # a clear error for a wrong path
    if device == "auto":
        import torch

        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    worker = Worker(args.project, device=device, stale_after_s=args.stale_after)
    worker.install_signal_handlers()
    print(f"worker {worker.id} on {device}: waiting for jobs (Ctrl+C stops)", flush=True)
    n = worker.run(exit_when_idle=args.exit_when_idle, max_jobs=args.max_jobs)
    print(f"worker {worker.id}: ran {n} job(s)")
    return 0


def _priority(text: str) -> int:
    import argparse

    try:
        return check_priority(int(text))
    except (ValueError, InvalidInput) as exc:
        why = str(exc) if isinstance(exc, InvalidInput) else f"{text!r} is not a whole number"
        raise argparse.ArgumentTypeError(why) from None


def run_list(args) -> int:
    with open_project(args.project) as project:
        jobs = JobQueue(project).list(state=args.state)
        tailed = {r.id: r for r in JobTailer(project.runs_dir).poll(project).jobs}  # the GUI's progress/ETA
    print(f"{'id':>5} {'state':11} {'kind':8} {'run':>8} {'prio':>4} {'tries':>5} {'done':>4} "
          f"{'eta':>9}  run / error")
    for j in jobs:
        tail = j.run_id + (f"  {j.error}" if j.error else "")
        row = tailed.get(j.id)
        done = f"{round(100 * row.progress)}%" if row is not None else ""
        eta = format_eta(row.eta_s if row is not None else None, compact=True)
        print(f"{j.id:>5} {j.state:11} {j.kind:8} {j.label:>8} {j.priority:>4} {j.attempts:>5} {done:>4} "
              f"{eta:>9}  {tail}")
    return 0


def _job_or_error(project, job_id):
    from engine.cli._errors import CliError

    try:
        return JobQueue(project).get(job_id)
    except KeyError as exc:
        raise CliError(f"{project.path}: {exc.args[0]}") from None


def run_cancel(args) -> int:
    with open_project(args.project) as project:
        _job_or_error(project, args.job_id)
        state = cancel_job(project, args.job_id, grace_s=args.grace)
    print(f"job {args.job_id}: {state}")
    return 0


def run_retry(args) -> int:
    from engine.cli._errors import CliError

    with open_project(args.project) as project:
        _job_or_error(project, args.job_id)
        try:
            JobQueue(project).retry(args.job_id)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    print(f"job {args.job_id}: queued")
    return 0


def run_priority(args) -> int:
    with open_project(args.project) as project:
        _job_or_error(project, args.job_id)
        JobQueue(project).set_priority(args.job_id, args.priority)
    return 0


def run_prune(args) -> int:
    with open_project(args.project) as project:
        report = prune_checkpoints(project, args.experiment, dry_run=args.dry_run)
    verb = "would free" if args.dry_run else "freed"
    for path in report.files:
        print(f"{'would delete' if args.dry_run else 'deleted'} {path}")
    for job_id, why in report.kept:
        print(f"kept job {job_id}: {why}")
    print(f"{len(report.files)} resume checkpoint(s) of finished runs, {verb} "
          f"{report.bytes / 1e6:.1f} MB")
    return 0
