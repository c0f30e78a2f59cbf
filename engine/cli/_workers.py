"""``affengine workers PROJECT --gpus all|0,2 [--per-gpu N] --cpu N``: worker processes, one queue."""

from __future__ import annotations

import signal
import time

from engine.cli._common import open_project
from engine.jobs import start_workers, worker_devices, worker_env


def add_parser(sub) -> None:
    w = sub.add_parser("workers", help="start one worker per GPU (and/or N CPU workers) on a project")
    w.add_argument("project")
    w.add_argument("--gpus", help="'all' visible GPUs, or indices such as 0,2 (each worker sees one)")
    w.add_argument("--per-gpu", type=int, default=1, metavar="N",
                   help="N workers share each GPU (small models); each checks free memory before a claim")
    w.add_argument("--cpu", type=int, default=0, metavar="N", help="also start N CPU workers")
    w.add_argument("--exit-when-idle", action="store_true", help="each worker stops when the queue is empty")
    w.add_argument("--log-dir", help="write each worker's output to a file here (default: this terminal)")
    w.add_argument("--dry-run", action="store_true", help="print the workers that would start, start none")
    w.set_defaults(func=run_workers)


def run_workers(args) -> int:
    from engine.cli._errors import CliError

    with open_project(args.project) as project:
        path = project.path
    try:
        devices = worker_devices(args.gpus, args.cpu, args.per_gpu)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    for i, device in enumerate(devices):
        env, inner = worker_env(device)
        gpu = f"CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']} " if device.startswith("cuda:") else ""
        print(f"worker {i}: {device} ({gpu}--device {inner})", flush=True)
    if args.dry_run:
        return 0
    extra = ["--exit-when-idle"] if args.exit_when_idle else []
    try:
        procs = start_workers(path, devices, args.log_dir, extra)
    except OSError as exc:  # --log-dir not a writable folder, the interpreter missing
        where = f"{exc.filename}: " if exc.filename else ""
        raise CliError(f"cannot start the workers: {where}{exc.strerror or exc}") from None

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # each stops its job at the next step (left interrupted)

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while any(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    codes = [p.returncode for p in procs]
    print(f"{len(procs)} worker(s) stopped (exit codes {', '.join(map(str, codes))})")
    return 0 if all(c == 0 for c in codes) else 1
