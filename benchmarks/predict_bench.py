"""Screening throughput: a final model (ensemble of K fold models) scoring unlabelled images.

Builds a temporary project of synthetic radiograph stand-ins (``--side`` px long side, as cached),
trains an experiment for one epoch on a small labelled part (the weights do not matter for speed),
makes the ensemble final model and runs ``engine.final.predict_images`` (the ``predict`` job's
code path: sized cache, batches, one transaction per chunk) over the unlabelled images twice:
cold (letterboxing fills the sized cache) and warm (the cache is there, as for any later screening).
The baseline, from the same run: the bare forward pass of the same ensemble over the same
letterboxed pixels, already in memory (no cache reads, no chunks, no database), i.e. what the
job path costs on top of the model itself.

RESULT lines: ``predict_images_per_s`` (warm), ``predict_images_per_s_cold``,
``predict_forward_images_per_s`` (the baseline) and ``predict_4300_seconds``: the warm time for
4,300 images (the seed cohort's size), measured with ``--images 4300``, else extrapolated from
the warm rate (the line before it says which). The images are synthetic stand-ins written
straight into the cache, not phantom DICOMs: the model's speed does not depend on what the
pixels show, and the benchmark then measures screening, not import.

    python benchmarks/predict_bench.py                                  # CPU, resnet10t, 128 px, 2 folds
    python benchmarks/predict_bench.py --images 64 --labelled 24 --side 128   # a quick check
    python benchmarks/predict_bench.py --device cuda --model resnet50 --size 224 --folds 5 \\
        --images 4300 --batch 256                                       # the issue's GPU row
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def picture(aff: bool, rng: np.random.Generator, side: int) -> np.ndarray:
    h, w = side, int(side * 0.8)
    img = rng.normal(60, 20, (h, w))
    yy, xx = np.mgrid[0:h, 0:w]
    centre = rng.uniform(0.35, 0.65) * h
    img[np.abs((yy - centre) - (xx - w / 2) * (0.0 if aff else 0.9)) < h * 0.06] += 140
    return np.clip(img, 0, 255).astype(np.uint8)


def build(path: Path, labelled: int, unlabelled: int, side: int, folds: int) -> Path:
    from engine.splits import create_split
    from engine.store import ImageRecord, Project

    rng = np.random.default_rng(0)
    with Project.create(path) as project:
        labels = {}
        with project.transaction() as conn:
            for k in range(labelled + unlabelled):
                aff = k % 3 == 0
                pixels = picture(aff, rng, side)
                sha = hashlib.sha256(pixels.tobytes() + str(k).encode()).hexdigest()
                project.cache.write_full(sha, pixels)
                image_id = project.images.insert(conn, ImageRecord(
                    path=f"/bench/{k:05d}.png", source_folder="/bench", sha256=sha, bytes=pixels.size,
                    format="png", width=pixels.shape[1], height=pixels.shape[0],
                    patient_key=f"P{k // 2:05d}", cache_height=pixels.shape[0], cache_width=pixels.shape[1]))
                if k < labelled:
                    labels[image_id] = "AFF" if aff else "NFF"
        project.labels.set_each(labels, "bench", "cli")
        create_split(project, "default", k=folds, seed=0)
        return project.path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=512, help="unlabelled images to screen")
    ap.add_argument("--labelled", type=int, default=48, help="labelled images the fold models train on")
    ap.add_argument("--side", type=int, default=512, help="long side of the cached images")
    ap.add_argument("--model", default="resnet10t")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from engine.experiments import create_experiment
    from engine.final import finalize, load_final_module, predict_images, predict_job_spec, score_pixels
    from engine.jobs import Worker
    from engine.store import Project
    from engine.train import RunSpec, prepare_images

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = build(Path(tmp) / "Bench", args.labelled, args.images, args.side, args.folds)
        spec = RunSpec(project=str(path), split="default", fold=0, model=args.model, pretrained=False,
                       image_size=args.size, epochs=1, batch_size=16, device=args.device,
                       num_threads=args.threads, checkpoint_every_s=0)
        with Project.open(path) as project:
            create_experiment(project, "bench", spec)
        Worker(path, device=args.device).run(exit_when_idle=True)
        with Project.open(path) as project:
            final = finalize(project, "bench")
            job = predict_job_spec(project, "bench", "unlabelled", batch_size=args.batch)
            print(f"project with {args.labelled + args.images} images, {args.folds} fold models of "
                  f"{args.model} trained ({time.perf_counter() - t0:.0f} s); final model {final.id}")
            rates = []
            for run in ("cold", "warm"):
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                t = time.perf_counter()
                state = predict_images(project, job, device=args.device)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - t
                assert state == "finished"
                rates.append(args.images / seconds)
                print(f"{run}: {args.images} images in {seconds:.2f} s = {rates[-1]:.1f} images/s "
                      f"({args.folds} members, {args.size} px, batch {args.batch}, {args.device})")
            warm_seconds = seconds
            # baseline: the same ensemble over the same letterboxed pixels, already in memory
            module = load_final_module(project, final, args.device)
            pixels = prepare_images(project, job["image_ids"], final.image_size, "cpu")
            score_pixels(module, pixels[:args.batch], args.batch)  # warm-up (kernels, allocator)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t = time.perf_counter()
            score_pixels(module, pixels, args.batch)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            forward = args.images / (time.perf_counter() - t)
            print(f"baseline: the bare forward pass over the same pixels in memory: {forward:.1f} images/s; "
                  f"the job path reaches {rates[1] / forward:.0%} of it")
    if args.images == 4300:
        print(f"4,300 images measured: {warm_seconds:.2f} s (warm)")
        seconds_4300 = warm_seconds
    else:
        seconds_4300 = 4300 / rates[1]
        print(f"4,300 images extrapolated from {args.images} at the warm rate: {seconds_4300:.1f} s")
    print(f"RESULT predict_images_per_s_cold {rates[0]:.1f}")
    print(f"RESULT predict_images_per_s {rates[1]:.1f}")
    print(f"RESULT predict_forward_images_per_s {forward:.1f}")
    print(f"RESULT predict_4300_seconds {seconds_4300:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
