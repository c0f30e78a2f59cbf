"""``affengine phantom``: write a synthetic AFF/NFF femur radiograph study (DICOM + manifest)."""

from __future__ import annotations

import os
import re
import sys
import time

from engine.cli._common import ProgressPrinter


def _size(text: str) -> tuple[int, int]:
    import argparse

    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 1024x820, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def add_parser(sub) -> None:
    p = sub.add_parser(
        "phantom", help="write a synthetic femur radiograph study (DICOM files + manifest.csv)",
        description="Write a synthetic AFF/NFF femur radiograph study: DICOM files under "
                    "OUT/dicom/<patient>/, optional 16-bit PNG copies and OUT/manifest.csv "
                    "with labels and fracture ROIs. The same seed gives the same study.")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--patients", type=int, required=True, metavar="N")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--aff-share", type=float, default=0.2, metavar="F",
                   help="share of AFF patients (default 0.2)")
    p.add_argument("--size", type=_size, default=None, metavar="HxW",
                   help="image size in pixels (default 2500x2000)")
    p.add_argument("--difficulty", type=float, default=0.5, metavar="D",
                   help="0 (obvious) .. 1 (subtle, noisy); default 0.5")
    p.add_argument("--confounds", choices=("realistic", "none"), default="realistic",
                   help="realistic (default): AFF and NFF also differ outside the fracture "
                        "ROI (displacement, level, swelling, cortex, bow), as clinically; "
                        "none: all label evidence lies inside the ROI")
    p.add_argument("--shortcut", choices=("none", "marker"), default="none",
                   help="marker: plant a burned-in site marker (top-left corner) on a share "
                        "of AFF and a smaller share of NFF images; the manifest records its "
                        "box (site_marker_x0..y1). Default none")
    p.add_argument("--shortcut-aff-share", type=float, default=0.8, metavar="F",
                   help="share of AFF images with the marker (default 0.8)")
    p.add_argument("--shortcut-nff-share", type=float, default=0.1, metavar="F",
                   help="share of NFF images with the marker (default 0.1)")
    p.add_argument("--png", action="store_true", help="also write 16-bit PNG copies")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: all CPUs)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a phantom study already in --out")
    p.set_defaults(func=run)


def run(args) -> int:
    from engine.cli._errors import CliError
    from engine.phantom import FULL_HEIGHT, FULL_WIDTH, PhantomConfig, PhantomError, generate

    height, width = args.size or (FULL_HEIGHT, FULL_WIDTH)
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    try:
        config = PhantomConfig(patients=args.patients, seed=args.seed, aff_share=args.aff_share,
                               height=height, width=width, difficulty=args.difficulty,
                               png=args.png, confounds=args.confounds,
                               shortcut=args.shortcut,
                               shortcut_aff_share=args.shortcut_aff_share,
                               shortcut_nff_share=args.shortcut_nff_share)
    except PhantomError as exc:
        raise CliError(str(exc)) from None
    workers = args.workers or os.cpu_count() or 1
    print(f"phantom: {config.patients} patients, {height}x{width}, seed {config.seed}, "
          f"confounds {config.confounds}, "
          f"{workers} worker(s) -> {args.out}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        study = generate(args.out, config, progress=ProgressPrinter("phantom"),
                         workers=workers, overwrite=args.overwrite)
    except PhantomError as exc:
        raise CliError(str(exc)) from None
    seconds = time.perf_counter() - t0
    print(f"wrote {study.images} images of {study.patients} patients "
          f"(AFF: {study.aff_share:.1%} of patients, {study.aff_image_share:.1%} of images) "
          f"in {seconds:.1f} s ({seconds / max(1, study.images):.3f} s/image)")
    if config.shortcut == "marker":
        print("site marker on " + ", ".join(
            f"{sum(r.site_marker_x0 is not None for r in rows)}/{len(rows)} {label} images"
            for label in ("AFF", "NFF") for rows in [[r for r in study.rows if r.label == label]]))
    print(f"manifest: {study.manifest}")
    return 0
