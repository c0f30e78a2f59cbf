"""``affengine report``: the study report (HTML + CSV + JSON) for finished experiments."""

from __future__ import annotations

import sys

from engine.cli._common import open_project


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write the study report (HTML, CSV tables, JSON) for experiments")
    p.add_argument("project")
    p.add_argument("--experiments", "-e", nargs="+", required=True, metavar="NAME",
                   help="finished experiments on the same split")
    p.add_argument("--reference", default=None,
                   help="compare each experiment with this one (default: all pairs)")
    p.add_argument("--level", choices=("patient", "image"), default="patient",
                   help="unit of inference (default: patient; image level uses the patient bootstrap only)")
    p.add_argument("--patient-score", choices=("mean", "max"), default="mean",
                   help="patient score from its images (default: mean)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--margin", type=float, default=None, metavar="M",
                   help="non-inferiority / equivalence margin for the AUC difference ViT - CNN, e.g. 0.05: "
                        "one-sided test of ViT - CNN > -M and TOST within +-M (default: not tested)")
    p.add_argument("--out", default=None,
                   help="folder to write the report folder in (default: PROJECT/reports)")
    p.set_defaults(func=run_report)


def run_report(args) -> int:
    from engine.cli._errors import CliError
    from engine.report import build_report

    if args.n_boot < 100:
        raise CliError(f"--n-boot must be at least 100, got {args.n_boot}")
    if args.margin is not None and not 0 < args.margin < 1:
        raise CliError(f"--margin must be an AUC difference between 0 and 1 (e.g. 0.05), got {args.margin:g}")
    with open_project(args.project) as project:
        try:
            written = build_report(project, args.experiments, reference=args.reference, level=args.level,
                                   out_dir=args.out, how=args.patient_score, n_boot=args.n_boot,
                                   seed=args.seed, margin=args.margin)
        except (KeyError, ValueError) as exc:
            raise CliError(str(exc.args[0]) if exc.args else str(exc)) from None
    for key, text in written.data.answers.items():
        print(f"[{key}] {text}\n")
    print(f"report written to {written.html}", file=sys.stderr)
    return 0
