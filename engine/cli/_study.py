"""``affengine study create P --preset cnn-vs-vit``: queue the whole study design."""

from __future__ import annotations

from engine.cli._common import open_project


def add_parser(sub) -> None:
    s = sub.add_parser("study", help="queue a whole study design (every arm under one R, S, N)")
    verbs = s.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    c = verbs.add_parser("create", help="queue the arms of a preset as experiments")
    c.add_argument("project")
    c.add_argument("--preset", default="cnn-vs-vit", choices=("cnn-vs-vit",))
    c.add_argument("--quick", action="store_true",
                   help="CPU demo: resnet10t and vit_tiny at 128 px, 12 epochs")
    c.add_argument("--split", default="default")
    c.add_argument("--repeats", type=int, help="the split's first N repeats (default: all)")
    c.add_argument("--seeds", type=int, default=1)
    c.add_argument("--tune-trials", type=int, default=0)
    c.add_argument("--epochs", type=int, help="override the preset's epochs")
    c.add_argument("--drop-missing", action="store_true",
                   help="leave out pretrained arms whose weights are not on this machine")
    c.add_argument("--device", default="auto")
    c.add_argument("--backend", choices=("local", "slurm"), default="local")
    c.add_argument("--prefix", default="", help="prefix for the experiment names")
    c.set_defaults(func=run_create)


def run_create(args) -> int:
    from engine.cli._errors import CliError
    from engine.experiments import create_study
    from engine.train import SpecError

    with open_project(args.project) as project:
        try:
            names = create_study(project, args.preset, quick=args.quick, split=args.split,
                                 repeats=args.repeats, seeds=args.seeds, tune_trials=args.tune_trials,
                                 drop_missing=args.drop_missing, device=args.device, epochs=args.epochs,
                                 backend=args.backend, prefix=args.prefix)
        except (SpecError, ValueError, KeyError) as exc:
            raise CliError(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)) from None
        jobs = project.query("SELECT COUNT(*) FROM jobs j JOIN experiments e ON e.id = j.experiment_id "
                             f"WHERE e.name IN ({', '.join('?' for _ in names)})", names)[0][0]
    print(f"study {args.preset}{' (quick)' if args.quick else ''}: {len(names)} experiment(s), {jobs} job(s) "
          f"queued: {', '.join(names)}; start workers with 'affengine workers {args.project}'")
    return 0
