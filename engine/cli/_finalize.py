"""``affengine finalize``: an experiment's final model (ensemble of its fold models, or a refit job)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "finalize", help="make an experiment's final model (ensemble of its fold models, or a refit)",
        description="ensemble (default): average the AFF probabilities of the K fold models of every "
                    "repeat. refit: queue one job that retrains on all cross-validation patients with the "
                    "experiment's recipe. The final model is stored with its provenance (see "
                    "docs/evaluation.md).")
    p.add_argument("project")
    p.add_argument("-e", "--experiment", required=True, metavar="NAME")
    p.add_argument("--mode", choices=("ensemble", "refit"), default="ensemble")
    p.add_argument("--patient-score", choices=("mean", "max"), default="mean",
                   help="patient score for the cross-validation thresholds (default: mean)")
    p.add_argument("--priority", type=int, default=0, help="job priority of a refit")
    p.add_argument("--backend", choices=("local", "slurm"), default="local", help="where a refit job runs")
    p.set_defaults(func=run_finalize)


def run_finalize(args) -> int:
    from engine.cli._common import open_project
    from engine.final import finalize

    with open_project(args.project) as project:
        final = finalize(project, args.experiment, args.mode, how=args.patient_score,
                         priority=args.priority, backend=args.backend)
    prov = final.provenance
    split = prov["split"]
    print(f"{final.label}: split {split['name']} v{split['version']}, {prov['image_size']} px")
    if final.mode == "refit":
        print(f"queued refit job {final.job_id}; run it with: affengine worker {args.project}")
    else:
        for m in prov["members"]:
            print(f"  member repeat {m['repeat']} fold {m['fold']}: {m['weights']} sha256 {m['sha256'][:16]}")
        t = prov["thresholds"]["patient"]
        print(f"  cross-validation thresholds (patient): youden {t['youden']:.4f}, "
              f"sensitivity>=0.9 {t['sensitivity']:.4f}, specificity>=0.9 {t['specificity']:.4f}")
    print(f"RESULT final_model_id {final.id}")
    return 0
