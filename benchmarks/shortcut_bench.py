"""Planted shortcut: the ROI occlusion test catches a site marker that a CNN learned instead of the fracture.

Two phantom studies with the same seed and ``confounds="none"`` (every real AFF/NFF
difference lies inside the fracture ROI): *clean* (no shortcut) and *shortcut*
(``shortcut="marker"``: a burned-in site marker on most AFF and few NFF images, its box in
the manifest and stored as a ``site_marker`` ROI row on import). For each, resnet10t is
trained from scratch with patient-grouped K-fold CV (the workbench's own split, worker
and trainer), then explained out of fold with occlusion, which also runs the ROI
occlusion test (``engine.explain._faith``): blank the ROI, and separately a same-size box
inside the bone away from it; reliance is the paired difference of the drops in P(true
class). The marker region gets the same test with its own control boxes. Prints::

    RESULT roi_reliance_clean <x>
    RESULT roi_reliance_shortcut <x>
    RESULT marker_reliance_shortcut <x>
    RESULT marker_energy_over_chance_shortcut <x>   (occlusion map mass in the marker box / its area)

    python benchmarks/shortcut_bench.py [--patients 120] [--epochs 40] [--batch 16] [--size 96] [--folds 2]

The defaults are chosen so that a from-scratch CNN on 2 CPU cores learns the cue it is
offered (docs/explain.md, "Planted shortcut", has the figures and the earlier, failed
settings): 120 patients with half of them AFF (``--aff-share 0.5``; at the phantom's 20%
and 40-60 patients a fold trained on ~70 images and memorised them, val AUC ~0.5), no
augmentation (a random resized crop cuts the corner marker out of some images, and the
phantom's variation is enough), 96 px (the marker is ~11 x 4 input pixels), the marker on
90% of AFF and 5% of NFF images (a shortcut is a cue that nearly always goes with the
label), difficulty 0 (the clearest fracture the phantom draws, so the clean model has
something to find in the ROI), and occlusion at 60 mm patch / stride (a 7 x 7 grid, the
cost that dominates), and 40 epochs at batch 16 (about 540 optimizer steps per fold:
with 10 epochs at batch 32, ~70 steps, the clean model did not learn the fracture, val AUC
~0.54, and its ROI reliance was at chance). Too slow for the suite
(tests/engine/test_explain_faithfulness.py checks the measures on toy models).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def run(condition: str, args, root: Path) -> dict:
    from engine.experiments import create_experiment
    from engine.explain import explain_experiment, load_experiment_heatmaps, reliance_summary
    from engine.explain._faith_store import input_boxes
    from engine.explain._measures import upsample
    from engine.io import import_sources
    from engine.jobs import Worker
    from engine.phantom import PhantomConfig, generate
    from engine.splits import create_split
    from engine.store import Project
    from engine.train import RunSpec

    t0 = time.perf_counter()
    config = PhantomConfig(patients=args.patients, seed=args.seed, height=640, width=512,
                           aff_share=args.aff_share, difficulty=args.difficulty, confounds=args.confounds,
                           shortcut="marker" if condition == "shortcut" else "none",
                           shortcut_aff_share=args.marker_aff, shortcut_nff_share=args.marker_nff)
    study = generate(root / condition / "phantom", config)
    with Project.create(root / condition / "Bench") as project:
        import_sources(project, [study.root], manifest=study.manifest)
        split = create_split(project, "bench", k=args.folds, seed=0)
        spec = RunSpec(project=str(project.path), split="bench", split_version=split.version, fold=0,
                       model=args.model, pretrained=False, image_size=args.size, epochs=args.epochs,
                       batch_size=args.batch, lr=args.lr, augment=args.augment, device="cpu",
                       num_threads=torch.get_num_threads(), seed=0)
        create_experiment(project, "cnn", spec)
        path = project.path
    t1 = time.perf_counter()
    Worker(path, device="cpu").run(exit_when_idle=True)
    t2 = time.perf_counter()
    with Project.open(path) as project:
        explain_experiment(project, "cnn", "occlusion", "cpu", batch_size=32, patch_mm=args.patch_mm,
                           stride_mm=args.stride_mm, deletion_steps=args.deletion_steps, faithfulness=True)
        rel = reliance_summary(project, "cnn", n_boot=1000)
        h = load_experiment_heatmaps(project, "cnn", "occlusion")
        size = int(h.info["input_size"])
        boxes = input_boxes(project, h.image_ids, size, markers=True)
        has = [b is not None for b in boxes]
        energy = ratio = float("nan")
        if any(has):
            up = upsample(h.maps[has].astype(np.float32), size)
            masks = np.zeros(up.shape, bool)
            for k, b in enumerate(b for b in boxes if b is not None):
                masks[k, b[1]:b[3], b[0]:b[2]] = True
            flat, m = up.reshape(len(up), -1), masks.reshape(len(up), -1)
            total = flat.sum(1)
            ok = total > 0
            energy = float(((flat * m).sum(1)[ok] / total[ok]).mean())
            ratio = energy / float(m.mean(1)[ok].mean())
    t3 = time.perf_counter()
    print(f"{condition}: {study.images} images, {args.patients} patients ({t1 - t0:.0f} s); training "
          f"{args.folds} folds x {args.epochs} epochs at {args.size} px ({t2 - t1:.0f} s); occlusion and "
          f"ROI occlusion test ({t3 - t2:.0f} s)", flush=True)
    for region, d in (rel or {"regions": {}})["regions"].items():
        r = d["reliance"]
        print(f"  {region}: reliance {r['mean']:+.3f} ({r['low']:+.3f} to {r['high']:+.3f}), n={r['n']}, "
              f"{d['verdict']}; drop {d['drop']['mean']:.3f} vs control {d['drop_control']['mean']:.3f}",
              flush=True)
    return {"rel": rel, "marker_energy": energy, "marker_ratio": ratio}


def _mean(res: dict, region: str) -> float:
    d = (res["rel"] or {"regions": {}})["regions"].get(region)
    return float("nan") if d is None else d["reliance"]["mean"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=120)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--difficulty", type=float, default=0.0)
    ap.add_argument("--confounds", choices=("none", "realistic"), default="none",
                    help="the phantom's confounds (none: every AFF/NFF difference lies inside the ROI)")
    ap.add_argument("--aff-share", type=float, default=0.5, help="AFF share of the patients")
    ap.add_argument("--marker-aff", type=float, default=0.9, help="share of AFF images with the marker")
    ap.add_argument("--marker-nff", type=float, default=0.05, help="share of NFF images with the marker")
    ap.add_argument("--model", default="resnet10t")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--augment", type=float, default=0.0)
    ap.add_argument("--patch-mm", type=float, default=60.0)
    ap.add_argument("--stride-mm", type=float, default=60.0)
    ap.add_argument("--deletion-steps", type=int, default=2, help="deletion/insertion steps (cost only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", help="keep the projects here (default: a temp dir)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="shortcut-bench-"))
    clean = run("clean", args, root)
    shortcut = run("shortcut", args, root)
    print(f"RESULT roi_reliance_clean {_mean(clean, 'roi'):.3f}")
    print(f"RESULT roi_reliance_shortcut {_mean(shortcut, 'roi'):.3f}")
    print(f"RESULT marker_reliance_shortcut {_mean(shortcut, 'marker'):.3f}")
    print(f"RESULT marker_energy_over_chance_shortcut {shortcut['marker_ratio']:.2f}")


if __name__ == "__main__":
    main()
