"""``affengine predict``: screen images with an experiment's final model; stores P(AFF) per image."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "predict", help="store a final model's P(AFF) for unlabelled (or all) images; never changes a label",
        description="Scores images with the experiment's newest final model (affengine finalize) and "
                    "stores the probability per image with the final model's id and the time. Runs here "
                    "with progress, or with --queue as a 'predict' job for `affengine worker` "
                    "(cancellable; a rerun continues), or with --backend slurm as a job for the "
                    "cluster (`affengine slurm sync` submits it and imports its predictions). "
                    "See docs/evaluation.md and docs/slurm.md.")
    p.add_argument("project")
    p.add_argument("-e", "--experiment", required=True, metavar="NAME")
    p.add_argument("--images", choices=("unlabelled", "all"), default="unlabelled")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="narrow the images (repeatable): patient, view, laterality, source_folder, "
                        "search (substring of patient key or path), label (with --images all)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--queue", action="store_true", help="queue a 'predict' job instead of running here")
    p.add_argument("--priority", type=int, default=0)
    p.add_argument("--backend", choices=("local", "slurm"), default="local",
                   help="where a queued job runs: local workers (default) or Slurm (implies --queue; "
                        "docs/slurm.md)")
    p.add_argument("--top", type=int, default=10, help="print the N most likely AFF images (0: none)")
    p.set_defaults(func=run_predict)


def parse_filters(items: list[str]) -> dict:
    from engine.cli._errors import CliError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--filter {item!r}: use KEY=VALUE, e.g. --filter view=AP")
        out[key.strip()] = value
    return out


def run_predict(args) -> int:
    from engine.cli._common import ProgressPrinter, open_project
    from engine.cli._evaluate import auto_device
    from engine.final import predict_images, predict_job_spec, stored_predictions, submit_predict
    from engine.jobs import backend

    filters = parse_filters(args.filter)
    with open_project(args.project) as project:
        if args.queue or args.backend != "local":
            job_id = submit_predict(project, args.experiment, args.images, filters, args.batch_size,
                                    args.priority, backend=args.backend)
            where = backend(args.backend)
            print(f"queued predict job {job_id}{where.where}; {where.run_hint(args.project)}")
            return 0
        spec = predict_job_spec(project, args.experiment, args.images, filters, args.batch_size)
        bar = ProgressPrinter("predict")

        def emit(type: str, **payload) -> None:
            if type == "progress":
                bar(payload["step"], payload["total"])

        predict_images(project, spec, device=auto_device(args.device), emit=emit)
        preds = stored_predictions(project, spec["final_model_id"])
        mine = sorted((preds[i] for i in spec["image_ids"]), key=lambda p: (-p.probability, p.image_id))
        paths = {r.id: r.path for r in project.images.list(order="id")}
    for p in mine[:max(args.top, 0)]:
        print(f"{p.image_id}\t{p.probability:.4f}\t{paths[p.image_id]}")
    print(f"final model {spec['final_model_id']}: {len(mine)} images scored", file=sys.stderr)
    print(f"RESULT predicted_images {len(mine)}")
    return 0
