"""``affengine evaluate``: final models on the held-out test patients or on another project."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="score final models on the split's held-out test patients or another project",
        description="Each experiment's latest final model (affengine finalize) scores the split's test "
                    "patients (--on test) or every AFF/NFF-labelled image of another project (--on "
                    "OTHER.affproj, same pre-processing). Writes PROJECT/evaluations/<stamp>-<kind>/ and "
                    "the next `affengine report` shows it as its own section (docs/evaluation.md).")
    p.add_argument("project")
    p.add_argument("-e", "--experiments", nargs="+", required=True, metavar="NAME")
    p.add_argument("--on", required=True, metavar="test|OTHER.affproj",
                   help="'test' (held-out test patients of the split) or another project folder")
    p.add_argument("--level", choices=("patient", "image"), default="patient",
                   help="unit of the paired comparison (default: patient)")
    p.add_argument("--patient-score", choices=("mean", "max"), default="mean")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", default=None,
                   help="folder for the evaluation folder (default: PROJECT/evaluations)")
    p.set_defaults(func=run_evaluate)


def auto_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return device


def run_evaluate(args) -> int:
    from engine.cli._common import open_project
    from engine.cli._errors import CliError
    from engine.final import evaluate_final_models, write_evaluation
    from engine.report import write_evaluation_report

    if args.n_boot < 100:
        raise CliError(f"--n-boot must be at least 100, got {args.n_boot}")
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, got {args.batch_size}")
    with open_project(args.project) as project:
        try:
            ev, preds = evaluate_final_models(
                project, args.experiments, args.on, level=args.level, how=args.patient_score,
                n_boot=args.n_boot, seed=args.seed, device=auto_device(args.device),
                batch_size=args.batch_size, progress=lambda m: print(m, file=sys.stderr, flush=True))
        except (KeyError, ValueError) as exc:
            raise CliError(str(exc.args[0]) if exc.args else str(exc)) from None
        folder = write_evaluation(project, ev, preds, args.out)
        page = write_evaluation_report(ev, folder)
    print(ev["answer"])
    for e in ev["experiments"]:
        r = e[args.level]
        print(f"RESULT {ev['kind']}_{args.level}_auc_{e['experiment']} {r['auc']:.6f}")
    print(f"evaluation written to {page}", file=sys.stderr)
    return 0
