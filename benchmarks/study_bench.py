"""The headline: the seed's CNN-vs-ViT study on one GPU, timed end to end.

Builds a project of ``--images`` synthetic radiographs (20% AFF, three images per patient) with a
K-fold patient-grouped split, then for each model trains ``--run-folds`` of the K folds with the
engine (``train_run``: data to the GPU, augmentation, validation every epoch, checkpoints,
predictions), and computes Grad-CAM (CNN) / Grad-CAM on the last block (ViT) heatmaps for *every*
image of the project with the trained model. Each fold's wall time is measured; the whole
study (K folds per model, plus out-of-fold heatmaps for every image) is projected from the
measured folds when fewer than K were run::

    python benchmarks/study_bench.py --device cuda --images 4300 --epochs 30 --run-folds 1

Prints one line per fold and per heatmap pass, and ends with
``RESULT study_minutes <m>`` (target <= 6 on one H100; projected when ``--run-folds`` < K),
``RESULT heatmaps_seconds_<model> <s>`` (target < 30 s for 4,300 maps) and
``RESULT overhead_share_<model> <fraction>``: the share of a fold's wall time that is not a
steady training step (metrics.json ``overhead``, mean over the folds run; target <= 0.05),
with the parts (warm-up, validation, checkpoints, data, events, outputs) on the line before.
With ``--peak-tflops``, ``RESULT mfu_<model>[_compile]``: model FLOP utilisation of the
training steps, 3 x forward FLOPs x the median per-epoch training img/s of epochs 2 on (epoch 1
holds the compile warm-up). ``--batch auto`` takes the model's throughput batch
(``engine.train.throughput_spec``) with its lr moved by ``--lr-scaling``; ``--compile`` times
torch.compile (its warm-up in the fold).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--models", default="resnet50,vit_base_patch16_224")
    ap.add_argument("--images", type=int, default=4300)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--run-folds", type=int, default=1, help="folds actually trained per model")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", default="128", help="images per step, or 'auto' (throughput batch)")
    ap.add_argument("--lr-scaling", choices=("linear", "sqrt"), default="linear")
    ap.add_argument("--heatmap-batch", type=int, default=128)
    ap.add_argument("--png-side", type=int, default=1024)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-backend", default="inductor")
    ap.add_argument("--cuda-graphs", action="store_true")
    ap.add_argument("--checkpoint-every", type=float, default=60.0)
    ap.add_argument("--peak-tflops", type=float,
                    help="device peak TFLOP/s: also RESULT mfu_<model>[_compile] of the training steps")
    ap.add_argument("--keep", help="build the data in this folder and keep it")
    args = ap.parse_args(argv)

    import numpy as np
    from train_bench import build_data

    from engine.splits import create_split
    from engine.store import Project
    from engine.train import (
        RunSpec,
        load_fold,
        load_run_model,
        prepare_images,
        resolve,
        throughput_spec,
        train_run,
    )

    root = Path(args.keep or tempfile.mkdtemp(prefix="study_bench_"))
    t0 = time.perf_counter()
    project_path, _ = build_data(root, args.images, args.png_side)
    if args.k != 5:
        with Project.open(project_path) as project:
            create_split(project, "bench", k=args.k, seed=0)
    print(f"data: {args.images} images built in {time.perf_counter() - t0:.1f} s (not counted: "
          "import happens once per project)")
    with Project.open(project_path) as project:
        all_ids = [r.id for r in project.images.list(order="id")]

    total_projected = 0.0
    for model in args.models.split(","):
        fold_seconds, overheads = [], []
        for fold in range(min(args.run_folds, args.k)):
            spec = RunSpec(project=str(project_path), split="bench", fold=fold, model=model,
                           pretrained=False, image_size=args.size, epochs=args.epochs,
                           batch_size=32 if args.batch == "auto" else int(args.batch), lr=3e-4,
                           precision=args.precision, device=args.device, compile=args.compile,
                           compile_backend=args.compile_backend, cuda_graphs=args.cuda_graphs,
                           checkpoint_every_s=args.checkpoint_every, progress_every=50)
            if args.batch == "auto":
                with Project.open(project_path) as project:
                    n_train = len(load_fold(project, spec).train_ids)
                spec = throughput_spec(spec, args.lr_scaling, n_train=n_train)
            if fold == 0:
                r = resolve(spec)
                print(f"{model}: device {r.device_name}, precision {r.precision}, "
                      f"channels_last {r.channels_last}, compile {r.compile} ({r.compile_backend}), "
                      f"cuda_graphs {r.cuda_graphs}, fused AdamW {r.fused_optimizer}, "
                      f"batch {spec.batch_size}, "
                      f"lr {spec.lr:.3g}" + (f" [{spec.lr_scaling}]" if spec.lr_scaling else ""))
            run_dir = root / f"{model}-f{fold}"
            t = time.perf_counter()
            result = train_run(spec, run_dir)
            seconds = time.perf_counter() - t
            fold_seconds.append(seconds)
            m = json.loads(result.metrics_path.read_text())
            last = m["history"][-1]
            overheads.append(m["overhead"])
            if args.peak_tflops and fold == 0:
                later = [h["train_images_per_s"] for h in m["history"][1:]] or \
                    [m["history"][0]["train_images_per_s"]]
                rate = float(np.median(later))
                mfu = 3 * m["compute"]["forward_flops"] * rate / (args.peak_tflops * 1e12)
                print(f"{model}: {rate:.0f} training img/s (median of epochs 2+), "
                      f"{m['compute']['forward_gflops']:.2f} forward GFLOPs/image, MFU {mfu:.3f} "
                      f"(peak {args.peak_tflops:g} TFLOP/s)")
                print(f"RESULT mfu_{model}{'_compile' if args.compile else ''} {mfu:.3f}")
            parts = ", ".join(f"{k} {v:.1f}" for k, v in m["overhead"]["parts_s"].items())
            print(f"{model} fold {fold} wall {m['overhead']['wall_s']:.1f} s: {parts} (s); "
                  f"overhead share {m['overhead']['overhead_share']:.3f}")
            print(f"{model} fold {fold}: {args.epochs} epochs, {m['data']['train_images']} train / "
                  f"{m['data']['val_images']} val images in {seconds:.1f} s "
                  f"(val AUC {last.get('val_auc', float('nan')):.3f})")

        import torch

        from engine.explain import explain_batches

        net, info = load_run_model(root / f"{model}-f0", "best", args.device)
        with Project.open(project_path) as project:
            t = time.perf_counter()
            pixels = prepare_images(project, all_ids, int(info["image_size"]), args.device)
            explain_batches(net, model, pixels[:args.heatmap_batch], info["mean"], info["std"],
                            "gradcam", args.heatmap_batch)  # warm-up
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t = time.perf_counter()
            maps, _ = explain_batches(net, model, pixels, info["mean"], info["std"], "gradcam",
                                      args.heatmap_batch)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            heat_s = time.perf_counter() - t
        print(f"{model} heatmaps: {len(maps)} Grad-CAM maps {tuple(maps.shape[1:])} in {heat_s:.1f} s "
              f"({len(maps) / heat_s:.0f} maps/s)")
        print(f"RESULT heatmaps_seconds_{model} {heat_s:.1f}")
        share = float(np.mean([o["overhead_share"] for o in overheads]))
        print(f"RESULT overhead_share_{model} {share:.3f}")
        del net, pixels
        per_fold = float(np.mean(fold_seconds))
        projected = per_fold * args.k + heat_s
        total_projected += projected
        print(f"{model}: {per_fold:.1f} s per fold -> {args.k} folds + heatmaps {projected:.1f} s"
              + (" (projected from the measured folds)" if args.run_folds < args.k else ""))
    print(f"RESULT study_minutes {total_projected / 60:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
