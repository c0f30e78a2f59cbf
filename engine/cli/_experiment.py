"""``affengine experiment create|list|show`` and ``affengine run`` (an experiment in the foreground)."""

from __future__ import annotations

import signal
import sys

from engine.cli._common import open_project
from engine.cli._train import RunEventPrinter, add_spec_options, spec_from_args


def add_parser(sub) -> None:
    e = sub.add_parser("experiment", help="create and inspect experiments (a model over all folds)")
    verbs = e.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    c = verbs.add_parser("create", help="queue one training job per (repeat, fold, seed) of a split")
    c.add_argument("project")
    c.add_argument("--name", required=True, help="experiment name, unique in the project")
    c.add_argument("--model", required=True, help="registered model name (affengine models)")
    c.add_argument("--split", default="default", help="split name (default: default)")
    c.add_argument("--split-version", type=int, help="split version (default: the latest)")
    c.add_argument("--repeats", type=int,
                   help="train the split's first N repeats (default: every repeat; 1 = the first only)")
    c.add_argument("--seeds", type=int, default=1,
                   help="training seeds per fold: --seed, --seed+1, ... (default 1)")
    c.add_argument("--priority", type=int, default=0)
    c.add_argument("--backend", choices=("local", "slurm"), default="local",
                   help="run the folds on local workers (default) or on Slurm (docs/slurm.md)")
    add_spec_options(c)
    c.set_defaults(func=run_create)
    ls = verbs.add_parser("list", help="experiments with their jobs' states")
    ls.add_argument("project")
    ls.set_defaults(func=run_list)
    sh = verbs.add_parser("show", help="an experiment's settings and jobs")
    sh.add_argument("project")
    sh.add_argument("name")
    sh.set_defaults(func=run_show)

    r = sub.add_parser("run", help="run an experiment's queued jobs in the foreground (scripts, clusters)")
    r.add_argument("project")
    r.add_argument("name", help="experiment name (create it first with 'experiment create')")
    r.add_argument("--device", default="auto", help="cpu, cuda:N or auto (default)")
    r.set_defaults(func=run_run)


def run_create(args) -> int:
    from engine.cli._errors import CliError
    from engine.experiments import create_experiment, experiment_jobs
    from engine.models import WeightsNotFoundError, find_weights, hub_reachable
    from engine.train import SpecError

    with open_project(args.project) as project:
        try:
            spec = spec_from_args(args, fold=0)
            if (spec.pretrained and not find_weights(spec.model, spec.weights_file).available
                    and not hub_reachable()):
                from engine.models import missing_message

                raise WeightsNotFoundError(missing_message(find_weights(spec.model)))
            exp = create_experiment(project, args.name, spec, priority=args.priority, backend=args.backend,
                                    repeats=args.repeats, seeds=args.seeds)
        except (SpecError, ValueError, KeyError, WeightsNotFoundError) as exc:
            raise CliError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
        jobs = experiment_jobs(project, exp.name)
    labels = ", ".join(f"{j.id} {j.label}" for j in jobs)
    print(f"experiment {exp.name}: {exp.model}, {len(jobs)} job(s) queued "
          f"(ids {labels}); start a worker with "
          f"'affengine worker {args.project}' or run it here with 'affengine run'")
    return 0


def run_list(args) -> int:
    from engine.experiments import experiment_jobs, list_experiments

    with open_project(args.project) as project:
        for exp in list_experiments(project):
            states: dict[str, int] = {}
            for j in experiment_jobs(project, exp.name):
                states[j.state] = states.get(j.state, 0) + 1
            print(f"{exp.name}: {exp.model} split v{exp.spec['split_version']} "
                  + " ".join(f"{k} {v}" for k, v in sorted(states.items())))
    return 0


def run_show(args) -> int:
    import json

    from engine.cli._errors import CliError
    from engine.experiments import experiment_jobs, get_experiment

    with open_project(args.project) as project:
        try:
            exp = get_experiment(project, args.name)
        except KeyError as exc:
            raise CliError(str(exc.args[0])) from None
        print(json.dumps({k: v for k, v in exp.spec.items() if k not in ("fold", "repeat")}, indent=2))
        for j in experiment_jobs(project, exp.name):
            error = f" ({j.error})" if j.error else ""
            print(f"{j.label or j.kind}: job {j.id} {j.state} run {j.run_id}{error}")
    return 0


def run_run(args) -> int:
    from engine.cli._errors import CliError
    from engine.experiments import experiment_jobs, get_experiment
    from engine.jobs import Worker

    with open_project(args.project) as project:
        try:
            exp = get_experiment(project, args.name)
        except KeyError as exc:
            raise CliError(str(exc.args[0])) from None
    device = args.device
    if device == "auto":
        import torch

        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    printer = RunEventPrinter()
    current = {}

    def progress(job, event):
        if current.get("id") != job.id:
            current["id"] = job.id
            print(f"{job.label or job.kind} (job {job.id}, run {job.run_id})", file=sys.stderr)
        printer(event)

    worker = Worker(args.project, device=device, experiment_id=exp.id, progress=progress)
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    worker.run(exit_when_idle=True)
    with open_project(args.project) as project:
        jobs = experiment_jobs(project, exp.name)
    for j in jobs:
        print(f"{j.label or j.kind}: {j.state}" + (f" ({j.error})" if j.error else ""))
    return 0 if all(j.state == "finished" for j in jobs) else 1
