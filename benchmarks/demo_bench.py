"""The quick study preset's CNN arm on the demo phantom: patient AUC and minutes on this machine.

    python benchmarks/demo_bench.py [--patients 150] [--folds 2] [--threads 2] [--epochs E]

``--epochs`` overrides the quick preset's epochs (``affengine study create --epochs``), for
measuring a candidate default before changing it.

Builds the demo study (150 phantom patients with DICOM laterality, imported, a patient-grouped
2-fold split: every image is scored out of fold once, at half the training cost of 3 folds), queues
``affengine study create --preset cnn-vs-vit --quick`` (scratch arms; no weights offline), runs
the resnet10t arm's folds on a CPU worker and prints
``RESULT demo_patient_auc <auc>`` (pooled out-of-fold, patient level) and
``RESULT demo_minutes <m>`` (study build + training, wall clock).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=150)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None, help="default: the quick preset's")
    ap.add_argument("--workdir", help="keep the phantom and project here (default: a temp dir)")
    args = ap.parse_args()

    import os

    os.environ.setdefault("AFFWB_OFFLINE", "1")
    from engine.evaluate import load_repeated_predictions, repeated_summary
    from engine.experiments import create_study, get_experiment
    from engine.io import import_sources
    from engine.jobs import Worker
    from engine.phantom import PhantomConfig, generate
    from engine.splits import create_split
    from engine.store import Project

    root = Path(args.workdir or tempfile.mkdtemp(prefix="demo-bench-"))
    t0 = time.perf_counter()
    study = generate(root / "phantom", PhantomConfig(patients=args.patients, seed=args.seed,
                                                     height=640, width=512))
    with Project.create(root / "Demo") as project:
        import_sources(project, [study.root], manifest=study.manifest)
        create_split(project, "default", k=args.folds, seed=args.seed)
        names = create_study(project, "cnn-vs-vit", quick=True, drop_missing=True, device="cpu",
                             epochs=args.epochs)
        cnn = next(n for n in names if n.startswith("resnet10t"))
        exp_id = get_experiment(project, cnn).id
        path = project.path
    t1 = time.perf_counter()
    print(f"demo study: {study.images} images, {args.patients} patients, arms {', '.join(names)} "
          f"({t1 - t0:.0f} s)", flush=True)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    Worker(path, device="cpu", experiment_id=exp_id).run(exit_when_idle=True)
    t2 = time.perf_counter()
    with Project.open(path) as project:
        s = repeated_summary(load_repeated_predictions(project, cnn))
    print(f"{cnn}: {args.folds} folds in {t2 - t1:.0f} s; image AUC {s.image_mean:.3f}, "
          f"patient AUC {s.patient_mean:.3f}")
    print(f"RESULT demo_patient_auc {s.patient_mean:.3f}")
    print(f"RESULT demo_minutes {(t2 - t0) / 60:.2f}")


if __name__ == "__main__":
    main()
