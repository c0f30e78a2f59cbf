"""``affengine explain``: out-of-fold heatmaps for an experiment, here or as a queued job."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explain", help="heatmaps for every image of an experiment, from the fold model that validated it",
        description="Explain each fold's validation images with that fold's best model and store the "
                    "maps in each run folder under heatmaps/<method>.npz (see docs/explain.md).")
    p.add_argument("project")
    p.add_argument("--experiment", required=True, help="experiment name (affengine experiment list)")
    p.add_argument("--method", default="gradcam",
                   help="occlusion or ig (model-agnostic: the same method for CNNs and ViTs; what the "
                        "report compares), gradcam (default), gradcam++, hirescam, eigencam, or rollout / "
                        "gradrollout (models with a class token only)")
    p.add_argument("--patch-mm", type=float, default=None,
                   help="occlusion patch side in mm of the input (default 20; from the pixel spacing)")
    p.add_argument("--stride-mm", type=float, default=None,
                   help="occlusion stride in mm, also the stored grid's cell (default 10)")
    p.add_argument("--ig-steps", type=int, default=None, help="integrated-gradients steps (default 32)")
    p.add_argument("--faithfulness", action=argparse.BooleanOptionalAction, default=None,
                   help="deletion/insertion curves and the ROI occlusion test with the maps "
                        "(default: on for occlusion and ig, off for the others)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--queue", action="store_true",
                   help="queue an 'explain' job for a worker instead of running here")
    p.add_argument("--priority", type=int, default=0, help="job priority with --queue")
    p.add_argument("--on", default=None, metavar="test|OTHER.affproj",
                   help="explain another project's labelled images (or the split's held-out test images) "
                        "with the experiment's final model; see docs/evaluation.md")
    p.add_argument("--image", action="append", default=[], metavar="ID[,ID...]",
                   help="explain these images of this project (screened ones too: unlabelled images "
                        "have no out-of-fold maps) with the experiment's final model (repeatable); with "
                        "--queue as a job for a worker; see docs/evaluation.md")
    p.set_defaults(func=run_explain)


def parse_image_ids(items: list[str]) -> list[int]:
    from engine.cli._errors import CliError

    ids = []
    for item in items:
        for part in item.split(","):
            if not part.strip().isdigit():
                raise CliError(f"--image {item!r}: image ids are whole numbers, e.g. --image 12,17")
            ids.append(int(part))
    return ids


def run_explain(args) -> int:
    from engine.cli._common import open_project
    from engine.cli._errors import CliError
    from engine.explain import (
        explain_experiment,
        explain_job_spec,
        format_roi_summary,
        roi_summary,
        submit_explain,
    )

    for flag, value in (("--patch-mm", args.patch_mm), ("--stride-mm", args.stride_mm),
                        ("--ig-steps", args.ig_steps)):
        if value is not None and not value > 0:
            raise CliError(f"{flag} must be positive, got {value}")
    options = {"patch_mm": args.patch_mm, "stride_mm": args.stride_mm, "ig_steps": args.ig_steps,
               "faithfulness": args.faithfulness}
    try:
        explain_job_spec(args.experiment, args.method, args.batch_size, **options)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    with open_project(args.project) as project:
        from engine.explain import check_method_for_model, experiment_model

        try:
            model_name = experiment_model(project, args.experiment)
            if model_name:
                check_method_for_model(args.method, model_name)
        except (KeyError, ValueError) as exc:
            raise CliError(f"experiment {args.experiment}: {str(exc).strip(chr(39) + chr(34))}") from None
        if args.image:
            if args.on is not None:
                raise CliError("--image and --on cannot be combined: --image names images of this project")
            return _explain_images(project, args, parse_image_ids(args.image))
        if args.on is not None:
            from engine.final import explain_external

            device = "cpu" if args.device == "auto" else args.device
            path = explain_external(project, args.experiment, args.on, args.method, device, args.batch_size,
                                    progress=lambda m: print(m, file=sys.stderr, flush=True))
            print(path)
            return 0
        try:
            if args.queue:
                job_id = submit_explain(project, args.experiment, args.method, args.batch_size,
                                        args.priority, **options)
                print(f"queued explain job {job_id} ({args.method} on {args.experiment}); "
                      f"run it with: affengine worker {args.project}")
                return 0
            device = args.device
            if device == "auto":
                import torch

                device = "cuda:0" if torch.cuda.is_available() else "cpu"

            def show(event: dict) -> None:
                print(event["message"], file=sys.stderr, flush=True)

            result = explain_experiment(project, args.experiment, args.method, device,
                                        args.batch_size, progress=show,
                                        faithfulness=args.faithfulness, patch_mm=args.patch_mm,
                                        stride_mm=args.stride_mm, ig_steps=args.ig_steps)
            summary = roi_summary(project, args.experiment, args.method)
        except (KeyError, FileNotFoundError, ValueError) as exc:
            raise CliError(str(exc).strip("'\"")) from None
    for path in result.files:
        print(path)
    print(f"{result.method}: {result.images} images explained in {result.seconds:.1f} s")
    if summary["with_roi"]:
        print("\n".join(format_roi_summary(summary)))
    return 0


def _explain_images(project, args, ids: list[int]) -> int:
    """``--image``: the final model's maps of the named images (heatmaps on demand)."""
    from engine.final import explain_screened, submit_screen_heatmaps

    if args.queue:
        job_id = submit_screen_heatmaps(project, args.experiment, ids, args.method,
                                        priority=args.priority or 10)
        print(f"queued predict job {job_id} with {args.method} maps of {len(ids)} image(s); run it with: "
              f"affengine worker {args.project}")
        return 0
    from engine.cli._evaluate import auto_device

    path = explain_screened(project, args.experiment, ids, args.method, auto_device(args.device),
                            args.batch_size, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(path)
    return 0
