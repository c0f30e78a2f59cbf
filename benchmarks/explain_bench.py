"""Batched heatmaps (engine.explain) against pytorch-grad-cam called one image at a time.

Same model, same method, same images; the baseline is the usual per-image use of
pytorch-grad-cam (one CAM object, one call per image, maps resized to the input).
Prints ``RESULT explain_batched_vs_single <ratio>`` (maps/s batched / maps/s single)::

    python benchmarks/explain_bench.py --model resnet50 --method gradcam --images 32 --batch-size 16

``--method occlusion`` or ``ig`` times engine.explain's batched Captum call against Captum
one image at a time and prints ``RESULT explain_occlusion_batched_vs_single`` (or ``_ig_``)::

    python benchmarks/explain_bench.py --model resnet10t --size 64 --method occlusion --images 8

``--phantom`` instead trains ``--phantom-model`` (default resnet10t) from scratch on a
phantom study (K folds), explains every image out of fold, does the same with randomised
weights, and prints ROI energy and pointing game of both against chance, ending with
``RESULT explain_phantom_energy_over_chance``::

    python benchmarks/explain_bench.py --phantom --patients 150 --folds 2 --epochs 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _images(n: int, size: int) -> torch.Tensor:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        img = rng.normal(0.15, 0.04, (size, size))
        shaft = np.abs((xx - 0.5) - (yy - rng.uniform(0.3, 0.7)) * 0.3) < 0.12
        img[shaft] += 0.6
        out.append((np.clip(img, 0, 1) - 0.3) / 0.3)
    return torch.tensor(np.stack(out)[:, None], dtype=torch.float32)


def phantom(args) -> None:
    import tempfile
    from pathlib import Path

    from engine.experiments import create_experiment
    from engine.explain import (
        explain_experiment,
        load_experiment_heatmaps,
        paired_wilcoxon,
        roi_scores,
        sanity_check_experiment,
    )
    from engine.io import import_sources
    from engine.jobs import Worker
    from engine.phantom import PhantomConfig, generate
    from engine.splits import create_split
    from engine.store import Project
    from engine.train import RunSpec

    root = Path(args.workdir or tempfile.mkdtemp(prefix="explain-phantom-"))
    t0 = time.perf_counter()
    study = generate(root / "phantom", PhantomConfig(patients=args.patients, seed=0, height=640,
                                                     width=512, difficulty=args.difficulty))
    with Project.create(root / "Bench") as project:
        import_sources(project, [study.root], manifest=study.manifest)
        split = create_split(project, "bench", k=args.folds, seed=0)
        spec = RunSpec(project=str(project.path), split="bench", split_version=split.version, fold=0,
                       model=args.phantom_model, pretrained=False, image_size=args.size,
                       epochs=args.epochs, batch_size=32, lr=2e-3, augment=0.5, device="cpu",
                       num_threads=torch.get_num_threads(), seed=0)
        create_experiment(project, "cnn", spec)
        path = project.path
    t1 = time.perf_counter()
    Worker(path, device="cpu").run(exit_when_idle=True)
    t2 = time.perf_counter()
    print(f"model {args.phantom_model}, method {args.method}")
    print(f"phantom: {study.images} images, {args.patients} patients ({t1 - t0:.0f} s); "
          f"training {args.folds} folds x {args.epochs} epochs at {args.size} px ({t2 - t1:.0f} s)")
    with Project.open(path) as project:
        explain_experiment(project, "cnn", args.method, "cpu", batch_size=32)
        trained = load_experiment_heatmaps(project, "cnn", args.method)
        sanity = sanity_check_experiment(project, "cnn", args.method, "cpu", batch_size=32)
        st = roi_scores(project, trained, source="import")
        sr = roi_scores(project, sanity.randomised, source="import")
    for name, s in (("trained", st), ("randomised", sr)):
        summ = s.summary()
        for group in ("all", "AFF", "NFF"):
            e, h, c = (summ[group][k] for k in ("energy", "hit", "chance"))
            print(f"{name:>10} {group:>3} n={e.n}: ROI energy {e.mean:.3f} ({e.low:.3f}-{e.high:.3f}), "
                  f"pointing {h.mean:.3f} ({h.low:.3f}-{h.high:.3f}), chance {c.mean:.3f}")
    print("trained vs randomised maps:", ", ".join(
        f"{k} {v.mean:.3f} ({v.low:.3f}-{v.high:.3f})" for k, v in sanity.summary.items()))
    test = paired_wilcoxon(st.energy, sr.energy)
    print(f"ROI energy trained - randomised: median {test.median_difference:.3f}, "
          f"Wilcoxon p={test.p_value:.2g}, n={test.n}")
    chance = float(np.nanmean(st.chance))
    print(f"RESULT explain_phantom_energy_over_chance {np.nanmean(st.energy) / chance:.2f}")
    print(f"RESULT explain_phantom_random_energy_over_chance {np.nanmean(sr.energy) / chance:.2f}")


def attribution_rows(model, x: torch.Tensor, args) -> None:
    """Occlusion / IG: engine.explain's batched Captum call against Captum one image at a time.

    The single baseline is Captum's usual per-image use (one ``attribute`` call per image,
    one window per forward for occlusion); the batched path puts ``perturbations_per_eval``
    windows of every image of a batch, or all IG steps of a batch, through one call.
    """
    from captum.attr import IntegratedGradients, Occlusion

    from engine.explain import AttributionOptions, LogOdds, attribution_maps

    size = int(x.shape[-1])
    options = AttributionOptions(patch_mm=args.patch_px, stride_mm=args.stride_px, mm_per_pixel=1.0,
                                 ig_steps=args.ig_steps)
    patch, stride = options.patch_stride_px(size)
    wrapped = LogOdds(model).eval()

    def single() -> None:
        for i in range(len(x)):
            xi = x[i:i + 1]
            target = int(model(xi).argmax(1))
            if args.method == "occlusion":
                with torch.no_grad():
                    Occlusion(wrapped).attribute(xi, sliding_window_shapes=(1, patch, patch),
                                                 strides=(1, stride, stride), baselines=0.0, target=target)
            else:
                IntegratedGradients(wrapped).attribute(xi.clone().requires_grad_(True), baselines=0 * xi,
                                                       target=target, n_steps=args.ig_steps)

    def batched() -> None:
        for start in range(0, len(x), args.batch_size):
            attribution_maps(model, x[start:start + args.batch_size], args.method, options)

    attribution_maps(model, x[:2], args.method, options)  # warm-up
    times = {}
    for name, fn in (("single", single), ("batched", batched)):
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        times[name] = best
    rate = {k: len(x) / v for k, v in times.items()}
    print(f"model {args.model} ({size} px), method {args.method}, {len(x)} images, batch {args.batch_size}, "
          f"patch {patch} px, stride {stride} px (grid {options.grid(size)}), ig steps {args.ig_steps}, "
          f"{torch.get_num_threads()} threads")
    print(f"single  (Captum, one image per call): {rate['single']:.2f} maps/s")
    print(f"batched (engine.explain):             {rate['batched']:.2f} maps/s")
    print(f"RESULT explain_{args.method}_batched_vs_single {rate['batched'] / rate['single']:.2f}")


def main() -> None:
    from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM

    from engine.explain import LogOddsTarget, cam_maps, reshape_transform, target_layer_of
    from engine.models import create_model, get_entry

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--method", default="gradcam")
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--size", type=int, help="input size (default: the registry's)")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--repeats", type=int, default=2, help="timed repeats; the best is kept")
    ap.add_argument("--patch-px", type=float, default=16, help="occlusion patch side in input px")
    ap.add_argument("--stride-px", type=float, default=16, help="occlusion stride in input px")
    ap.add_argument("--ig-steps", type=int, default=16)
    ap.add_argument("--phantom", action="store_true", help="trained vs random maps on a phantom")
    ap.add_argument("--phantom-model", default="resnet10t")
    ap.add_argument("--patients", type=int, default=150)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--difficulty", type=float, default=0.5)
    ap.add_argument("--workdir", help="keep the phantom project here (default: a temp dir)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.phantom:
        args.size = args.size or 128
        return phantom(args)
    entry = get_entry(args.model)
    size = args.size or entry.input_size
    torch.manual_seed(0)
    model = create_model(args.model, img_size=size).eval()
    x = _images(args.images, size)
    if args.method in ("occlusion", "ig"):
        return attribution_rows(model, x, args)
    cls = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM,
           "eigencam": EigenCAM}[args.method]
    layer, reshape = target_layer_of(model, args.model)

    def single() -> None:
        with cls(model=model, target_layers=[layer],
                 reshape_transform=reshape_transform(model, reshape)) as cam:
            for i in range(len(x)):
                cam(input_tensor=x[i:i + 1], targets=[LogOddsTarget()])

    def batched() -> None:
        cam_maps(model, args.model, x, args.method, batch_size=args.batch_size)

    cam_maps(model, args.model, x[:2], args.method)  # warm-up (allocator, first-call overheads)
    times = {}
    for name, fn in (("single", single), ("batched", batched)):
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        times[name] = best
    rate = {k: args.images / v for k, v in times.items()}
    print(f"model {args.model} ({size} px), method {args.method}, {args.images} images, "
          f"batch {args.batch_size}, {torch.get_num_threads()} threads")
    print(f"single  (pytorch-grad-cam, one image per call): {rate['single']:.2f} maps/s")
    print(f"batched (engine.explain.cam_maps):               {rate['batched']:.2f} maps/s")
    print(f"RESULT explain_batched_vs_single {rate['batched'] / rate['single']:.2f}")


if __name__ == "__main__":
    main()
