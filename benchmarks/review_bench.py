"""Label review: does the queue find labels we flipped on purpose?

Builds a temporary project of synthetic radiograph stand-ins (noise plus a horizontal bright
band for AFF, an oblique one for NFF; 20% AFF, several images per patient), flips a known
share of the image labels (default 5%), creates the split on the noisy labels, trains a small
CNN out of fold (K folds, a few epochs, CPU) and ranks the images with
``engine.evaluate.review_experiments``. Reports the precision at k = number flipped (the share
of the top-k queue that was flipped) against chance (the flip share, what a random queue
gets), and how many of the images confident learning flags were flipped::

    python benchmarks/review_bench.py [--patients 120 --per-patient 2 --k 3 --epochs 3]
    python benchmarks/review_bench.py --phantom --patients 150 --epochs 12 --size 128

Ends with ``RESULT review_precision_at_k <p>`` and ``RESULT review_precision_over_chance <ratio>``.
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


def band_image(aff: bool, rng: np.random.Generator, height: int = 96, width: int = 76) -> np.ndarray:
    img = rng.normal(60, 20, (height, width))
    yy, xx = np.mgrid[0:height, 0:width]
    centre = rng.uniform(0.35, 0.65) * height
    slope = 0.0 if aff else 0.9
    img[np.abs((yy - centre) - (xx - width / 2) * slope) < height * 0.06] += 140
    return np.clip(img, 0, 255).astype(np.uint8)


def build(path: Path, patients: int, per_patient: int, flip_share: float, k: int, seed: int):
    """A project whose stored labels have ``flip_share`` of the images flipped; returns the flipped ids."""
    from engine.splits import create_split
    from engine.store import ImageRecord, Project

    rng = np.random.default_rng(seed)
    with Project.create(path) as project:
        truth = {}
        with project.transaction() as conn:
            for p in range(patients):
                aff = p < round(patients * 0.2)
                for j in range(per_patient):
                    pixels = band_image(aff, rng)
                    sha = hashlib.sha256(pixels.tobytes() + f"{p}/{j}".encode()).hexdigest()
                    project.cache.write_full(sha, pixels)
                    rec = ImageRecord(path=f"/bench/P{p:04d}_{j}.png", source_folder="/bench", sha256=sha,
                                      bytes=pixels.size, format="png", width=pixels.shape[1],
                                      height=pixels.shape[0], patient_key=f"P{p:04d}",
                                      cache_height=pixels.shape[0], cache_width=pixels.shape[1])
                    truth[project.images.insert(conn, rec)] = "AFF" if aff else "NFF"
        ids = np.array(sorted(truth))
        flipped = rng.choice(ids, round(len(ids) * flip_share), replace=False)
        given = dict(truth)
        for i in flipped:
            given[int(i)] = "NFF" if truth[int(i)] == "AFF" else "AFF"
        project.labels.set_each(given, "bench", "cli")
        create_split(project, "default", k=k, seed=seed)
        return project.path, {int(i) for i in flipped}


def build_phantom(path: Path, patients: int, flip_share: float, k: int, seed: int):
    """The same on an ``engine.phantom`` study (640x512 DICOMs imported with their manifest)."""
    from engine.io import import_sources
    from engine.phantom import PhantomConfig, generate
    from engine.splits import create_split
    from engine.store import Project

    study = generate(path.parent / "phantom", PhantomConfig(patients=patients, seed=seed,
                                                            height=640, width=512))
    rng = np.random.default_rng(seed)
    with Project.create(path) as project:
        import_sources(project, [study.root], manifest=study.manifest)
        truth = project.labels.all()
        ids = np.array(sorted(truth))
        flipped = rng.choice(ids, round(len(ids) * flip_share), replace=False)
        project.labels.set_each({int(i): "NFF" if truth[int(i)] == "AFF" else "AFF" for i in flipped},
                                "bench", "cli")
        create_split(project, "default", k=k, seed=seed)
        return project.path, {int(i) for i in flipped}, len(ids)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=120)
    ap.add_argument("--per-patient", type=int, default=2)
    ap.add_argument("--flip-share", type=float, default=0.05)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--model", default="resnet10t")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--phantom", action="store_true",
                    help="use engine.phantom radiographs (--patients of them) instead of band images")
    args = ap.parse_args()

    from engine.evaluate import experiment_results, review_experiments
    from engine.experiments import create_experiment
    from engine.jobs import Worker
    from engine.store import Project
    from engine.train import RunSpec

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if args.phantom:
            path, flipped, n = build_phantom(Path(tmp) / "Review", args.patients, args.flip_share,
                                             args.k, args.seed)
        else:
            path, flipped = build(Path(tmp) / "Review", args.patients, args.per_patient,
                                  args.flip_share, args.k, args.seed)
            n = args.patients * args.per_patient
        print(f"{n} images, {args.patients} patients, {len(flipped)} labels flipped "
              f"({len(flipped) / n:.1%}); built in {time.perf_counter() - t0:.1f} s")
        spec = RunSpec(project=str(path), split="default", fold=0, model=args.model, pretrained=False,
                       image_size=args.size, epochs=args.epochs, batch_size=16, lr=2e-3, warmup_epochs=0.5,
                       augment=0.3, device="cpu", num_threads=args.threads, deterministic=True,
                       progress_every=50, seed=args.seed)
        with Project.open(path) as project:
            create_experiment(project, "cnn", spec)
        t1 = time.perf_counter()
        Worker(path, device="cpu").run(exit_when_idle=True)
        print(f"trained {args.k} folds x {args.epochs} epochs of {args.model} in "
              f"{time.perf_counter() - t1:.1f} s")
        with Project.open(path) as project:
            res = experiment_results(project, "cnn")
            queue = review_experiments(project, ["cnn"])
        print(f"out-of-fold image AUC against the noisy labels {res.image.auc.auc:.3f}")
        k = len(flipped)
        top = {it.image_id for it in queue.top(k)}
        hits = len(top & flipped)
        flagged = {it.image_id for it in queue.items if it.flagged}
        precision = hits / k
        chance = k / n
        print(f"top {k} of the queue: {hits} flipped (precision {precision:.3f}; "
              f"a random queue: {chance:.3f})")
        print(f"confident learning flags {len(flagged)} images, {len(flagged & flipped)} of them flipped "
              f"(recall {len(flagged & flipped) / k:.3f})")
        ranks = sorted(it.rank for it in queue.items if it.image_id in flipped)
        print(f"ranks of the flipped images: {ranks}")
        print(f"RESULT review_precision_at_k {precision:.3f}")
        print(f"RESULT review_precision_over_chance {precision / chance:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
