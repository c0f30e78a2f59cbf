"""Phantom learnability: a small CNN trained on a few hundred phantom images beats chance.

Generates a phantom study, imports it, makes a patient-grouped split, trains
resnet10t from scratch on every fold (CPU), pools the out-of-fold predictions
and prints the image- and patient-level AUC with DeLong 95% CIs. Ends with
``RESULT phantom_oof_auc_over_chance <AUC / 0.5>`` (patient level).

    python benchmarks/learnability_bench.py [--patients 150] [--epochs 12] [--folds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=150)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--size", type=int, default=128, help="training input size")
    ap.add_argument("--difficulty", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", help="keep the phantom and project here (default: a temp dir)")
    args = ap.parse_args()

    from engine.evaluate import aggregate_patients, delong_ci
    from engine.io import import_sources
    from engine.phantom import PhantomConfig, generate
    from engine.splits import create_split
    from engine.store import Project
    from engine.train import RunSpec, read_predictions, train_run

    root = Path(args.workdir or tempfile.mkdtemp(prefix="learnability-"))
    t0 = time.perf_counter()
    study = generate(root / "phantom", PhantomConfig(patients=args.patients, seed=args.seed,
                                                     height=640, width=512,
                                                     difficulty=args.difficulty))
    t1 = time.perf_counter()
    project = Project.create(root / "Bench")
    report = import_sources(project, [study.root], manifest=study.manifest)
    split = create_split(project, "bench", k=args.folds, seed=args.seed)
    t2 = time.perf_counter()
    print(f"phantom: {study.images} images, {args.patients} patients, "
          f"difficulty {args.difficulty} ({t1 - t0:.0f} s); import {report.added} ({t2 - t1:.0f} s)")

    preds = []
    for fold in range(args.folds):
        spec = RunSpec(project=str(project.path), split="bench", split_version=split.version,
                       fold=fold, model="resnet10t", pretrained=False, image_size=args.size,
                       epochs=args.epochs, batch_size=32, lr=2e-3, augment=0.5, device="cpu",
                       num_threads=args.threads, seed=args.seed)
        result = train_run(spec, project.runs_dir / f"fold{fold}")
        preds.append(read_predictions(result.predictions_path))
        print(f"fold {fold}: best epoch {result.best_epoch}, val AUC {result.best_val_auc:.3f}")
    t3 = time.perf_counter()
    labels = np.concatenate([p["label"] for p in preds])
    probs = np.concatenate([p["probability"] for p in preds])
    patients = np.concatenate([p["patient_id"] for p in preds]).astype(str)
    image = delong_ci(labels, probs)
    pat = aggregate_patients(patients, labels, probs, how="mean")
    patient = delong_ci(pat.labels, pat.scores)
    print(f"training: {args.folds} folds x {args.epochs} epochs at {args.size} px ({t3 - t2:.0f} s)")
    print(f"image-level OOF AUC {image.auc:.3f} (95% CI {image.ci_low:.3f}-{image.ci_high:.3f}), "
          f"n={len(labels)}")
    print(f"patient-level OOF AUC {patient.auc:.3f} (95% CI {patient.ci_low:.3f}-{patient.ci_high:.3f}), "
          f"n={len(pat.labels)}")
    print(f"RESULT phantom_oof_auc_over_chance {patient.auc / 0.5:.3f}")
    project.close()


if __name__ == "__main__":
    main()
